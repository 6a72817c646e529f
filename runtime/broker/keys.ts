import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { InvalidInput } from "../../core/errors";

export class KeyFileError extends InvalidInput {}

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
    privateKey = createPrivateKey(readFileSync(keyFile));
  } catch (e) {
    throw new KeyFileError(`${keyFile}: not a PEM private key (${(e as Error).message})`);
  }
  try {
    cert = new X509Certificate(readFileSync(certFile));
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
    privateKey = loaded ?? createPrivateKey(readFileSync(keyFile));
  } catch (e) {
    throw new KeyFileError(`${keyFile}: not a PEM private key (${(e as Error).message})`);
  }
  const publicKey = createPublicKey(privateKey);
  const d = privateKey.asymmetricKeyDetails;
  let alg: SigningKey["alg"];
  if (privateKey.asymmetricKeyType === "ec" && d?.namedCurve === "prime256v1") alg = "ES256";
  else if (privateKey.asymmetricKeyType === "rsa" && (d?.modulusLength ?? 0) >= 2048) alg = "RS256";
  else throw new KeyFileError(`${keyFile}: Distribution accepts ES256 (EC P-256) or RS256 (RSA >= 2048) keys, not ${privateKey.asymmetricKeyType} ${d?.namedCurve ?? d?.modulusLength ?? ""}`);
  return { alg, privateKey, publicKey, x5c: [] };
}
