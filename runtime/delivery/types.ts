// The shapes of a delivery: what is asked (DeliveryRequest), what each target gets (TargetResult),
// and the working shapes the steps hand each other.
import type { RegistryKind } from "../../core/tiers";
import type { ImageReference } from "../../core/reference";
import type { CopyTool } from "./copy";
import type { Manifest } from "../registry/manifests";
import type { RegistryCredential } from "../registry/auth";
import type { RetryPolicy } from "./retry";
import type { AttachedArtifact, AttachedResult } from "./attached";
import type { SignatureKey } from "./signature";

type TargetStatus = "delivered" | "cached" | "denied" | "failed";

export interface TargetResult {
  customer: string;
  kind: RegistryKind;
  /** `registry/repository:version`, or the customer's namespace when denied before one was made. */
  target: string;
  status: TargetStatus;
  /** The manifest digest the versioned tag holds (delivered, cached). */
  digest?: string;
  seconds: number;
  /** Bytes this target's delivery sent to its registry, as far as the runtime knows (see docs/guides/delivery.md). */
  bytes: number;
  /** Tries of the step that settled the result. */
  attempts: number;
  /** How the image arrived: a tool copy from the source, or blob mounts from another customer's copy. */
  via?: "copy" | "mount";
  /** Extra tags written or moved by this run (`latest`, `<version>-<arch>`). */
  tags: string[];
  /**
   * Extra tags the registry would not let move (its tags are immutable: see
   * DeliveryRequest.immutableTags), left naming the digest they held.
   */
  kept?: { tag: string; digest: string }[];
  /** The build's signatures, attestations, SBOMs and other referrers, as this target holds them now (delivered, cached). */
  attached?: AttachedResult[];
  reason?: string;
}

/** One registry credential and the customers' targets it reaches: a mount domain. */
export interface CredentialGroup {
  registry: string;
  credential?: RegistryCredential;
  customers: string[];
  /**
   * Where the user gave the credential (an environment variable): a token endpoint that refuses
   * it is the user's to fix, found before anything is written (InvalidInput, exit 2).
   */
  given?: string;
  /**
   * Where the provider's own API is cheaper than a HEAD per tag (ECR DescribeImages): every tag
   * of a repository with its digest in one call. Used for the cache check and the extra tags;
   * a versioned tag just written is still read back through the registry API.
   */
  tagLookup?: (repository: string) => Promise<Map<string, string>>;
}

/** Customers for whom no credential could be had (each reported failed with the reason). */
export interface CredentialFailure {
  customers: string[];
  reason: string;
}

export type DeliveryEvent =
  | { type: "source"; digest: string; bytes: number; platforms: string[]; attached: AttachedArtifact["kind"][]; signedBy?: string }
  | { type: "start"; customer: string; kind: RegistryKind; target: string; step: "check" | "copy" | "mount" | "tags" }
  | { type: "retry"; customer: string; kind: RegistryKind; attempt: number; delayMs: number; reason: string }
  | { type: "done"; result: TargetResult };

export interface DeliveryPlanTarget {
  customer: string;
  kind: RegistryKind;
}

export interface DeliveryRequest {
  source: ImageReference;
  sourceCredential?: RegistryCredential;
  build: string;
  version: string;
  targets: DeliveryPlanTarget[];
  /** May this customer receive on this kind today? A reason when not. */
  access: (customer: string, kind: RegistryKind) => { allowed: true } | { allowed: false; reason: string };
  /** `host/path/` of the customer's namespace on the kind. */
  namespace: (customer: string, kind: RegistryKind) => string;
  /** Credentials for the allowed targets of one kind, grouped by what each reaches. */
  credentials: (kind: RegistryKind, customers: string[]) => Promise<(CredentialGroup | CredentialFailure)[]>;
  tool: CopyTool;
  /**
   * Whether a kind's repositories refuse to move a tag once written (Artifact Registry with
   * gar.immutableTags; ECR's immutable repositories let `latest` and cosign's `sha256-*` tags move).
   * There a tag that already names another digest (`latest` of an earlier version, a cosign tag
   * of earlier signatures) is left as it is and reported, not written: the registry would refuse it.
   */
  immutableTags?: (kind: RegistryKind) => boolean;
  /** Move `latest` (default true) and write `<version>-<arch>` tags (default true). */
  latest?: boolean;
  archTags?: boolean;
  /** Carry the build's signatures, attestations, SBOMs and referrers into every target (default true). */
  attached?: boolean;
  /** Deliver only a source digest that carries a cosign signature valid for this key (else Failed, exit 4, nothing delivered). */
  requireSignature?: SignatureKey;
  /** Registry operations in flight at once, over all targets (default 4). */
  concurrency?: number;
  retry?: RetryPolicy;
  onEvent?: (e: DeliveryEvent) => void;
  /** For tests: the HTTP client of each credential. */
  fetchImpl?: typeof fetch;
}

export interface SourceImage {
  digest: string;
  root: Manifest;
  /** Child manifests of an index, by digest, with their tag suffix. */
  children: { manifest: Manifest; suffix?: string }[];
  /** Every blob (config and layers) once, and their total with the manifests. */
  blobs: { digest: string; size: number }[];
  bytes: number;
  /** `<version>-<suffix>` tags: the suffix and the manifest it names. */
  platformTags: { suffix: string; manifest: Manifest }[];
}

export interface Target extends DeliveryPlanTarget {
  ref: ImageReference;
  repository: string;
  host: string;
  /** Its registry never moves a tag once written (DeliveryRequest.immutableTags). */
  fixedTags: boolean;
}

/** The most tries any one registry request of a step took. */
export interface Tries {
  n: number;
}

/** What placing the attached artifacts into a target sent, and the result field it fills. */
export interface Placed {
  bytes: number;
  attached: { attached?: AttachedResult[] };
}

/** What a copy or a mount sent, and its most tries of one step. */
export interface Got {
  bytes: number;
  attempts: number;
}

/** Tags and their digests (undefined: absent); `complete` when a tag not listed is known absent (a provider's tag lookup). */
export interface TagState {
  tags: Map<string, string | undefined>;
  complete: boolean;
}

export interface ExtraTag {
  tag: string;
  manifest: Manifest;
  /** `latest`: written after the others. */
  last?: boolean;
}
