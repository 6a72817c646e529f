import { createHash, createPublicKey, verify, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { Failed, InvalidInput } from "../../core/errors";
import type { AttachedArtifact } from "./attached";
import { readLimited } from "../registry/errors";
import { type RegistryClient } from "../registry/client";

/**
 * Keyed cosign signatures (`cosign sign --key`): the `sha256-<hex>.sig` manifest's layers are
 * simple-signing payloads, each with its signature (base64) in the layer's
 * `dev.cosignproject.cosign/signature` annotation. A signature counts when it verifies against the
 * public key over the payload's bytes and the payload names the image's digest. Transparency-log
 * entries and keyless (Fulcio) certificates are not checked: this is `cosign verify --key KEY.pub
 * --insecure-ignore-tlog`.
 */

/** A public key a delivery requires signatures by, and the name it is reported under. */
export interface SignatureKey {
  key: KeyObject;
  name: string;
}

const SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";
const SIMPLE_SIGNING = "cosign container image signature";
/** A payload is a few hundred bytes; a layer claiming more is not read. */
const MAX_PAYLOAD = 64 * 1024;

/** A PEM public key file (cosign.pub): ECDSA, RSA or Ed25519. `what` names where it was given (flag or setting). */
export function loadSignatureKey(file: string, what: string): SignatureKey {
  let pem: string;
  try {
    pem = readFileSync(file, "utf8");
  } catch (e) {
    throw new InvalidInput(
      `${what} ${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): give the PEM public key the builds are signed with (cosign.pub)`,
    );
  }
  // createPublicKey takes a private key too (and derives the public half): a private key has no business here.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem))
    throw new InvalidInput(`${what} ${file}: not a PEM public key: give the public half (cosign.pub, "-----BEGIN PUBLIC KEY-----"), never the private key`);
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch {
    throw new InvalidInput(`${what} ${file}: not a PEM public key: give the public half (cosign.pub, "-----BEGIN PUBLIC KEY-----"), never the private key`);
  }
  if (!["ec", "rsa", "ed25519"].includes(key.asymmetricKeyType ?? ""))
    throw new InvalidInput(`${what} ${file}: a ${key.asymmetricKeyType} key; cosign signs with ECDSA, RSA or Ed25519`);
  return { key, name: file };
}

/** The hash cosign signs with for this key: SHA-256, SHA-384 for P-384, SHA-512 for P-521; none (pure) for Ed25519. */
function hashOf(key: KeyObject): string | null {
  if (key.asymmetricKeyType === "ed25519") return null;
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve === "secp384r1" ? "sha384" : curve === "secp521r1" ? "sha512" : "sha256";
}

/** Why one signature layer does not count, or undefined when it does. */
function check(payload: Buffer, signature: string, digest: string, key: KeyObject): string | undefined {
  let ok: boolean;
  try {
    ok = verify(hashOf(key), payload, key, Buffer.from(signature, "base64"));
  } catch {
    ok = false;
  }
  if (!ok) return "made by another key (or not over this payload)";
  let doc: { critical?: { type?: string; image?: { "docker-manifest-digest"?: string } } };
  try {
    doc = JSON.parse(payload.toString("utf8"));
  } catch {
    return "its payload is not JSON";
  }
  if (doc.critical?.type !== SIMPLE_SIGNING) return `its payload's type is ${JSON.stringify(doc.critical?.type)}, not "${SIMPLE_SIGNING}"`;
  const signed = doc.critical.image?.["docker-manifest-digest"];
  if (signed !== digest) return `it signs ${signed ?? "no digest"}, not ${digest}`;
  return undefined;
}

/**
 * Require a signature by `key` on `digest` among the source's attached artifacts, or throw Failed
 * (exit 4) saying what was found. Reads each signature payload from the source registry.
 */
export async function requireSignature(
  client: RegistryClient,
  host: string,
  repository: string,
  digest: string,
  attached: AttachedArtifact[],
  key: SignatureKey,
): Promise<void> {
  const where = `${host}/${repository}@${digest}`;
  const sig = attached.find((a) => a.kind === "signature" && a.subject === digest);
  if (!sig)
    throw new Failed(
      `signature required (${key.name}): ${where} carries no cosign signature (no ${digest.replace(":", "-")}.sig tag): nothing delivered; sign the build with \`cosign sign --key\` and the private half of that key`,
    );
  const layers =
    (JSON.parse(sig.manifest.bytes.toString("utf8")) as { layers?: { digest: string; size: number; annotations?: Record<string, string> }[] }).layers ?? [];
  const reasons: string[] = [];
  for (const l of layers) {
    const signature = l.annotations?.[SIGNATURE_ANNOTATION];
    if (!signature) continue;
    if (l.size > MAX_PAYLOAD) {
      reasons.push(`a payload of ${l.size} bytes`);
      continue;
    }
    // Read no further than the layer declares: a registry that sends more is refused, not believed.
    const r = await client.getBlob(host, repository, l.digest);
    const payload = await readLimited(r, l.size);
    if (!payload) {
      reasons.push(`its payload is larger than the ${l.size} bytes its layer declares`);
      continue;
    }
    if (`sha256:${createHash("sha256").update(payload).digest("hex")}` !== l.digest) {
      reasons.push(`its payload is not the layer ${l.digest}`);
      continue;
    }
    const why = check(payload, signature, digest, key.key);
    if (!why) return;
    reasons.push(why);
  }
  const found = reasons.length
    ? `${reasons.length} signature${reasons.length > 1 ? "s" : ""}, none valid: ${[...new Set(reasons)].join("; ")}`
    : "its .sig holds no signature";
  throw new Failed(`signature required (${key.name}): ${where} has no cosign signature valid for that key (${found}): nothing delivered`);
}
