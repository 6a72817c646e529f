import type { Settings } from "../../core/settings";
import type { RegistryKind } from "../../core/tiers";
import type { Customer, Roster } from "../../customers/roster";
import type { SigningKey } from "../broker/keys";
import { InvalidInput } from "../../core/errors";

/** A credential for one customer's namespace on one registry. */
export interface MintedCredential {
  kind: RegistryKind;
  /** Registry host, e.g. `111122223333.dkr.ecr.eu-west-1.amazonaws.com`. */
  registry: string;
  /** Where the customer's repositories are, `host/path/`. */
  namespace: string;
  /**
   * With a product catalogue: where each entitled product's repositories are, `host/path/` (the
   * credential reaches these only; on Artifact Registry and GHCR each is a repository of its own,
   * beside the namespace rather than under it).
   */
  products?: Record<string, string>;
  username: string;
  /** A secret: never logged, never written to shared files. */
  password: string;
  /** When it stops working (the earliest bound that applies), or null for a long-lived one. */
  expiresAt: Date | null;
  /** Set when the credential cannot expire or be scoped (GHCR machine-user PATs). */
  longLived?: boolean;
  /** What it reaches, as the provider expresses it. */
  scope: Record<string, unknown>;
}

/** One hour: what every short-lived kind mints. */
export const TOKEN_SECONDS = 3600;

/** A credential source the caller must supply is missing (a key file, a subscription, a PAT variable): bad input, not a failure. */
export class MissingCredential extends InvalidInput {}

export interface MintContext {
  settings: Settings;
  roster: Roster;
  /** distribution: the broker's private key. */
  signingKey?: SigningKey;
  /** ghcr: the customer's machine-user PAT (the stack secret, decrypted by the caller). */
  ghcrToken?: string;
  /** acr: the subscription of the shared registry. */
  azureSubscriptionId?: string;
  /** ecr: the push role; default the one the platform declares. */
  pushRoleArn?: string;
  /** acr: which of the token's two password slots to regenerate (the broker's endpoint keeps password1, one-off mints use password2). */
  acrPasswordSlot?: "password1" | "password2";
  /** YYYY-MM-DD; default today. A stack's pinned asOf is for plans, never for minting. */
  today?: string;
}

/** One kind's minting, after the license check allowed `customer`: each kind's in kinds/<kind>/mint.ts. */
export type Minter = (customer: Customer, ctx: MintContext) => Promise<MintedCredential>;

/** A credential as `intake token` and the broker's /registry/credentials give it: the secret once, for the caller. */
export function credentialJson(c: MintedCredential): Record<string, unknown> {
  return {
    registry: c.registry,
    namespace: c.namespace,
    ...(c.products ? { products: c.products } : {}),
    username: c.username,
    password: c.password,
    expiresAt: c.expiresAt?.toISOString() ?? null,
    ...(c.longLived ? { longLived: true } : {}),
  };
}

/** A docker config.json fragment for one credential. */
export function dockerConfig(c: MintedCredential): { auths: Record<string, { auth: string }> } {
  return { auths: { [c.registry]: { auth: Buffer.from(`${c.username}:${c.password}`).toString("base64") } } };
}
