import { manifestParts, type Descriptor, type Manifest } from "../registry/manifests";
import { RegistryClient } from "../registry/client";
import { RegistryError } from "../registry/errors";

/**
 * What a build carries beside its image, so that a customer's admission controller can check what
 * was delivered: cosign's tag-scheme artifacts (`sha256-<hex>.sig`, `.att`, `.sbom` next to the
 * image) and OCI 1.1 referrers (manifests whose `subject` is the image), read from the registry's
 * referrers API or, where it has none (Distribution 2.8), from the `sha256-<hex>` index tag.
 */
type AttachedKind = "signature" | "attestation" | "sbom" | "referrer";

export interface AttachedArtifact {
  kind: AttachedKind;
  /** The manifest it is attached to. */
  subject: string;
  /** cosign's tag (`sha256-<hex>.sig`); none for a referrer. */
  tag?: string;
  /** A referrer's descriptor as its listing gave it (artifactType, annotations), for the target's index. */
  descriptor?: Descriptor;
  manifest: Manifest;
  /** An artifact that is an index: its child manifests, written before it. */
  children: Manifest[];
  /** Config and layers of the manifest and its children, each once. */
  blobs: { digest: string; size: number }[];
}

/** One artifact's outcome on a target. */
export interface AttachedResult {
  kind: AttachedKind;
  digest: string;
  subject: string;
  tag?: string;
  /**
   * `copied` by this run, or already `present`; `kept`: its tag names another artifact (earlier
   * signatures) on a registry whose tags never move, so it is left as it is (`held`).
   */
  how: "copied" | "present" | "kept";
  held?: string;
}

const COSIGN: [suffix: string, kind: AttachedKind][] = [
  ["sig", "signature"],
  ["att", "attestation"],
  ["sbom", "sbom"],
];

/** cosign's tag for an artifact of `digest`: `sha256-<hex>.sig`. */
const cosignTag = (digest: string, suffix: string) => `${digest.replace(":", "-")}.${suffix}`;
/** The OCI 1.1 referrers tag schema's index of `digest`'s referrers: `sha256-<hex>`. */
const referrersTag = (digest: string) => digest.replace(":", "-");

/** Attached artifacts of attached artifacts (a signed SBOM) are followed this deep. */
const MAX_DEPTH = 3;

const INDEX_TYPE = "application/vnd.oci.image.index.v1+json";

/** A manifest by tag or digest, or undefined when the repository does not hold it. */
async function maybeManifest(client: RegistryClient, host: string, repository: string, reference: string): Promise<Manifest | undefined> {
  try {
    return await client.getManifest(host, repository, reference);
  } catch (e) {
    if (e instanceof RegistryError && e.status === 404) return undefined;
    throw e;
  }
}

async function artifact(client: RegistryClient, host: string, repository: string, a: Omit<AttachedArtifact, "children" | "blobs">): Promise<AttachedArtifact> {
  const parts = manifestParts(a.manifest);
  const children = await Promise.all(parts.children.map((c) => client.getManifest(host, repository, c.digest)));
  const blobs = new Map<string, number>();
  for (const m of [a.manifest, ...children]) for (const b of manifestParts(m).blobs) blobs.set(b.digest, b.size);
  return { ...a, children, blobs: [...blobs].map(([digest, size]) => ({ digest, size })) };
}

/**
 * Every artifact attached to `subjects` (the image's manifests) in `repository`, and to those
 * artifacts in turn, subjects first. One tag listing tells which cosign tags exist (where the
 * listing has more pages, each tag is asked for).
 */
export async function findAttached(client: RegistryClient, host: string, repository: string, subjects: string[]): Promise<AttachedArtifact[]> {
  const tags = await client.listTags(host, repository);
  const has = (tag: string) => !tags || tags.includes(tag);
  const found: AttachedArtifact[] = [];
  const seen = new Set(subjects);
  let level = subjects;
  for (let depth = 0; depth < MAX_DEPTH && level.length; depth++) {
    const perSubject = await Promise.all(
      level.map(async (subject) => {
        const mine: AttachedArtifact[] = [];
        for (const [suffix, kind] of COSIGN) {
          const tag = cosignTag(subject, suffix);
          const m = has(tag) ? await maybeManifest(client, host, repository, tag) : undefined;
          if (m) mine.push(await artifact(client, host, repository, { kind, subject, tag, manifest: m }));
        }
        let listed = await client.referrers(host, repository, subject);
        if (!listed) {
          const index = has(referrersTag(subject)) ? await maybeManifest(client, host, repository, referrersTag(subject)) : undefined;
          listed = index ? ((JSON.parse(index.bytes.toString("utf8")) as { manifests?: Descriptor[] }).manifests ?? []) : [];
        }
        for (const d of listed) {
          const m = await client.getManifest(host, repository, d.digest);
          mine.push(await artifact(client, host, repository, { kind: "referrer", subject, descriptor: d, manifest: m }));
        }
        return mine;
      }),
    );
    const next: string[] = [];
    for (const a of perSubject.flat()) {
      found.push(a);
      if (!seen.has(a.manifest.digest)) {
        seen.add(a.manifest.digest);
        next.push(a.manifest.digest);
      }
    }
    level = next;
  }
  return found;
}

/** Where a blob may be had: the source (the first copy into a registry) or a repository of the target's registry that holds it. */
export interface AttachedSource {
  client: RegistryClient;
  host: string;
  repository: string;
}

