// What `cosign sign --key`, `cosign attest` and `oras attach` leave in a registry, made here with
// openssl and plain HTTP (no cosign on this machine), so that the delivery's handling of them is
// checked against bytes it did not make.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";

/** A cosign-style key pair (EC P-256, PEM), made with openssl. */
export function makeCosignKey(dir: string, name: string): { key: string; pub: string } {
  const key = path.join(dir, `${name}.key`);
  const pub = path.join(dir, `${name}.pub`);
  execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], { stdio: "pipe" });
  execFileSync("openssl", ["ec", "-in", key, "-pubout", "-out", pub], { stdio: "pipe" });
  return { key, pub };
}

/** An ASN.1 DER ECDSA-SHA256 signature of `data` by `keyFile` (openssl dgst), as cosign makes. */
function opensslSign(dir: string, keyFile: string, data: Buffer): Buffer {
  const file = path.join(dir, `to-sign-${sha(data).slice(7, 19)}`);
  writeFileSync(file, data);
  execFileSync("openssl", ["dgst", "-sha256", "-sign", keyFile, "-out", `${file}.sig`, file], { stdio: "pipe" });
  return readFileSync(`${file}.sig`);
}

/** Does `signature` over `data` verify with `pubFile`? (openssl dgst -verify) */
export function opensslVerify(dir: string, pubFile: string, data: Buffer, signature: Buffer): boolean {
  const file = path.join(dir, `to-verify-${sha(data).slice(7, 19)}`);
  writeFileSync(file, data);
  writeFileSync(`${file}.sig`, signature);
  try {
    execFileSync("openssl", ["dgst", "-sha256", "-verify", pubFile, "-signature", `${file}.sig`, file], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}

/** Push a blob and a manifest to a registry without auth (the source registry), over plain HTTP. */
export async function pushManifest(
  registry: string,
  repository: string,
  reference: string,
  manifest: object,
  blobs: Buffer[],
): Promise<{ digest: string; size: number; bytes: Buffer }> {
  for (const b of blobs) {
    const post = await fetch(`http://${registry}/v2/${repository}/blobs/uploads/`, { method: "POST" });
    if (post.status !== 202) throw new Error(`POST upload: ${post.status}`);
    const url = new URL(post.headers.get("location")!, `http://${registry}/`);
    url.searchParams.set("digest", sha(b));
    const put = await fetch(url, { method: "PUT", body: b, headers: { "content-type": "application/octet-stream" } });
    if (put.status !== 201) throw new Error(`PUT blob: ${put.status} ${await put.text()}`);
  }
  const bytes = Buffer.from(JSON.stringify(manifest));
  const mediaType = (manifest as { mediaType: string }).mediaType;
  const r = await fetch(`http://${registry}/v2/${repository}/manifests/${reference}`, { method: "PUT", body: bytes, headers: { "content-type": mediaType } });
  if (r.status !== 201) throw new Error(`PUT manifest ${reference}: ${r.status} ${await r.text()}`);
  return { digest: sha(bytes), size: bytes.length, bytes };
}

/** cosign's simple-signing payload for `digest`. */
function simpleSigningPayload(dockerReference: string, digest: string): Buffer {
  return Buffer.from(
    JSON.stringify({
      critical: { identity: { "docker-reference": dockerReference }, image: { "docker-manifest-digest": digest }, type: "cosign container image signature" },
      optional: null,
    }),
  );
}

/**
 * One of cosign's images next to the image `digest` (tag `sha256-<hex>.<suffix>`): a config as
 * cosign writes it and one layer, `body`, of `mediaType` with its annotations.
 */
function pushCosignImage(
  registry: string,
  repository: string,
  digest: string,
  suffix: string,
  body: Buffer,
  mediaType: string,
  annotations: Record<string, string>,
) {
  const config = Buffer.from(
    JSON.stringify({
      architecture: "",
      created: "0001-01-01T00:00:00Z",
      history: [{ created: "0001-01-01T00:00:00Z" }],
      os: "",
      rootfs: { type: "layers", diff_ids: [sha(body)] },
      config: {},
    }),
  );
  return pushManifest(
    registry,
    repository,
    `${digest.replace(":", "-")}.${suffix}`,
    {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: "application/vnd.oci.image.config.v1+json", size: config.length, digest: sha(config) },
      layers: [{ mediaType, size: body.length, digest: sha(body), annotations }],
    },
    [config, body],
  );
}

/**
 * `cosign sign --key`: the payload signed by `keyFile`, pushed as `sha256-<hex>.sig` next to the
 * image (`signs`: the digest the payload names, default `digest`: another one makes a signature
 * copied from a different image).
 */
export async function cosignSign(
  dir: string,
  registry: string,
  repository: string,
  digest: string,
  keyFile: string,
  signs = digest,
): Promise<{ digest: string; payload: Buffer }> {
  const payload = simpleSigningPayload(`${registry}/${repository}`, signs);
  const signature = opensslSign(dir, keyFile, payload).toString("base64");
  const pushed = await pushCosignImage(registry, repository, digest, "sig", payload, "application/vnd.dev.cosign.simplesigning.v1+json", {
    "dev.cosignproject.cosign/signature": signature,
  });
  return { digest: pushed.digest, payload };
}

/** `cosign attest --key`: a DSSE envelope of an in-toto statement, pushed as `sha256-<hex>.att`. */
export async function cosignAttest(dir: string, registry: string, repository: string, digest: string, keyFile: string): Promise<{ digest: string }> {
  const statement = Buffer.from(
    JSON.stringify({
      _type: "https://in-toto.io/Statement/v1",
      subject: [{ name: `${registry}/${repository}`, digest: { sha256: digest.slice(7) } }],
      predicateType: "https://slsa.dev/provenance/v1",
      predicate: { buildDefinition: { buildType: "https://example.com/build" } },
    }),
  );
  const payloadType = "application/vnd.in-toto+json";
  const pae = Buffer.from(`DSSEv1 ${payloadType.length} ${payloadType} ${statement.length} ${statement.toString("binary")}`, "binary");
  const envelope = Buffer.from(
    JSON.stringify({ payloadType, payload: statement.toString("base64"), signatures: [{ keyid: "", sig: opensslSign(dir, keyFile, pae).toString("base64") }] }),
  );
  return pushCosignImage(registry, repository, digest, "att", envelope, "application/vnd.dsse.envelope.v1+json", {
    predicateType: "https://slsa.dev/provenance/v1",
  });
}

/**
 * `oras attach --artifact-type application/spdx+json` to a registry without the referrers API: the
 * SBOM manifest (subject: the image) by digest, and the `sha256-<hex>` index tag listing it.
 */
export async function attachSbom(
  registry: string,
  repository: string,
  subject: { digest: string; size: number; mediaType: string },
  o: { indexTag?: boolean } = {},
): Promise<{ digest: string; size: number; sbom: Buffer }> {
  const empty = Buffer.from("{}");
  const sbom = Buffer.from(JSON.stringify({ spdxVersion: "SPDX-2.3", name: `app@${subject.digest}`, packages: [{ name: "openssl", versionInfo: "3.0.15" }] }));
  const manifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType: "application/spdx+json",
    config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha(empty), size: empty.length },
    layers: [{ mediaType: "application/spdx+json", digest: sha(sbom), size: sbom.length, annotations: { "org.opencontainers.image.title": "sbom.spdx.json" } }],
    subject,
  };
  const digest = sha(Buffer.from(JSON.stringify(manifest)));
  const pushed = await pushManifest(registry, repository, digest, manifest, [empty, sbom]);
  if (o.indexTag === false) return { digest: pushed.digest, size: pushed.size, sbom };
  await pushManifest(
    registry,
    repository,
    subject.digest.replace(":", "-"),
    {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [{ mediaType: OCI_MANIFEST, digest: pushed.digest, size: pushed.size, artifactType: "application/spdx+json" }],
    },
    [],
  );
  return { digest: pushed.digest, size: pushed.size, sbom };
}
