import { apiHost, formatReference, type ImageReference } from "../../core/reference";
import { copyImage } from "./copy";
import { manifestParts, type Manifest } from "../registry/manifests";
import { type RegistryClient } from "../registry/client";
import { attemptsOf, errorText, withRetry, type RetryPolicy } from "./retry";
import { AttachedCopier, type AttachedArtifact } from "./attached";
import { Seed, type Copying } from "./seed";
import { ensureTags, readTags } from "./tags";
import type { Limit } from "./limit";
import type { CredentialGroup, DeliveryEvent, DeliveryRequest, ExtraTag, Got, Placed, SourceImage, TagState, Target, TargetResult, Tries } from "./types";

/** What every credential group of one delivery shares: the request, the source as read, and the bound. */
export interface DeliveryRun {
  req: DeliveryRequest;
  policy: RetryPolicy;
  limit: Limit;
  emit: (e: DeliveryEvent) => void;
  finish: (r: TargetResult) => void;
  source: SourceImage;
  sourceClient: RegistryClient;
  sourceHost: string;
  /** The build's attached artifacts to carry into every target. */
  carried: AttachedArtifact[];
  /** The source by the digest checked (the copy reads exactly that). */
  pinned: ImageReference;
  extraTags: ExtraTag[];
}

/** How often a running copy's repository is looked at for the platforms it has written. */
const POLL_MS = 100;

const round = (n: number) => Math.round(n * 1000) / 1000;

/**
 * One credential group's targets: each checked, and each missing one copied or assembled from
 * blob mounts of the group's seed (see Seed), read back, given the build's attached artifacts and
 * its extra tags. Every target is settled through `run.finish`; nothing here throws.
 */
export class GroupDelivery {
  private readonly started = new Map<Target, number>();
  /** Each target's extra tags as read during its check (ECR: the tag lookup), for writing them later. */
  private readonly tagStates = new Map<Target, Promise<TagState>>();
  /** Work that settles a target after its check said what it is (a cached target's tags). */
  private readonly tails: Promise<void>[] = [];
  private readonly seed: Seed<Target>;
  private readonly carrier: AttachedCopier;

  constructor(
    private readonly run: DeliveryRun,
    private readonly group: CredentialGroup,
    private readonly targets: Target[],
    private readonly client: RegistryClient,
  ) {
    const { req, sourceClient, sourceHost, carried } = run;
    this.carrier = new AttachedCopier(client, { client: sourceClient, host: sourceHost, repository: req.source.repository }, carried);
    // Source and targets on one registry (the build registry is the customers', or one ECR
    // account and region): every blob is mounted from the source repository, no tool copy at all,
    // until a mount from it is refused (the credential cannot read the source).
    this.seed = new Seed(targets, req.source.repository, targets.length > 0 && apiHost(targets[0].ref) === sourceHost);
  }

  /**
   * Every check is asked for at once, in the order of the targets; a missing target goes on as
   * soon as its own check and the ones before it are done: the first missing one makes the seed
   * while the later checks still run.
   */
  async deliver(): Promise<void> {
    const checks = this.targets.map((t) => this.check(t));
    await Promise.all(this.targets.map(async (t, i) => (await checks[i]) && this.missing(t, checks.slice(0, i))));
    await Promise.all(this.tails);
  }

  private result(t: Target, r: Omit<TargetResult, "customer" | "kind" | "target" | "seconds">): TargetResult {
    return {
      customer: t.customer,
      kind: t.kind,
      target: formatReference(t.ref),
      seconds: round((performance.now() - (this.started.get(t) ?? performance.now())) / 1000),
      ...r,
    };
  }

  private settle(t: Target, r: Omit<TargetResult, "customer" | "kind" | "target" | "seconds">): void {
    this.run.finish(this.result(t, r));
  }

  private step(t: Target, step: "check" | "copy" | "mount" | "tags"): void {
    this.run.emit({ type: "start", customer: t.customer, kind: t.kind, target: formatReference(t.ref), step });
  }

  private retry(t: Target) {
    return (attempt: number, e: unknown, delayMs: number) =>
      this.run.emit({ type: "retry", customer: t.customer, kind: t.kind, attempt, delayMs, reason: errorText(e) });
  }

  /** One registry request of `t`'s under the bound, retried (the bound is free during the back-off); `tries` keeps the most any took. */
  private async op<X>(t: Target, tries: Tries, fn: () => Promise<X>): Promise<X> {
    const r = await withRetry(() => this.run.limit(fn), this.run.policy, this.retry(t));
    tries.n = Math.max(tries.n, r.attempts);
    return r.value;
  }