/**
 * Puts the attached artifacts into the targets of one registry credential: a blob crosses from the
 * source registry once (streamed, never to disk); every other target of the same registry mounts
 * it from the first that has it, as the image's blobs are.
 */
export class AttachedCopier {
  /** Blob digest -> the repository (of this registry) its first upload went to. */
  private readonly seeds = new Map<string, Promise<string>>();

  constructor(
    private readonly client: RegistryClient,
    private readonly source: AttachedSource,
    private readonly artifacts: AttachedArtifact[],
  ) {}

  get empty(): boolean {
    return this.artifacts.length === 0;
  }

  /**
   * Every artifact into `host/repository`: cosign's under their tags, referrers by digest (and,
   * where the registry has no referrers API, listed in the `sha256-<hex>` index tag). `op` runs one
   * registry request (bounded and retried by the caller). Returns what each got and the bytes sent.
   * `fixedTags`: the registry never moves a tag once written, so a tag that names something else
   * already is left as it is.
   */
  async place(
    host: string,
    repository: string,
    op: <T>(fn: () => Promise<T>) => Promise<T>,
    fixedTags = false,
  ): Promise<{ results: AttachedResult[]; bytes: number }> {
    const results: AttachedResult[] = [];
    let bytes = 0;
    for (const a of this.artifacts) {
      const held = a.tag ? (await op(() => this.client.headManifest({ registry: host, repository, tag: a.tag }))).digest : undefined;
      const present = a.tag ? held === a.manifest.digest : await op(() => this.client.hasManifest(host, repository, a.manifest.digest));
      if (fixedTags && a.tag && held !== undefined && !present) {
        results.push({ kind: a.kind, digest: a.manifest.digest, subject: a.subject, tag: a.tag, how: "kept", held });
        continue;
      }
      if (!present) {
        await Promise.all(a.blobs.map(async (b) => (bytes += await this.blob(host, repository, b, op))));
        for (const child of a.children) {
          await op(() => this.client.putManifest(host, repository, child.digest, child));
          bytes += child.bytes.length;
        }
        const digest = await op(() => this.client.putManifest(host, repository, a.tag ?? a.manifest.digest, a.manifest));
        if (digest !== a.manifest.digest) throw new RegistryError(502, `${a.tag ?? a.kind} was stored as ${digest}, not ${a.manifest.digest}`);
        bytes += a.manifest.bytes.length;
      }
      results.push({ kind: a.kind, digest: a.manifest.digest, subject: a.subject, ...(a.tag ? { tag: a.tag } : {}), how: present ? "present" : "copied" });
    }
    bytes += await this.indexReferrers(host, repository, op, fixedTags);
    return { results, bytes };
  }

  /** Where the registry has no referrers API, each subject's referrers go into its `sha256-<hex>` index (merged with what it lists). */
  private async indexReferrers(host: string, repository: string, op: <T>(fn: () => Promise<T>) => Promise<T>, fixedTags: boolean): Promise<number> {
    const bySubject = new Map<string, Descriptor[]>();
    for (const a of this.artifacts) {
      if (a.kind !== "referrer") continue;
      const d: Descriptor = { ...a.descriptor, mediaType: a.manifest.mediaType, digest: a.manifest.digest, size: a.manifest.bytes.length };
      bySubject.set(a.subject, [...(bySubject.get(a.subject) ?? []), d]);
    }
    let bytes = 0;
    for (const [subject, wanted] of bySubject) {
      if (await op(() => this.client.referrers(host, repository, subject))) continue;
      const tag = referrersTag(subject);
      const existing = await op(() => maybeManifest(this.client, host, repository, tag));
      const doc = existing
        ? (JSON.parse(existing.bytes.toString("utf8")) as { manifests?: Descriptor[] } & Record<string, unknown>)
        : { schemaVersion: 2, mediaType: INDEX_TYPE, manifests: [] };
      const listed = doc.manifests ?? [];
      const add = wanted.filter((d) => !listed.some((x) => x.digest === d.digest));
      // An index tag that exists cannot be rewritten where tags never move: the referrers are there by digest.
      if (!add.length || (fixedTags && existing)) continue;
      const index = { bytes: Buffer.from(JSON.stringify({ ...doc, manifests: [...listed, ...add] })), mediaType: INDEX_TYPE };
      await op(() => this.client.putManifest(host, repository, tag, index));
      bytes += index.bytes.length;
    }
    return bytes;
  }

  /** One blob into `repository`: already there, mounted from the first repository that got it, or streamed from the source. */
  private async blob(host: string, repository: string, b: { digest: string; size: number }, op: <T>(fn: () => Promise<T>) => Promise<T>): Promise<number> {
    const seed = this.seeds.get(b.digest);
    if (seed) {
      const from = await seed.catch(() => undefined);
      if (from && from !== repository) return (await op(() => this.client.mountBlob(host, repository, from, b))).bytes;
      if (from === repository) return 0;
    }
    const upload = (async () => {
      if (await op(() => this.client.blobExists(host, repository, b.digest))) return { repository, bytes: 0 };
      await op(async () => {
        const get = await this.source.client.getBlob(this.source.host, this.source.repository, b.digest);
        await this.client.uploadBlob(host, repository, b, get.body ?? Buffer.alloc(0));
      });
      return { repository, bytes: b.size };
    })();
    if (!seed)
      this.seeds.set(
        b.digest,
        upload.then((u) => u.repository),
      );
    return (await upload).bytes;
  }
}
