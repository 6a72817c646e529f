import { RegistryError } from "../registry/errors";
import { type RegistryClient } from "../registry/client";
import type { Limit } from "./limit";
import type { ExtraTag, TagState, Target, TargetResult } from "./types";

/**
 * The extra tags' digests now (absent: undefined), one try each: a failure leaves a tag unknown.
 * Where the versioned tag is missing, the listing says which of them exist at all (for a new
 * repository, none): only those are read.
 */
export async function readTags(client: RegistryClient, t: Target, extraTags: ExtraTag[], limit: Limit, listFirst: boolean): Promise<TagState> {
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
 * @param known the tags as read during the target's check
 * @param op one registry request of the target's, under the bound and retried
 */
export async function ensureTags(
  client: RegistryClient,
  t: Target,
  extraTags: ExtraTag[],
  known: TagState | undefined,
  op: <X>(fn: () => Promise<X>) => Promise<X>,
): Promise<Pick<TargetResult, "tags" | "kept">> {
  const have = await Promise.all(
    extraTags.map((w) =>
      known && (known.complete || known.tags.has(w.tag))
        ? known.tags.get(w.tag)
        : op(() => client.headManifest({ ...t.ref, tag: w.tag })).then((s) => s.digest),
    ),
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
    op(async () => {
      const digest = await client.putManifest(t.host, t.repository, w.tag, w.manifest);
      if (digest !== w.manifest.digest) throw new RegistryError(502, `tag ${w.tag} was stored as ${digest}, not ${w.manifest.digest}`);
    });
  // The platform tags at once; `latest` after them.
  await Promise.all(stale.filter((w) => !w.last).map(put));
  for (const w of stale.filter((w) => w.last)) await put(w);
  return { tags: stale.map((w) => w.tag), ...(kept.length ? { kept } : {}) };
}
