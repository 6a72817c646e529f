import { createPrivateKey, createPublicKey, sign, X509Certificate, type KeyObject, type SignKeyObjectInput } from "node:crypto";
import { readFileSync } from "node:fs";
import { InvalidInput } from "../../core/errors";

export class KeyFileError extends InvalidInput {}

/** A key or certificate file's bytes; one that cannot be read is said as such (not "not a PEM key"). */
function readKeyFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new KeyFileError(`${file}: cannot read the ${what} (${code === "ENOENT" ? "no such file" : (code ?? (e as Error).message)}): check the path given`);
  }
}

export interface SigningKey {
  alg: "ES256" | "RS256";
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The certificate chain in the JWT's x5c header: Distribution finds the key by it, checked against its rootcertbundle. */
  x5c: string[];
}

/**
 * Load the broker's key pair. Distribution 2.8 accepts ES256 and RS256 only, and finds the key
 * through x5c (a chain to its rootcertbundle), so the certificate goes into every token.
 */
export function loadSigningKey(keyFile: string, certFile: string): SigningKey {
  let privateKey: KeyObject;
  let cert: X509Certificate;
  try {
    privateKey = createPrivateKey(readKeyFile(keyFile, "private key"));
  } catch (e) {
    if (e instanceof KeyFileError) throw e;
    throw new KeyFileError(`${keyFile}: not a PEM private key (${(e as Error).message})`);
  }
  const certBytes = readKeyFile(certFile, "certificate");
  try {
    cert = new X509Certificate(certBytes);
  } catch (e) {
    throw new KeyFileError(`${certFile}: not a PEM certificate (${(e as Error).message})`);
  }
  const signing = loadPrivateSigningKey(keyFile, privateKey);
  if (!cert.publicKey.equals(signing.publicKey)) throw new KeyFileError(`${certFile}: its public key does not match ${keyFile}`);
  return { ...signing, x5c: [cert.raw.toString("base64")] };
}

/** The key alone: enough to mint offline robot credentials, which the broker verifies with its certificate's key. */
export function loadPrivateSigningKey(keyFile: string, loaded?: KeyObject): SigningKey {
  let privateKey: KeyObject;
  try {
    privateKey = loaded ?? createPrivateKey(readKeyFile(keyFile, "private key"));
  } catch (e) {
    if (e instanceof KeyFileError) throw e;
    throw new KeyFileError(`${keyFile}: not a PEM private key (${(e as Error).message})`);
  }
  const publicKey = createPublicKey(privateKey);
  const d = privateKey.asymmetricKeyDetails;
  let alg: SigningKey["alg"];
  if (privateKey.asymmetricKeyType === "ec" && d?.namedCurve === "prime256v1") alg = "ES256";
  else if (privateKey.asymmetricKeyType === "rsa" && (d?.modulusLength ?? 0) >= 2048) alg = "RS256";
  else
    throw new KeyFileError(
      `${keyFile}: Distribution accepts ES256 (EC P-256) or RS256 (RSA >= 2048) keys, not ${privateKey.asymmetricKeyType} ${d?.namedCurve ?? d?.modulusLength ?? ""}`,
    );
  return { alg, privateKey, publicKey, x5c: [] };
}

/**
 * A compact JWS signer for one key and one fixed protected header (`alg` first, then `header`'s
 * fields in their order). The header is encoded and the signing options made once; each token is
 * one JSON.stringify and one synchronous `crypto.sign`: ES256 in the JOSE form (`ieee-p1363`, r
 * and s of 32 bytes each), RS256 as PKCS#1 v1.5. The JWS is the one jose's SignJWT makes
 * (test/unit/runtime/broker/broker.test.ts compares them); SignJWT sends every signature through libuv's thread pool
 * (a promisified `crypto.sign`), which cost the broker about four times the signature itself.
 */
export function jwsSigner(key: SigningKey, header: Record<string, unknown>): (payload: object) => string {
  const head = Buffer.from(JSON.stringify({ alg: key.alg, ...header })).toString("base64url");
  const signWith: SignKeyObjectInput | KeyObject = key.alg === "ES256" ? { key: key.privateKey, dsaEncoding: "ieee-p1363" } : key.privateKey;
  return (payload) => {
    const input = `${head}.${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
    return `${input}.${sign("sha256", Buffer.from(input), signWith).toString("base64url")}`;
  };
}
