import type { Customer, Roster } from "../customers/types";
import { customerState } from "../customers/status";
import { tierAllows, tierKinds, TIERS, type RegistryKind, type TierTable } from "./tiers";
import { Denied } from "./errors";

/** A refused credential; the message says what a person would have to change. */
export class AccessDenied extends Denied {}

/** Why checkAccess refused, as a fixed word (metrics and reports count by it; `reason` says what to change). */
export type AccessDenialCode = "no_customer" | "offboarded" | "suspended" | "license_expired" | "tier" | "kind_not_requested" | "kind_disabled";

export type AccessDecision =
  { allowed: true; customer: Customer; kind: RegistryKind; expires: string } | { allowed: false; reason: string; code: AccessDenialCode };

export interface AccessContext {
  tierTable: TierTable;
  /** YYYY-MM-DD: the day the license is judged against. */
  asOf: string;
  /** Kinds the stack declares; a kind it does not declare has nothing to mint against. */
  enabledKinds: readonly RegistryKind[];
  /** How messages name the roster (default its path; a server answering strangers says "the roster"). */
  rosterLabel?: string;
}

const indexes = new WeakMap<Roster, Map<string, Customer>>();

/** A roster's customer by id, from an index made once per roster (a token request must not scan 100,000 entries). */
export function customerById(roster: Roster, id: string): Customer | undefined {
  let index = indexes.get(roster);
  if (!index || index.size !== roster.customers.length) {
    index = new Map(roster.customers.map((c) => [c.id, c]));
    indexes.set(roster, index);
  }
  return index.get(id);
}

/**
 * May this customer get a credential for this registry kind today? Checked against the same
 * tier table the program and the policy pack use, the roster's request and the license.
 * A denial says what a person would have to change.
 */
export function checkAccess(roster: Roster, customerId: string, kind: RegistryKind, ctx: AccessContext): AccessDecision {
  const customer = customerById(roster, customerId);
  const source = ctx.rosterLabel ?? roster.source;
  if (!customer) return { allowed: false, code: "no_customer", reason: `no customer "${customerId}" in ${source}` };
  const state = customerState(customer, ctx.asOf);
  if (state.status === "offboarded")
    return { allowed: false, code: "offboarded", reason: `customer ${customerId} is offboarded: its credentials were deleted` };
  if (state.status === "suspended") {
    return customer.status === "suspended"
      ? { allowed: false, code: "suspended", reason: `customer ${customerId} is suspended: set its status to active in ${source} to restore access` }
      : {
          allowed: false,
          code: "license_expired",
          reason: `the license of customer ${customerId} expired on ${customer.license.expires}: renew it (license.expires in ${source}) to restore access`,
        };
  }
  if (!tierAllows(customer.tier, kind, ctx.tierTable)) {
    const upgrade = TIERS.find((t) => tierAllows(t, kind, ctx.tierTable));
    return {
      allowed: false,
      code: "tier",
      reason:
        `customer ${customerId} is on tier ${customer.tier}, which allows ${tierKinds(customer.tier, ctx.tierTable).join(", ")}, not ${kind}` +
        (upgrade ? `: tier ${upgrade} includes it` : ""),
    };
  }
  if (!customer.registries.includes(kind)) {
    return {
      allowed: false,
      code: "kind_not_requested",
      reason: `customer ${customerId} did not ask for ${kind} (registries: ${customer.registries.join(", ")}): add it to its registries in ${source}`,
    };
  }
  if (!ctx.enabledKinds.includes(kind)) return { allowed: false, code: "kind_disabled", reason: `${kind} is not enabled on this stack (enabledKinds)` };
  return { allowed: true, customer, kind, expires: customer.license.expires };
}
