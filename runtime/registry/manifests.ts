// Manifests as the registry API carries them: the media types asked for, and what a manifest names.
import { RegistryError } from "./errors";

/** Every manifest type a registry may hold: Distribution 2.8 answers 404 for a stored type not accepted. */
export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export interface ManifestState {
  exists: boolean;
  digest?: string;
  mediaType?: string;
  size?: number;
}

export interface Manifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

/** An OCI content descriptor, as an index or a referrers listing holds it. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface ManifestParts {
  /** Child manifests of an index (with their platform), or none. */
  children: { digest: string; mediaType: string; size: number; platform?: { architecture: string; os: string; variant?: string } }[];
  /** Config and layers of an image manifest, or none. */
  blobs: { digest: string; size: number }[];
}

export function manifestParts(m: Pick<Manifest, "bytes" | "mediaType">): ManifestParts {
  const doc = JSON.parse(m.bytes.toString("utf8")) as {
    manifests?: ManifestParts["children"];
    config?: { digest: string; size: number };
    layers?: { digest: string; size: number; urls?: string[] }[];
  };
  if (doc.manifests)
    return { children: doc.manifests.map((c) => ({ digest: c.digest, mediaType: c.mediaType, size: c.size, platform: c.platform })), blobs: [] };
  if (!doc.config) throw new RegistryError(502, `manifest of type ${m.mediaType || "(none)"} has neither manifests nor config`);
  // Foreign layers (urls) are not stored in the registry: nothing to mount.
  return { children: [], blobs: [doc.config, ...(doc.layers ?? []).filter((l) => !l.urls?.length)].map((b) => ({ digest: b.digest, size: b.size })) };
}
