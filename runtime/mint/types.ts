import type { RegistryKind } from "../../core/tiers";
import { InvalidInput } from "../../core/errors";

/** A credential for one customer's namespace on one registry. */
export interface MintedCredential {
  kind: RegistryKind;
  /** Registry host, e.g. `111122223333.dkr.ecr.eu-west-1.amazonaws.com`. */
  registry: string;
  /** Where the customer's repositories are, `host/path/`. */
  namespace: string;
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
