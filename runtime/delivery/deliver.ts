import { apiHost, type ImageReference } from "../../core/reference";
import { RegistryClient } from "../registry/client";
import { DEFAULT_RETRY, withRetry } from "./retry";
import { findAttached } from "./attached";
import { requireSignature } from "./signature";
import { readSource } from "./source";
import { allowedTargets, checkGiven, credentialGroups, validateNames } from "./targets";
import { GroupDelivery } from "./group";
import { bound } from "./limit";
import type { DeliveryRequest, ExtraTag, TargetResult } from "./types";

export type { CredentialGroup, DeliveryEvent, DeliveryPlanTarget, DeliveryRequest, TargetResult } from "./types";
export { platformSuffix, readSource } from "./source";

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
  const emit = req.onEvent ?? (() => {});
  validateNames(req);
  const results: TargetResult[] = [];
  const finish = (r: TargetResult) => {
    results.push(r);
    emit({ type: "done", result: r });
  };

  const allowed = allowedTargets(req, finish);
  // Nothing allowed: the source is not even read.
  if (allowed.size === 0) return results;
  const sourceClient = new RegistryClient(req.sourceCredential, req.fetchImpl);
  const { value: source } = await withRetry(() => readSource(sourceClient, req.source), policy);
  const sourceHost = apiHost(req.source);
  // What the build carries beside the image, checked before anything is written anywhere.
  const attached =
    req.attached === false && !req.requireSignature
      ? []
      : (
          await withRetry(
            () => findAttached(sourceClient, sourceHost, req.source.repository, [source.digest, ...source.children.map((c) => c.manifest.digest)]),
            policy,
          )
        ).value;
  if (req.requireSignature) await requireSignature(sourceClient, sourceHost, req.source.repository, source.digest, attached, req.requireSignature);
  const carried = req.attached === false ? [] : attached;
  emit({
    type: "source",
    digest: source.digest,
    bytes: source.bytes,
    platforms: source.platformTags.map((t) => t.suffix),
    attached: carried.map((a) => a.kind),
    signedBy: req.requireSignature?.name,
  });
  // The copy reads exactly the digest checked here (skopeo takes a digest or a tag, not both).
  const pinned: ImageReference = { registry: req.source.registry, repository: req.source.repository, digest: source.digest };
  const extraTags: ExtraTag[] = [
    ...((req.archTags ?? true) ? source.platformTags.map((p) => ({ tag: `${req.version}-${p.suffix}`, manifest: p.manifest })) : []),
    ...((req.latest ?? true) ? [{ tag: "latest", manifest: source.root, last: true }] : []),
  ];

  const groups = await credentialGroups(req, allowed, finish);
  await checkGiven(groups, policy);
  const run = { req, policy, limit: bound(Math.max(1, req.concurrency ?? 4)), emit, finish, source, sourceClient, sourceHost, carried, pinned, extraTags };
  await Promise.all(groups.map(({ group, targets, client }) => new GroupDelivery(run, group, targets, client).deliver()));
  // Results in the order the targets were asked for.
  const order = (r: { customer: string; kind: string }) => req.targets.findIndex((t) => t.customer === r.customer && t.kind === r.kind);
  return results.sort((a, b) => order(a) - order(b));
}
