import { discard, READ_LIMITS, readLimited, RegistryError } from "../registry/errors";
import { manifestParts } from "../registry/manifests";
import { type RegistryClient } from "../registry/client";
import { formatReference, type ImageReference } from "../../core/reference";
import type { SourceImage } from "./types";

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
