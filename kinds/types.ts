import type { Settings } from "../core/settings";
import type { RegistryKind } from "../core/tiers";
import type { KeptKind } from "../core/kept";
import type { Customer } from "../customers/types";

/** A provider's rule for one name a customer id turns into. */
interface NameRule<N> {
  provider: string;
  name(n: N): string;
  test(value: string): boolean;
  rule: string;
}

/** How the customer a resource belongs to is read from its name: one input, one pattern with the id as its group. */
interface OwnerRule {
  type: string;
  input: string;
  /** A regular expression's source for a repository prefix `p` (escaped). */
  pattern: (p: string) => string;
}

type Props = Record<string, unknown>;

/** Every Kubernetes object: another name or namespace is another object (a create-only field pair). */
export const K8S_META = ["metadata.name", "metadata.namespace"];

/**
 * The shapes of grant the confinement rules know how to read (policy/rules/confinement.ts):
 * - iam-policy: an IAM policy document in input `policy`, reaching ECR repository ARNs;
 * - repository-actions: ACR scope-map actions, `repositories/<path>/<content|metadata>/<verb>`;
 * - scope-map-binding: an ACR token bound by `scopeMapId` to a scope map;
 * - repository-member: a `role` given to a `member` on one Artifact Registry `repository`;
 * - account-member: a `role` given to a `member` on one service account;
 * - account-key: a key of one service account (confined by its name);
 * - team-access: a GitHub team's `permission` on one `repository`;
 * - team-membership: a GitHub login (`username`) in a team (`teamId`).
 */
type GrantShape =
  "iam-policy" | "repository-actions" | "scope-map-binding" | "repository-member" | "account-member" | "account-key" | "team-access" | "team-membership";

/** One limit measured: what, how much is used, the limit, what to do about it. */
export interface Measure {
  what: string;
  used: number;
  limit: number;
  advice: string;
}

/** A per-customer resource counted against a limit of the shared account, registry or project. */
export interface Quota {
  type: string;
  /** How many of them one customer holds. */
  per(c: Customer): number;
  /** The limit these settings put on the whole count, or undefined where the settings hold none. */
  limit(s: Settings): Omit<Measure, "used"> | undefined;
}

/**
 * What the layers around a kind ask of one resource type it declares: the policy pack, the
 * offline plan and its fake cloud, the renderer, the kept list. Unset facets do not apply.
 */
export interface ResourceFacts {
  /** The Pulumi type token. */
  type: string;
  /** A customer's (the tier and status rules judge it) or the kind's part of the platform. */
  of: "customer" | "platform";
  /** How `intake plan` lists one (default: its Kubernetes or `name` input, else its logical name). */
  display?(inputs: Props, name: string): string;
  /** A credential or grant: an offboarded customer keeps none. */
  credential?: boolean;
  /** Whether a suspended customer's credential reads as disabled (a grant that cannot be disabled: never). */
  disabled?(props: Props): boolean;
  /** Properties that hold a credential: only ever secrets. */
  secrets?: string[];
  /** Of those, the outputs the cloud produces, which must be declared secret before they exist. */
  secretOutputs?: string[];
  /** Inputs whose change makes the provider replace it (create-only fields); a dotted path names a field inside one. */
  replaceOn?: string[];
  /** Left in the cloud when it leaves the program: the kept list's prefix for its cloud id (core/kept.ts). */
  kept?: KeptKind;
  /** Why it would take images with it when deleted, or undefined when it is kept (`kept`: retainOnDelete or protect; `unknown`: the source cannot tell). */
  retention?(r: { props: Props; name: string; kept: boolean; unknown: boolean }): string | undefined;
  /** A repository: holds a customer's images. */
  repository?: boolean;
  /** A repository named by the customer's path (`<prefix>/<id>/…`): that path. */
  path?(props: Props): unknown;
  /** A repository, or a grant on one, named `<prefix>-<id>[--<product>]`: that repository's name. */
  ownRepository?(props: Props): unknown;
  /** The shape of grant it is. */
  grant?: GrantShape;
  /** The roles a grant of this type may give. */
  roles?: string[];
  /** The input its labels are under (GitHub: topics). */
  labels?: "tags" | "labels" | "topics";
  /** Whether it scans images on push. */
  scansOnPush?(props: Props): boolean;
  /** What lets a versioned tag move, as a prod stack's finding; undefined when none can. */
  movingTags?(props: Props): string | undefined;
  /** How its images are cleaned up: by another resource naming it, or by its own inputs; `missing` says what is absent. */
  cleanup?: { missing: string } & ({ by: { type: string; input: string; names: string }; has?: never } | { has(props: Props): boolean; by?: never });
  /** Limits one resource of this type can reach, measured (`check` warns near one) or as a finished warning. */
  warnings?(inputs: Props, check: (m: Measure) => string[]): string[];
  /** The cloud's "create" is a put: it overwrites rather than refusing a second one. */
  put?: boolean;
  /** The cloud chooses its id at create: one left behind is never a name clash. */
  cloudNamed?: boolean;
}

/**
 * Everything about one registry kind that needs no Pulumi SDK and no cloud SDK: the names a
 * customer id turns into and the rules they must follow, where the registry is and where a
 * customer's images go, how a declared resource names its customer, every resource type it
 * declares and what is asked of each, its limits, and what a missing cloud credential looks like.
 * The program, the policy pack, the runtime and the offline plan all ask here; the kind's
 * component (`component.ts`), fake cloud (`fake.ts`) and minting (`mint.ts`) sit beside it.
 */
export interface KindFacts<N extends object> {
  kind: RegistryKind;
  /** Every name of this kind for customer `id` under the repository prefix `p`. */
  names(id: string, p: string): N;
  nameRules: NameRule<N>[];
  /** The registry's host, from the stack's settings (refused when the kind's settings are missing). */
  host(s: Settings): string;
  /** The path on the host under which all of one customer's repositories live, ending in `/`. */
  path(n: N, s: Settings): string;
  /**
   * With a product catalogue: the path under which one product's repositories live, ending in
   * `/`; default `<path><product>/` (a kind that isolates by repository, not path, names its own).
   */
  productPath?(n: N, s: Settings, product: string): string;
  /** Every resource type the kind declares, a customer's or its platform part's. */
  resources: ResourceFacts[];
  /** Per-customer resources the shared account, registry or project holds, against its limits. */
  quotas?: Quota[];
  /** Limits the kind's platform resources together can reach, measured. */
  platformWarnings?(resources: { type: string; inputs: Props }[], s: Settings, check: (m: Measure) => string[]): string[];
  /** The kind's provider config keys that hold credentials (a stack file must hold them as secrets). */
  providerSecrets?: string[];
  /** Of those, the ones whose name says whose they are. */
  owners: OwnerRule[];
  /**
   * Whether the customer's credential may delete a manifest, and why (`intake verify --write`
   * holds the registry to it: a deletion the credential should not manage is a failed check).
   */
  deletes(c: Customer): { may: boolean; why: string };
  /** The kind's cloud SDK saying it found no credentials, and what to set. */
  noCredentials?: { is: (e: Error) => boolean; fix: string };
}

/** A kind's settings, or a one-line refusal naming the missing key. */
export function need<T>(v: T | undefined, key: string): T {
  if (!v) throw new Error(`settings.${key} is required for this registry kind`);
  return v;
}