  /** The cache check: settles a cached or failed target (true: missing). Never throws. */
  private async check(t: Target): Promise<boolean> {
    const { req, source } = this.run;
    this.started.set(t, performance.now());
    this.step(t, "check");
    const tries: Tries = { n: 1 };
    let lookup: Map<string, string> | undefined;
    try {
      const state = await this.op(t, tries, async () => {
        if (!this.group.tagLookup) return this.client.headManifest(t.ref);
        lookup = await this.group.tagLookup(t.repository);
        const digest = lookup.get(req.version);
        return { exists: digest !== undefined, digest };
      });
      if (state.exists && state.digest !== source.digest) {
        this.settle(t, {
          status: "failed",
          digest: state.digest,
          bytes: 0,
          attempts: tries.n,
          tags: [],
          reason: `tag ${req.version} already holds ${state.digest}, not the source's ${source.digest}: a version is never overwritten; deliver a new version`,
        });
        return false;
      }
      // The extra tags' state, for writing them later (a failure leaves them to be read then).
      this.tagStates.set(
        t,
        lookup ? Promise.resolve({ tags: lookup, complete: true }) : readTags(this.client, t, this.run.extraTags, this.run.limit, !state.exists),
      );
      if (!state.exists) return true;
      // It holds the image: the seed every mount comes from (a tool copy under way stops).
      this.seed.found(t);
      this.tails.push(this.cached(t, state.digest!, tries));
    } catch (e) {
      this.settle(t, { status: "failed", bytes: 0, attempts: attemptsOf(e), tags: [], reason: `cache check: ${errorText(e)}` });
    }
    return false;
  }

  /** A target that already holds the build: its attached artifacts and tags brought up to date. */
  private async cached(t: Target, digest: string, tries: Tries): Promise<void> {
    const tagTries: Tries = { n: 1 };
    let put: Placed;
    try {
      put = await this.placeAttached(t, tagTries);
    } catch (e) {
      return this.settle(t, {
        status: "failed",
        digest,
        bytes: 0,
        attempts: attemptsOf(e),
        tags: [],
        reason: `signatures and attestations: ${errorText(e)}; latest not moved`,
      });
    }
    try {
      const tags = await ensureTags(this.client, t, this.run.extraTags, await this.tagStates.get(t), (fn) => this.op(t, tagTries, fn));
      this.settle(t, { status: "cached", digest, bytes: put.bytes, attempts: tries.n, ...tags, ...put.attached });
    } catch (e) {
      this.settle(t, { status: "failed", bytes: put.bytes, attempts: attemptsOf(e), tags: [], reason: `cache check: ${errorText(e)}` });
    }
  }

  /**
   * A missing target: the first one (in the order asked) gets the tool copy from the source,
   * unless some target already holds the image; every other one is assembled from blob mounts.
   * When the copy fails for good, the first target still waiting for it makes the next one; a
   * mount that fails for good falls back to a copy of its own.
   */
  private async missing(t: Target, before: Promise<boolean>[]): Promise<void> {
    await Promise.all(before);
    let role = this.seed.role(t);
    for (;;) {
      if (role === "copy") {
        const c = this.seed.copying!;
        this.step(t, "copy");
        void this.poll(c);
        let got: Got;
        try {
          got = await this.copyFromSource(t, c.abort.signal);
        } catch (e) {
          this.seed.copyFailed();
          // Another target turned out to hold the image: mount from it instead.
          if (c.abort.signal.aborted) {
            role = "mount";
            continue;
          }
          return this.settle(t, { status: "failed", bytes: 0, attempts: attemptsOf(e), via: "copy", tags: [], reason: `copy: ${errorText(e)}` });
        }
        this.seed.copied(t);
        return this.finishTarget(t, "copy", got);
      }
      this.step(t, "mount");
      const viaSource = this.seed.fromSource;
      let got: Got | "takeover";
      try {
        got = await this.mountFromSeed(t);
      } catch (e) {
        if (viaSource) {
          // The source cannot be mounted from: one copy, and the rest mount from it, as across registries.
          if (this.seed.fromSource)
            this.run.emit({
              type: "retry",
              customer: t.customer,
              kind: t.kind,
              attempt: attemptsOf(e),
              delayMs: 0,
              reason: `mount from the source ${this.run.req.source.repository} refused (${errorText(e)}); one copy, then mounts from it`,
            });
          this.seed.sourceRefused();
          role = this.seed.role(t);
          continue;
        }
        return this.copyAfterMount(t, e);
      }
      if (got === "takeover") {
        role = "copy";
        continue;
      }
      return this.finishTarget(t, "mount", got);
    }
  }

  /** A mount refused for good (no read on the seed, mounting off) still has the tool copy to try. */
  private async copyAfterMount(t: Target, e: unknown): Promise<void> {
    this.run.emit({
      type: "retry",
      customer: t.customer,
      kind: t.kind,
      attempt: attemptsOf(e),
      delayMs: 0,
      reason: `mount failed (${errorText(e)}); copying from the source instead`,
    });
    this.step(t, "copy");
    let got: Got;
    try {
      got = await this.copyFromSource(t);
    } catch (e2) {
      return this.settle(t, { status: "failed", bytes: 0, attempts: attemptsOf(e2), via: "copy", tags: [], reason: `copy: ${errorText(e2)}` });
    }
    return this.finishTarget(t, "copy", got);
  }

