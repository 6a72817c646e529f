import pLimit from "p-limit";
import type { RegistryKind } from "../../core/tiers";
import { copyImage, type CopyTool } from "./copy";
import { manifestParts, RegistryClient, RegistryError, type Manifest, type RegistryCredential } from "./manifest";
import { formatReference, parseReference, ImageReferenceError, type ImageReference } from "../../core/reference";
import { attemptsOf, DEFAULT_RETRY, errorText, withRetry, type RetryPolicy } from "./retry";
import { InvalidInput } from "../../core/errors";

export type TargetStatus = "delivered" | "cached" | "denied" | "failed";

export interface TargetResult {
  customer: string;
  kind: RegistryKind;
  /** `registry/repository:version`, or the customer's namespace when denied before one was made. */
  target: string;
  status: TargetStatus;
  /** The manifest digest the versioned tag holds (delivered, cached). */
  digest?: string;
  seconds: number;
  /** Bytes this target's delivery sent to its registry, as far as the runtime knows (see README). */
  bytes: number;
  /** Tries of the step that settled the result. */
  attempts: number;
  /** How the image arrived: a tool copy from the source, or blob mounts from another customer's copy. */
  via?: "copy" | "mount";
  /** Extra tags written or moved by this run (`latest`, `<version>-<arch>`). */
  tags: string[];
  reason?: string;
}

/** One registry credential and the customers' targets it reaches: a mount domain. */
export interface CredentialGroup {
  registry: string;
  credential?: RegistryCredential;
  customers: string[];
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
  | { type: "source"; digest: string; bytes: number; platforms: string[] }
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
  /** Move `latest` (default true) and write `<version>-<arch>` tags (default true). */
  latest?: boolean;
  archTags?: boolean;
  /** Registry operations in flight at once, over all targets (default 4). */
  concurrency?: number;
  retry?: RetryPolicy;
  onEvent?: (e: DeliveryEvent) => void;
  /** For tests: the HTTP client of each credential. */
  fetchImpl?: typeof fetch;
}

