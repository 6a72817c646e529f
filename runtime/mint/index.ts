import { InvalidInput } from "../../core/errors";
import { AccessDenied, checkAccess } from "../../core/access";
import type { RegistryKind } from "../../core/tiers";
import { customerNamespace, KINDS } from "../../kinds";
import { entitledProducts } from "../../customers/entitlements";
import { MissingCredential, type MintContext, type MintedCredential } from "./types";
import { MINTERS } from "../../kinds/minters";

export type { MintContext } from "./types";
export { AccessDenied } from "../../core/access";

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
  const decision = checkAccess(ctx.roster, customerId, kind, {
    tierTable: s.tierTable,
    asOf: ctx.today ?? new Date().toISOString().slice(0, 10),
    enabledKinds: s.enabledKinds,
  });
  // A kind the stack does not enable is the caller's input to fix (exit 2), not a license's word (exit 3).
  if (!decision.allowed) throw decision.code === "kind_disabled" ? new InvalidInput(`--kind ${kind}: ${decision.reason}`) : new AccessDenied(decision.reason);
  if (!s.products) return (await MINTERS[kind]())(decision.customer, ctx);
  // With a catalogue, a credential reaches the entitled products only: none, no credential.
  const entitled = entitledProducts(decision.customer, s.products, s.tierEntitlements);
  if (entitled.length === 0)
    throw new AccessDenied(`customer ${customerId} is entitled to no product of the stack's catalogue: its ${kind} credential would reach nothing`);
  const cred = await (await MINTERS[kind]())(decision.customer, ctx);
  // Under the credential's own host (an ECR proxy endpoint may name it another way than the settings).
  const under = (full: string) => `${cred.registry}/${full.slice(full.indexOf("/") + 1)}`;
  return { ...cred, products: Object.fromEntries(entitled.map((p) => [p, under(customerNamespace(kind, customerId, s, p))])) };
}
