import { AccessDenied, checkAccess } from "../../core/access";
import type { RegistryKind } from "../../core/tiers";
import { KINDS } from "../../kinds";
import { mint as mintAcrFor } from "../../kinds/acr/mint";
import { mint as mintDistributionFor } from "../../kinds/distribution/mint";
import { defaultPushRoleArn, mint as mintEcrFor } from "../../kinds/ecr/mint";
import { mint as mintGarFor } from "../../kinds/gar/mint";
import { mint as mintGhcrFor } from "../../kinds/ghcr/mint";
import { MissingCredential, type MintContext, type MintedCredential, type Minter } from "./types";

export type { MintContext } from "./types";
export { defaultPushRoleArn };
export { AccessDenied } from "../../core/access";

/** Each kind's minting; the compiler asks for a new kind's. */
const MINTERS: Record<RegistryKind, Minter> = { ecr: mintEcrFor, acr: mintAcrFor, gar: mintGarFor, ghcr: mintGhcrFor, distribution: mintDistributionFor };

/** Check the license, then mint with the kind's own SDK. Throws AccessDenied with a reason a person can act on. */
export async function mintFor(customerId: string, kind: RegistryKind, ctx: MintContext): Promise<MintedCredential> {
  try {
    return await mintWith(customerId, kind, ctx);
  } catch (e) {
    const missing = KINDS[kind].noCredentials;
    if (missing && e instanceof Error && missing.is(e)) throw new MissingCredential(missing.fix);
    throw e;
  }
}

async function mintWith(customerId: string, kind: RegistryKind, ctx: MintContext): Promise<MintedCredential> {
  const s = ctx.settings;
  const decision = checkAccess(ctx.roster, customerId, kind, { tierTable: s.tierTable, asOf: ctx.today ?? new Date().toISOString().slice(0, 10), enabledKinds: s.enabledKinds });
  if (!decision.allowed) throw new AccessDenied(decision.reason);
  return MINTERS[kind](decision.customer, ctx);
}

/** A docker config.json fragment for one credential. */
export function dockerConfig(c: MintedCredential): { auths: Record<string, { auth: string }> } {
  return { auths: { [c.registry]: { auth: Buffer.from(`${c.username}:${c.password}`).toString("base64") } } };
}