interface SourceImage {
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

interface Target extends DeliveryPlanTarget {
  ref: ImageReference;
  repository: string;
  host: string;
}

/** The tag suffix of a platform: `amd64`, `arm64`, `armv7`, `windows-amd64`; none for attestations. */
export function platformSuffix(p?: { architecture: string; os: string; variant?: string }): string | undefined {
  if (!p || p.architecture === "unknown" || p.os === "unknown") return undefined;
  const arch = `${p.architecture}${p.variant ?? ""}`.toLowerCase().replace(/[^a-z0-9_.-]/g, "");
  return p.os === "linux" ? arch : `${p.os}-${arch}`;
}

/** Read the source's manifest tree (index, children, configs) over the registry API. */
export async function readSource(client: RegistryClient, source: ImageReference): Promise<SourceImage> {
  const host = source.registry === "docker.io" ? "registry-1.docker.io" : source.registry;
  const root = await client.getManifest(host, source.repository, source.digest ?? source.tag ?? "latest");
  if (source.digest && root.digest !== source.digest) throw new RegistryError(502, `${formatReference(source)}: the registry sent ${root.digest}`);
  const parts = manifestParts(root);
  const children: SourceImage["children"] = [];
  const blobs = new Map<string, number>();
  const platformTags: SourceImage["platformTags"] = [];
  let bytes = root.bytes.length;
  if (parts.children.length) {
    for (const c of parts.children) {
      const m = await client.getManifest(host, source.repository, c.digest);
      const suffix = platformSuffix(c.platform);
      children.push({ manifest: m, suffix });
      if (suffix && !platformTags.some((t) => t.suffix === suffix)) platformTags.push({ suffix, manifest: m });
      bytes += m.bytes.length;
      for (const b of manifestParts(m).blobs) blobs.set(b.digest, b.size);
    }
  } else {
    for (const b of parts.blobs) blobs.set(b.digest, b.size);
    const config = parts.blobs[0];
    const r = await client.request(host, `/v2/${source.repository}/blobs/${config.digest}`, { method: "GET", repository: source.repository, actions: "pull" });
    if (r.ok) {
      const doc = (await r.json()) as { architecture?: string; os?: string; variant?: string };
      const suffix = doc.architecture && doc.os ? platformSuffix({ architecture: doc.architecture, os: doc.os, variant: doc.variant }) : undefined;
      if (suffix) platformTags.push({ suffix, manifest: root });
    } else await r.body?.cancel();
  }
  for (const size of blobs.values()) bytes += size;
  return { digest: root.digest, root, children, blobs: [...blobs].map(([digest, size]) => ({ digest, size })), bytes, platformTags };
}

/**
 * Deliver one build to many customer namespaces. Per target: access check, cache check (the
 * versioned tag already holds the source digest: `cached`), copy, then the extra tags, `latest`
 * last and only after the versioned tag was read back with the source digest. Per registry
 * credential, the first missing target gets a tool copy from the source; every other one is
 * assembled from blob mounts of that copy, so the image's bytes cross to each registry once.
 * One target failing never stops the others; every target gets a result.
 */
export async function deliver(req: DeliveryRequest): Promise<TargetResult[]> {
  const policy = req.retry ?? DEFAULT_RETRY;
  const limit = pLimit(Math.max(1, req.concurrency ?? 4));
  const emit = req.onEvent ?? (() => {});
  const withLatest = req.latest ?? true;
  const withArch = req.archTags ?? true;
  validateNames(req);

  const results: TargetResult[] = [];
  const finish = (r: TargetResult) => {
    results.push(r);
    emit({ type: "done", result: r });
  };

  // Access first, before the source is read: a denied target costs nothing and never gets a credential.
  const allowed = new Map<RegistryKind, Target[]>();
  for (const t of req.targets) {
    const decision = req.access(t.customer, t.kind);
    let namespace: string;
    try {
      namespace = req.namespace(t.customer, t.kind);
    } catch (e) {
      finish({ ...t, target: `${t.kind}:${t.customer}`, status: "denied", seconds: 0, bytes: 0, attempts: 0, tags: [], reason: errorText(e) });
      continue;
    }
    const ref = parseReference(`${namespace}${req.build}:${req.version}`);
    if (!decision.allowed) {
      finish({ ...t, target: formatReference(ref), status: "denied", seconds: 0, bytes: 0, attempts: 0, tags: [], reason: decision.reason });
      continue;
    }
    const list = allowed.get(t.kind) ?? [];
    list.push({ ...t, ref, repository: ref.repository, host: ref.registry });
    allowed.set(t.kind, list);
  }

  // Nothing allowed: the source is not even read.
  if (allowed.size === 0) return results;
  const sourceClient = new RegistryClient(req.sourceCredential, req.fetchImpl);
  const { value: source } = await withRetry(() => readSource(sourceClient, req.source), policy);
  emit({ type: "source", digest: source.digest, bytes: source.bytes, platforms: source.platformTags.map((t) => t.suffix) });
  // The copy reads exactly the digest checked here (skopeo takes a digest or a tag, not both).
  const pinned: ImageReference = { registry: req.source.registry, repository: req.source.repository, digest: source.digest };

  const groups: { group: CredentialGroup; targets: Target[] }[] = [];
  for (const [kind, targets] of allowed) {
    let answer: (CredentialGroup | CredentialFailure)[];
    try {
      answer = await req.credentials(kind, targets.map((t) => t.customer));
    } catch (e) {
      answer = [{ customers: targets.map((t) => t.customer), reason: errorText(e) }];
    }
    const creds = answer.filter((g): g is CredentialGroup => !("reason" in g));
    const refused = answer.filter((g): g is CredentialFailure => "reason" in g);
    for (const g of creds) groups.push({ group: g, targets: targets.filter((t) => g.customers.includes(t.customer)) });
    for (const t of targets.filter((t) => !creds.some((g) => g.customers.includes(t.customer)))) {
      const why = refused.find((f) => f.customers.includes(t.customer));
      finish({ customer: t.customer, kind, target: formatReference(t.ref), status: "failed", seconds: 0, bytes: 0, attempts: 1, tags: [], reason: why ? `no ${kind} delivery credential: ${why.reason}` : `no ${kind} delivery credential reaches customer ${t.customer}` });
    }
  }

  await Promise.all(groups.map(({ group, targets }) => deliverGroup(group, targets)));
  // Results in the order the targets were asked for.
  const order = (r: { customer: string; kind: RegistryKind }) => req.targets.findIndex((t) => t.customer === r.customer && t.kind === r.kind);
  return results.sort((a, b) => order(a) - order(b));

  async function deliverGroup(group: CredentialGroup, targets: Target[]): Promise<void> {
    const client = new RegistryClient(group.credential, req.fetchImpl);
    const started = new Map<Target, number>();
    const result = (t: Target, r: Omit<TargetResult, "customer" | "kind" | "target" | "seconds">): TargetResult => ({
      customer: t.customer,
      kind: t.kind,
      target: formatReference(t.ref),
      seconds: round((performance.now() - (started.get(t) ?? performance.now())) / 1000),
      ...r,
    });
    const retry = (t: Target) => (attempt: number, e: unknown, delayMs: number) => emit({ type: "retry", customer: t.customer, kind: t.kind, attempt, delayMs, reason: errorText(e) });

    // 1. Cache checks.
    const missing: Target[] = [];
    const cached: Target[] = [];
    await Promise.all(
      targets.map((t) =>
        limit(async () => {
          started.set(t, performance.now());
          emit({ type: "start", customer: t.customer, kind: t.kind, target: formatReference(t.ref), step: "check" });
          try {
            let known: Map<string, string> | undefined;
            const { value: state, attempts } = await withRetry(async () => {
              if (!group.tagLookup) return client.headManifest(t.ref);
              known = await group.tagLookup(t.repository);
              const digest = known.get(req.version);
              return { exists: digest !== undefined, digest };
            }, policy, retry(t));
            if (!state.exists) return void missing.push(t);
            if (state.digest !== source.digest) {
              return finish(result(t, { status: "failed", digest: state.digest, bytes: 0, attempts, tags: [], reason: `tag ${req.version} already holds ${state.digest}, not the source's ${source.digest}: a version is never overwritten; deliver a new version` }));
            }
            const { value: tags } = await withRetry(() => ensureTags(client, t, known), policy, retry(t));
            cached.push(t);
            finish(result(t, { status: "cached", digest: state.digest, bytes: 0, attempts, tags }));
          } catch (e) {
            finish(result(t, { status: "failed", bytes: 0, attempts: attemptsOf(e), tags: [], reason: `cache check: ${errorText(e)}` }));
          }
        }),
      ),
    );
    missing.sort((a, b) => targets.indexOf(a) - targets.indexOf(b));

    // 2. A customer that already holds the image is the seed; otherwise one tool copy from the
    //    source makes one (the next target takes over if it fails for good).
    let seed: Target | undefined = cached[0];
    while (!seed && missing.length) {
      const t = missing.shift()!;
      const ok = await limit(() => copyTarget(t, "copy"));
      if (ok) seed = t;
    }
    // 3. Everyone else is mounted from the seed's repository; a mount that fails for good falls back to a copy.
    await Promise.all(missing.map((t) => limit(async () => (await copyTarget(t, "mount")) || (await copyTarget(t, "copy", true)))));

    async function copyTarget(t: Target, via: "copy" | "mount", fallback = false): Promise<boolean> {
      emit({ type: "start", customer: t.customer, kind: t.kind, target: formatReference(t.ref), step: via });
      let bytes = 0;
      let attempts = 0;
      try {
        if (via === "copy") {
          const r = await withRetry(
            () =>
              copyImage(req.tool, { source: pinned, target: t.ref, sourceCredential: req.sourceCredential, targetCredential: group.credential, allPlatforms: true }),
            policy,
            retry(t),
          );
          attempts = r.attempts;
          bytes = source.bytes;
        } else {
          const r = await withRetry(() => mountImage(client, seed!, t), policy, retry(t));
          attempts = r.attempts;
          bytes = r.value;
        }
      } catch (e) {
        // A mount refused for good (no read on the seed, mounting off) still has the tool copy to try.
        if (via === "mount" && !fallback) {
          emit({ type: "retry", customer: t.customer, kind: t.kind, attempt: attemptsOf(e), delayMs: 0, reason: `mount failed (${errorText(e)}); copying from the source instead` });
          return false;
        }
        finish(result(t, { status: "failed", bytes, attempts: attemptsOf(e), via, tags: [], reason: `${via}: ${errorText(e)}` }));
        return via === "mount";
      }
      emit({ type: "start", customer: t.customer, kind: t.kind, target: formatReference(t.ref), step: "tags" });
      try {
        // Read the versioned tag back: only a verified digest gets the extra tags and `latest`.
        const { value: state } = await withRetry(() => client.headManifest(t.ref), policy, retry(t));
        if (state.digest !== source.digest) {
          finish(result(t, { status: "failed", digest: state.digest, bytes, attempts, via, tags: [], reason: `after the ${via}, tag ${req.version} reads back as ${state.digest ?? "(no digest)"}, not ${source.digest}: latest not moved` }));
          return via === "mount";
        }
        const { value: tags } = await withRetry(() => ensureTags(client, t), policy, retry(t));
        finish(result(t, { status: "delivered", digest: source.digest, bytes, attempts, via, tags }));
        return true;
      } catch (e) {
        finish(result(t, { status: "failed", bytes, attempts: attemptsOf(e), via, tags: [], reason: `verify and tag: ${errorText(e)}` }));
        return via === "mount";
      }
    }
  }

  /** Assemble the image in `t` from blob mounts of the seed's copy; returns bytes sent. */
  async function mountImage(client: RegistryClient, seed: Target, t: Target): Promise<number> {
    const from = seed.repository;
    let bytes = 0;
    const mountAll = async (m: Manifest) => {
      for (const b of manifestParts(m).blobs) bytes += (await client.mountBlob(t.host, t.repository, from, b)).bytes;
    };
    for (const c of source.children) {
      await mountAll(c.manifest);
      await client.putManifest(t.host, t.repository, c.manifest.digest, c.manifest);
      bytes += c.manifest.bytes.length;
    }
    if (!source.children.length) await mountAll(source.root);
    await client.putManifest(t.host, t.repository, req.version, source.root);
    return bytes + source.root.bytes.length;
  }

  /** `<version>-<arch>` tags, then `latest`: each written only where it does not already hold the right digest. */
  async function ensureTags(client: RegistryClient, t: Target, known?: Map<string, string>): Promise<string[]> {
    const moved: string[] = [];
    const want: { tag: string; manifest: Manifest }[] = [
      ...(withArch ? source.platformTags.map((p) => ({ tag: `${req.version}-${p.suffix}`, manifest: p.manifest })) : []),
      ...(withLatest ? [{ tag: "latest", manifest: source.root }] : []),
    ];
    for (const w of want) {
      const have = known ? known.get(w.tag) : (await client.headManifest({ ...t.ref, tag: w.tag })).digest;
      if (have === w.manifest.digest) continue;
      const digest = await client.putManifest(t.host, t.repository, w.tag, w.manifest);
      if (digest !== w.manifest.digest) throw new RegistryError(502, `tag ${w.tag} was stored as ${digest}, not ${w.manifest.digest}`);
      moved.push(w.tag);
    }
    return moved;
  }
}

function validateNames(req: DeliveryRequest): void {
  const problems: string[] = [];
  try {
    parseReference(`example.com/${req.build}:${req.version}`);
  } catch (e) {
    problems.push(e instanceof ImageReferenceError ? e.message.replace("example.com/", "") : String(e));
  }
  if (req.version === "latest") problems.push(`version "latest": a delivery names a version; latest is moved after it`);
  if (req.version.length > 100) problems.push(`version "${req.version}": at most 100 characters, so that <version>-<arch> tags stay valid`);
  if (problems.length) throw new InvalidInput(`cannot deliver build "${req.build}" version "${req.version}":\n  ${problems.join("\n  ")}`);
}

const round = (n: number) => Math.round(n * 1000) / 1000;