  private async copyFromSource(t: Target, signal?: AbortSignal): Promise<Got> {
    const { req, pinned, source, policy } = this.run;
    const r = await withRetry(
      () =>
        this.run.limit(() => {
          signal?.throwIfAborted();
          return copyImage(
            req.tool,
            { source: pinned, target: t.ref, sourceCredential: req.sourceCredential, targetCredential: this.group.credential, allPlatforms: true },
            signal,
          );
        }, true),
      policy,
      this.retry(t),
    );
    return { bytes: source.bytes, attempts: r.attempts };
  }

  /** Assemble the image in `t` from blob mounts: each platform as soon as the seed has it, then the index; `takeover` when `t` is to make the seed. */
  private async mountFromSeed(t: Target): Promise<Got | "takeover"> {
    const { source, req } = this.run;
    const tries: Tries = { n: 1 };
    let bytes = 0;
    let takeover = false;
    const assemble = async (m: Manifest, byDigest: boolean) => {
      const seed = await this.seed.seedOf(t, m.digest);
      if ("takeover" in seed) return void (takeover = true);
      await Promise.all(
        manifestParts(m).blobs.map(async (b) => (bytes += (await this.op(t, tries, () => this.client.mountBlob(t.host, t.repository, seed.from, b))).bytes)),
      );
      if (!byDigest) return;
      await this.op(t, tries, () => this.client.putManifest(t.host, t.repository, m.digest, m));
      bytes += m.bytes.length;
    };
    const parts = await Promise.allSettled(source.children.length ? source.children.map((c) => assemble(c.manifest, true)) : [assemble(source.root, false)]);
    if (takeover) return "takeover";
    const failed = parts.flatMap((p) => (p.status === "rejected" ? [p.reason as unknown] : []));
    if (failed.length) throw failed[0];
    await this.op(t, tries, () => this.client.putManifest(t.host, t.repository, req.version, source.root));
    return { bytes: bytes + source.root.bytes.length, attempts: tries.n };
  }

  /** While the copy runs and a mount waits for it, look for its child manifests in its repository, in the index's order. */
  private async poll(c: Copying<Target>): Promise<void> {
    for (const child of this.run.source.children) {
      const digest = child.manifest.digest;
      while (this.seed.copying === c && !c.landed.has(digest)) {
        if (this.seed.anyWaiting) {
          const here = await this.run
            .limit(async () => this.seed.copying === c && this.client.hasManifest(c.target.host, c.target.repository, digest), true)
            .catch(() => false);
          if (here) {
            this.seed.land(c, digest);
            break;
          }
        }
        await Promise.race([this.seed.changed(), new Promise((r) => setTimeout(r, POLL_MS).unref())]);
      }
    }
  }

  /** Read the versioned tag back: only a verified digest gets the extra tags and `latest`. Never throws. */
  private async finishTarget(t: Target, via: "copy" | "mount", { bytes, attempts }: Got): Promise<void> {
    const { source, req } = this.run;
    this.step(t, "tags");
    try {
      const tries: Tries = { n: 1 };
      const state = await this.op(t, tries, () => this.client.headManifest(t.ref));
      if (state.digest !== source.digest) {
        return this.settle(t, {
          status: "failed",
          digest: state.digest,
          bytes,
          attempts,
          via,
          tags: [],
          reason: `after the ${via}, tag ${req.version} reads back as ${state.digest ?? "(no digest)"}, not ${source.digest}: latest not moved`,
        });
      }
      let put: Placed;
      try {
        put = await this.placeAttached(t, tries);
      } catch (e) {
        return this.settle(t, {
          status: "failed",
          digest: state.digest,
          bytes,
          attempts: attemptsOf(e),
          via,
          tags: [],
          reason: `signatures and attestations: ${errorText(e)}; latest not moved`,
        });
      }
      const tags = await ensureTags(this.client, t, this.run.extraTags, await this.tagStates.get(t), (fn) => this.op(t, tries, fn));
      this.settle(t, { status: "delivered", digest: source.digest, bytes: bytes + put.bytes, attempts, via, ...tags, ...put.attached });
    } catch (e) {
      this.settle(t, { status: "failed", bytes, attempts: attemptsOf(e), via, tags: [], reason: `verify and tag: ${errorText(e)}` });
    }
  }

  /** The build's attached artifacts into `t`, after its image and before its tags: `latest` never names an image whose signature is missing. */
  private async placeAttached(t: Target, tries: Tries): Promise<Placed> {
    if (this.carrier.empty) return { bytes: 0, attached: {} };
    const { results, bytes } = await this.carrier.place(t.host, t.repository, (fn) => this.op(t, tries, fn), t.fixedTags);
    return { bytes, attached: { attached: results } };
  }
}
