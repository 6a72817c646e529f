import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { tarOf } from "../runtime/registry/oci-layout";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

export interface MultiArchOptions {
  platforms?: { architecture: string; os: string; variant?: string }[];
  /** Layers per platform, and the bytes of each (random, stored uncompressed: copies move them as they are). */
  layers?: number;
  layerBytes?: number;
}

/**
 * Write an OCI image layout holding one image index tagged `tag`: one image per platform, each
 * with its own random layers. Returns the layout folder, the index digest and the total bytes
 * of manifests and blobs.
 */
export function writeMultiArchImage(dir: string, tag: string, o: MultiArchOptions = {}): { layout: string; digest: string; bytes: number } {
  const platforms = o.platforms ?? [
    { architecture: "amd64", os: "linux" },
    { architecture: "arm64", os: "linux", variant: "v8" },
  ];
  const blobs = path.join(dir, "blobs", "sha256");
  mkdirSync(blobs, { recursive: true });
  let bytes = 0;
  const put = (b: Buffer) => {
    writeFileSync(path.join(blobs, sha(b)), b);
    bytes += b.length;
    return { digest: `sha256:${sha(b)}`, size: b.length };
  };
  const manifests = platforms.map((p) => {
    const layers = Array.from({ length: o.layers ?? 2 }, (_, i) => tarOf(`layer-${i}.bin`, randomBytes(o.layerBytes ?? 32 * 1024)));
    const config = Buffer.from(JSON.stringify({ ...p, rootfs: { type: "layers", diff_ids: layers.map((l) => `sha256:${sha(l)}`) }, config: {} }));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", ...put(config) },
        layers: layers.map((l) => ({ mediaType: "application/vnd.oci.image.layer.v1.tar", ...put(l) })),
      }),
    );
    return { mediaType: "application/vnd.oci.image.manifest.v1+json", ...put(manifest), platform: p };
  });
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }));
  const root = put(index);
  writeFileSync(path.join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  writeFileSync(
    path.join(dir, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [{ mediaType: "application/vnd.oci.image.index.v1+json", ...root, annotations: { "org.opencontainers.image.ref.name": tag } }],
    }),
  );
  return { layout: dir, digest: root.digest, bytes };
}
