import type { RegistryKind } from "../../core/tiers";
import { copyImage, type CopyTool } from "./copy";
import { discard, manifestParts, READ_LIMITS, readLimited, RegistryClient, RegistryError, TokenRefused, type Manifest, type RegistryCredential } from "./manifest";
import { apiHost, formatReference, parseReference, ImageReferenceError, type ImageReference } from "../../core/reference";
import { attemptsOf, DEFAULT_RETRY, errorText, withRetry, type RetryPolicy } from "./retry";
import { InvalidInput } from "../../core/errors";
import { AttachedCopier, findAttached, type AttachedArtifact, type AttachedResult } from "./attached";
import { requireSignature, type SignatureKey } from "./signature";

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
  /** Its registry never moves a tag once written (DeliveryRequest.immutableTags). */
  fixedTags: boolean;
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
    const fetched = await Promise.all(parts.children.map((c) => client.getManifest(host, source.repository, c.digest)));
    for (const [i, c] of parts.children.entries()) {
      const m = fetched[i];
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
    const bytes = r.ok ? await readLimited(r, READ_LIMITS.json) : undefined;
    if (bytes) {
      let doc: { architecture?: string; os?: string; variant?: string } = {};
      try {
        doc = JSON.parse(bytes.toString("utf8"));
      } catch {
        // Not a JSON config: no platform tag, the image itself is copied as it is.
      }
      const suffix = doc.architecture && doc.os ? platformSuffix({ architecture: doc.architecture, os: doc.os, variant: doc.variant }) : undefined;
      if (suffix) platformTags.push({ suffix, manifest: root });
    } else if (!r.ok) await discard(r);
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
 *
 * What waits for what: the copy starts as soon as its target is known to miss the build (the
 * other checks go on beside it; one that finds the build stops it); a mounted target takes each
 * platform as soon as the copy has written that platform's manifest, and writes its index, reads
 * it back and tags it without waiting for the others. `concurrency` bounds the registry requests
 * (and tool copies) in flight over all targets; the copy and the looks at its progress go first.
 */
export async function deliver(req: DeliveryRequest): Promise<TargetResult[]> {
  const policy = req.retry ?? DEFAULT_RETRY;
  const limit = bound(Math.max(1, req.concurrency ?? 4));
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
    list.push({ ...t, ref, repository: ref.repository, host: ref.registry, fixedTags: req.immutableTags?.(t.kind) ?? false });
    allowed.set(t.kind, list);
  }

  // Nothing allowed: the source is not even read.
  if (allowed.size === 0) return results;
  const sourceClient = new RegistryClient(req.sourceCredential, req.fetchImpl);
  const { value: source } = await withRetry(() => readSource(sourceClient, req.source), policy);
  const sourceHost = apiHost(req.source);
  // What the build carries beside the image, checked before anything is written anywhere.
  const attached =
    req.attached === false && !req.requireSignature
      ? []
      : (await withRetry(() => findAttached(sourceClient, sourceHost, req.source.repository, [source.digest, ...source.children.map((c) => c.manifest.digest)]), policy)).value;
  if (req.requireSignature) await requireSignature(sourceClient, sourceHost, req.source.repository, source.digest, attached, req.requireSignature);
  const carried = req.attached === false ? [] : attached;
  emit({ type: "source", digest: source.digest, bytes: source.bytes, platforms: source.platformTags.map((t) => t.suffix), attached: carried.map((a) => a.kind), signedBy: req.requireSignature?.name });
  // The copy reads exactly the digest checked here (skopeo takes a digest or a tag, not both).
  const pinned: ImageReference = { registry: req.source.registry, repository: req.source.repository, digest: source.digest };
  const extraTags: ExtraTag[] = [
    ...(withArch ? source.platformTags.map((p) => ({ tag: `${req.version}-${p.suffix}`, manifest: p.manifest })) : []),
    ...(withLatest ? [{ tag: "latest", manifest: source.root, last: true }] : []),
  ];

  const groups: { group: CredentialGroup; targets: Target[]; client: RegistryClient }[] = [];
  for (const [kind, targets] of allowed) {
    let answer: (CredentialGroup | CredentialFailure)[];
    try {
      answer = await req.credentials(kind, targets.map((t) => t.customer));
    } catch (e) {
      answer = [{ customers: targets.map((t) => t.customer), reason: errorText(e) }];
    }
    const creds = answer.filter((g): g is CredentialGroup => !("reason" in g));
    const refused = answer.filter((g): g is CredentialFailure => "reason" in g);
    for (const g of creds) groups.push({ group: g, targets: targets.filter((t) => g.customers.includes(t.customer)), client: new RegistryClient(g.credential, req.fetchImpl) });
    for (const t of targets.filter((t) => !creds.some((g) => g.customers.includes(t.customer)))) {
      const why = refused.find((f) => f.customers.includes(t.customer));
      finish({ customer: t.customer, kind, target: formatReference(t.ref), status: "failed", seconds: 0, bytes: 0, attempts: 1, tags: [], reason: why ? `no ${kind} delivery credential: ${why.reason}` : `no ${kind} delivery credential reaches customer ${t.customer}` });
    }
  }

  await checkGiven(groups);
  await Promise.all(groups.map(({ group, targets, client }) => deliverGroup(group, targets, client)));
  // Results in the order the targets were asked for.
  const order = (r: { customer: string; kind: RegistryKind }) => req.targets.findIndex((t) => t.customer === r.customer && t.kind === r.kind);
  return results.sort((a, b) => order(a) - order(b));

  /**
   * Credentials the user gave are tried once (a token for reading the first target: no registry
   * request but the host's `GET /v2/`) before anything is written: a wrong password is bad input,
   * not a failed delivery.
   */
  async function checkGiven(list: { group: CredentialGroup; targets: Target[]; client: RegistryClient }[]): Promise<void> {
    const refused: string[] = [];
    await Promise.all(
      list
        .filter(({ group, targets }) => group.given && targets.length)
        .map(async ({ group, targets, client }) => {
          try {
            await withRetry(() => client.authorize(apiHost(targets[0].ref), targets[0].repository, "pull"), policy);
          } catch (e) {
            if (e instanceof TokenRefused && e.status === 401) refused.push(`${group.given}: ${group.registry}'s token endpoint refused ${group.credential?.username ?? "the credential"} (401): the value is wrong or stale; set it again and retry (nothing was delivered)`);
          }
        }),
    );
    if (refused.length) throw new InvalidInput([...new Set(refused)].sort().join("; "));
  }

  async function deliverGroup(group: CredentialGroup, targets: Target[], client: RegistryClient): Promise<void> {
    const carrier = new AttachedCopier(client, { client: sourceClient, host: sourceHost, repository: req.source.repository }, carried);
    const started = new Map<Target, number>();
    const result = (t: Target, r: Omit<TargetResult, "customer" | "kind" | "target" | "seconds">): TargetResult => ({
      customer: t.customer,
      kind: t.kind,
      target: formatReference(t.ref),
      seconds: round((performance.now() - (started.get(t) ?? performance.now())) / 1000),
      ...r,
    });
    const retry = (t: Target) => (attempt: number, e: unknown, delayMs: number) => emit({ type: "retry", customer: t.customer, kind: t.kind, attempt, delayMs, reason: errorText(e) });
    const step = (t: Target, s: "check" | "copy" | "mount" | "tags") => emit({ type: "start", customer: t.customer, kind: t.kind, target: formatReference(t.ref), step: s });
    /** One registry request of `t`'s under the bound, retried (the bound is free during the back-off); `tries` keeps the most any took. */
    const op = async <T>(t: Target, tries: Tries, fn: () => Promise<T>): Promise<T> => {
      const r = await withRetry(() => limit(fn), policy, retry(t));
      tries.n = Math.max(tries.n, r.attempts);
      return r.value;
    };

    // The seed. `holder` holds the whole image: a target that already had it, or one whose tool copy
    // finished. While the one tool copy runs, the child manifests seen in its repository are
    // `landed`, and their blobs with them (a registry takes a manifest only once its blobs are
    // there): mounts of one platform start while the copy writes the next.
    let holder: Target | undefined;
    let copying: Copying | undefined;
    const waiting = new Map<Target, number>();
    // Source and targets on one registry (the build registry is the customers', or one ECR
    // account and region): every blob is mounted from the source repository, no tool copy at all,
    // until a mount from it is refused (the credential cannot read the source).
    let fromSource = targets.length > 0 && apiHost(targets[0].ref) === sourceHost;
    let wake = () => {};
    let changed = new Promise<void>((r) => (wake = r));
    const notify = () => {
      const w = wake;
      changed = new Promise<void>((r) => (wake = r));
      w();
    };
    const claim = (t: Target) => (copying = { target: t, landed: new Set(), abort: new AbortController() });
    // Each target's extra tags as read during its check (ECR: the tag lookup), for writing them later.
    const tagStates = new Map<Target, Promise<TagState>>();
    // Work that settles a target after its check said what it is (a cached target's tags).
    const tails: Promise<void>[] = [];

    // Every check is asked for at once, in the order of the targets; a missing target goes on as
    // soon as its own check and the ones before it are done: the first missing one makes the seed
    // while the later checks still run.
    const checks = targets.map((t) => check(t));
    await Promise.all(targets.map(async (t, i) => (await checks[i]) && missing(t, checks.slice(0, i))));
    await Promise.all(tails);

    /** The cache check: settles a cached or failed target (true: missing). Never throws. */
    async function check(t: Target): Promise<boolean> {
      started.set(t, performance.now());
      step(t, "check");
      const tries: Tries = { n: 1 };
      let lookup: Map<string, string> | undefined;
      const head = op(t, tries, async () => {
        if (!group.tagLookup) return client.headManifest(t.ref);
        lookup = await group.tagLookup(t.repository);
        const digest = lookup.get(req.version);
        return { exists: digest !== undefined, digest };
      });
      try {
        const state = await head;
        if (state.exists && state.digest !== source.digest) {
          finish(result(t, { status: "failed", digest: state.digest, bytes: 0, attempts: tries.n, tags: [], reason: `tag ${req.version} already holds ${state.digest}, not the source's ${source.digest}: a version is never overwritten; deliver a new version` }));
          return false;
        }
        // The extra tags' state, for writing them later (a failure leaves them to be read then).
        tagStates.set(t, lookup ? Promise.resolve({ tags: lookup, complete: true }) : readTags(t, !state.exists));
        if (!state.exists) return true;
        // It holds the image: the seed every mount comes from (a tool copy under way stops).
        if (!holder) {
          holder = t;
          copying?.abort.abort();
          notify();
        }
        tails.push(
          (async () => {
            const tagTries: Tries = { n: 1 };
            let put: Placed;
            try {
              put = await placeAttached(t, tagTries);
            } catch (e) {
              return finish(result(t, { status: "failed", digest: state.digest, bytes: 0, attempts: attemptsOf(e), tags: [], reason: `signatures and attestations: ${errorText(e)}; latest not moved` }));
            }
            try {
              const tags = await ensureTags(t, tagTries);
              finish(result(t, { status: "cached", digest: state.digest, bytes: put.bytes, attempts: tries.n, ...tags, ...put.attached }));
            } catch (e) {
              finish(result(t, { status: "failed", bytes: put.bytes, attempts: attemptsOf(e), tags: [], reason: `cache check: ${errorText(e)}` }));
            }
          })(),
        );
      } catch (e) {
        finish(result(t, { status: "failed", bytes: 0, attempts: attemptsOf(e), tags: [], reason: `cache check: ${errorText(e)}` }));
      }
      return false;
    }

    /**
     * A missing target: the first one (in the order asked) gets the tool copy from the source,
     * unless some target already holds the image; every other one is assembled from blob mounts.
     * When the copy fails for good, the first target still waiting for it makes the next one; a
     * mount that fails for good falls back to a copy of its own.
     */
    async function missing(t: Target, before: Promise<boolean>[]): Promise<void> {
      await Promise.all(before);
      let role: "copy" | "mount" = fromSource || holder || copying ? "mount" : (claim(t), "copy");
      for (;;) {
        if (role === "copy") {
          const c = copying!;
          step(t, "copy");
          void poll(c);
          let got: Got;
          try {
            got = await copyFromSource(t, c.abort.signal);
          } catch (e) {
            copying = undefined;
            notify();
            // Another target turned out to hold the image: mount from it instead.
            if (c.abort.signal.aborted) {
              role = "mount";
              continue;
            }
            return finish(result(t, { status: "failed", bytes: 0, attempts: attemptsOf(e), via: "copy", tags: [], reason: `copy: ${errorText(e)}` }));
          }
          holder ??= t;
          copying = undefined;
          notify();
          return finishTarget(t, "copy", got);
        }
        step(t, "mount");
        let got: Got;
        const viaSource = fromSource;
        try {
          got = await mountFromSeed(t);
        } catch (e) {
          if (e === TAKEOVER) {
            role = "copy";
            continue;
          }
          if (viaSource) {
            // The source cannot be mounted from: one copy, and the rest mount from it, as across registries.
            if (fromSource) emit({ type: "retry", customer: t.customer, kind: t.kind, attempt: attemptsOf(e), delayMs: 0, reason: `mount from the source ${req.source.repository} refused (${errorText(e)}); one copy, then mounts from it` });
            fromSource = false;
            role = holder || copying ? "mount" : (claim(t), "copy");
            continue;
          }
          // A mount refused for good (no read on the seed, mounting off) still has the tool copy to try.
          emit({ type: "retry", customer: t.customer, kind: t.kind, attempt: attemptsOf(e), delayMs: 0, reason: `mount failed (${errorText(e)}); copying from the source instead` });
          step(t, "copy");
          try {
            got = await copyFromSource(t);
          } catch (e2) {
            return finish(result(t, { status: "failed", bytes: 0, attempts: attemptsOf(e2), via: "copy", tags: [], reason: `copy: ${errorText(e2)}` }));
          }
          return finishTarget(t, "copy", got);
        }
        return finishTarget(t, "mount", got);
      }
    }

    async function copyFromSource(t: Target, signal?: AbortSignal): Promise<Got> {
      const r = await withRetry(
        () =>
          limit(() => {
            signal?.throwIfAborted();
            return copyImage(req.tool, { source: pinned, target: t.ref, sourceCredential: req.sourceCredential, targetCredential: group.credential, allPlatforms: true }, signal);
          }, true),
        policy,
        retry(t),
      );
      return { bytes: source.bytes, attempts: r.attempts };
    }

    /** Assemble the image in `t` from blob mounts: each platform as soon as the seed has it, then the index. */
    async function mountFromSeed(t: Target): Promise<Got> {
      const tries: Tries = { n: 1 };
      let bytes = 0;
      const assemble = async (m: Manifest, byDigest: boolean) => {
        const from = await seedOf(t, m.digest);
        await Promise.all(manifestParts(m).blobs.map(async (b) => (bytes += (await op(t, tries, () => client.mountBlob(t.host, t.repository, from, b))).bytes)));
        if (!byDigest) return;
        await op(t, tries, () => client.putManifest(t.host, t.repository, m.digest, m));
        bytes += m.bytes.length;
      };
      const parts = await Promise.allSettled(source.children.length ? source.children.map((c) => assemble(c.manifest, true)) : [assemble(source.root, false)]);
      const failed = parts.flatMap((p) => (p.status === "rejected" ? [p.reason as unknown] : []));
      if (failed.includes(TAKEOVER)) throw TAKEOVER;
      if (failed.length) throw failed[0];
      await op(t, tries, () => client.putManifest(t.host, t.repository, req.version, source.root));
      return { bytes: bytes + source.root.bytes.length, attempts: tries.n };
    }

    /**
     * The repository to mount a manifest's blobs from: the holder's, or the copy's once that
     * manifest is there. Throws TAKEOVER when `t` is to make the seed itself (no copy runs and
     * `t` is the first target, in the order asked, waiting for one).
     */
    async function seedOf(t: Target, digest: string): Promise<string> {
      if (fromSource) return req.source.repository;
      waiting.set(t, (waiting.get(t) ?? 0) + 1);
      try {
        for (;;) {
          if (holder) return holder.repository;
          if (copying?.target === t) throw TAKEOVER;
          if (copying?.landed.has(digest)) return copying.target.repository;
          if (!copying && targets.find((x) => waiting.has(x)) === t) {
            claim(t);
            notify();
            throw TAKEOVER;
          }
          await changed;
        }
      } finally {
        const n = waiting.get(t)! - 1;
        if (n) waiting.set(t, n);
        else waiting.delete(t);
      }
    }

    /** While the copy runs and a mount waits for it, look for its child manifests in its repository, in the index's order. */
    async function poll(c: Copying): Promise<void> {
      for (const child of source.children) {
        const digest = child.manifest.digest;
        while (copying === c && !c.landed.has(digest)) {
          if (waiting.size) {
            const here = await limit(async () => copying === c && client.hasManifest(c.target.host, c.target.repository, digest), true).catch(() => false);
            if (here) {
              c.landed.add(digest);
              notify();
              break;
            }
          }
          await Promise.race([changed, new Promise((r) => setTimeout(r, POLL_MS).unref())]);
        }
      }
    }

    /** Read the versioned tag back: only a verified digest gets the extra tags and `latest`. Never throws. */
    async function finishTarget(t: Target, via: "copy" | "mount", { bytes, attempts }: Got): Promise<void> {
      step(t, "tags");
      try {
        const tries: Tries = { n: 1 };
        const state = await op(t, tries, () => client.headManifest(t.ref));
        if (state.digest !== source.digest) {
          return finish(result(t, { status: "failed", digest: state.digest, bytes, attempts, via, tags: [], reason: `after the ${via}, tag ${req.version} reads back as ${state.digest ?? "(no digest)"}, not ${source.digest}: latest not moved` }));
        }
        let put: Placed;
        try {
          put = await placeAttached(t, tries);
        } catch (e) {
          return finish(result(t, { status: "failed", digest: state.digest, bytes, attempts: attemptsOf(e), via, tags: [], reason: `signatures and attestations: ${errorText(e)}; latest not moved` }));
        }
        const tags = await ensureTags(t, tries);
        finish(result(t, { status: "delivered", digest: source.digest, bytes: bytes + put.bytes, attempts, via, ...tags, ...put.attached }));
      } catch (e) {
        finish(result(t, { status: "failed", bytes, attempts: attemptsOf(e), via, tags: [], reason: `verify and tag: ${errorText(e)}` }));
      }
    }

    /** The build's attached artifacts into `t`, after its image and before its tags: `latest` never names an image whose signature is missing. */
    async function placeAttached(t: Target, tries: Tries): Promise<Placed> {
      if (carrier.empty) return { bytes: 0, attached: {} };
      const { results, bytes } = await carrier.place(t.host, t.repository, (fn) => op(t, tries, fn), t.fixedTags);
      return { bytes, attached: { attached: results } };
    }

    /**
     * The extra tags' digests now (absent: undefined), one try each: a failure leaves a tag unknown.
     * Where the versioned tag is missing, the listing says which of them exist at all (for a new
     * repository, none): only those are read.
     */
    async function readTags(t: Target, listFirst: boolean): Promise<TagState> {
      const tags = new Map<string, string | undefined>();
      const listed = listFirst && extraTags.length ? await limit(() => client.listTags(t.host, t.repository)).catch(() => undefined) : undefined;
      await Promise.all(
        extraTags.map((w) => {
          if (listed && !listed.includes(w.tag)) return void tags.set(w.tag, undefined);
          return limit(() => client.headManifest({ ...t.ref, tag: w.tag })).then(
            (s) => void tags.set(w.tag, s.digest),
            () => undefined,
          );
        }),
      );
      return { tags, complete: false };
    }

    /**
     * `<version>-<arch>` tags, then `latest`: each written only where it does not already hold the
     * right digest; where the registry's tags are immutable, only where it does not exist yet.
     */
    async function ensureTags(t: Target, tries: Tries): Promise<Pick<TargetResult, "tags" | "kept">> {
      const known = await tagStates.get(t);
      const have = await Promise.all(
        extraTags.map((w) => (known && (known.complete || known.tags.has(w.tag)) ? known.tags.get(w.tag) : op(t, tries, () => client.headManifest({ ...t.ref, tag: w.tag })).then((s) => s.digest))),
      );
      // A tag naming another digest is rewritten, unless the registry never moves one that exists.
      const stale: ExtraTag[] = [];
      const kept: { tag: string; digest: string }[] = [];
      extraTags.forEach((w, i) => {
        if (have[i] === w.manifest.digest) return;
        if (t.fixedTags && have[i] !== undefined) kept.push({ tag: w.tag, digest: have[i]! });
        else stale.push(w);
      });
      const put = (w: ExtraTag) =>
        op(t, tries, async () => {
          const digest = await client.putManifest(t.host, t.repository, w.tag, w.manifest);
          if (digest !== w.manifest.digest) throw new RegistryError(502, `tag ${w.tag} was stored as ${digest}, not ${w.manifest.digest}`);
        });
      // The platform tags at once; `latest` after them.
      await Promise.all(stale.filter((w) => !w.last).map(put));
      for (const w of stale.filter((w) => w.last)) await put(w);
      return { tags: stale.map((w) => w.tag), ...(kept.length ? { kept } : {}) };
    }
  }
}

interface Tries {
  n: number;
}

/** What placing the attached artifacts into a target sent, and the result field it fills. */
interface Placed {
  bytes: number;
  attached: { attached?: AttachedResult[] };
}

/** What a copy or a mount sent, and its most tries of one step. */
interface Got {
  bytes: number;
  attempts: number;
}

/** The one tool copy under way in a credential group: its target, the child manifests seen there, and its stop. */
interface Copying {
  target: Target;
  landed: Set<string>;
  abort: AbortController;
}

/** Tags and their digests (undefined: absent); `complete` when a tag not listed is known absent (a provider's tag lookup). */
interface TagState {
  tags: Map<string, string | undefined>;
  complete: boolean;
}

interface ExtraTag {
  tag: string;
  manifest: Manifest;
  /** `latest`: written after the others. */
  last?: boolean;
}

/** Thrown to a target waiting for a seed when it is to make the seed itself. */
const TAKEOVER = Symbol("takeover");

/** How often a running copy's repository is looked at for the platforms it has written. */
const POLL_MS = 100;

/**
 * At most `n` operations at once, in the order asked; an urgent one (the seed copy, a look at
 * what it has written so far) goes before those waiting.
 */
function bound(n: number) {
  let active = 0;
  const queue: (() => void)[] = [];
  const next = () => {
    while (active < n && queue.length) {
      active++;
      queue.shift()!();
    }
  };
  return <T>(fn: () => Promise<T>, urgent = false): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const run = () =>
        void new Promise<T>((r) => r(fn()))
          .then(resolve, reject)
          .finally(() => {
            active--;
            next();
          });
      if (urgent) queue.unshift(run);
      else queue.push(run);
      next();
    });
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
