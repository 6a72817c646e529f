import type { EffectiveStatus, RegistryKind } from "../core/tiers";
import type { Customer, Roster } from "./types";

export type { EffectiveStatus } from "../core/tiers";

export interface CustomerState {
  status: EffectiveStatus;
  /** A sentence a human can act on, e.g. "license expired on 2026-01-31". */
  reason: string;
}

/** `asOf` is a YYYY-MM-DD date; a license is valid through the whole of its `expires` day. */
export function customerState(c: Pick<Customer, "status" | "license">, asOf: string): CustomerState {
  if (c.status === "offboarded") return { status: "offboarded", reason: "status is offboarded" };
  if (c.status === "suspended") return { status: "suspended", reason: "status is suspended" };
  if (c.license.expires < asOf) return { status: "suspended", reason: `license expired on ${c.license.expires}` };
  return { status: "active", reason: `license valid through ${c.license.expires}` };
}

/** Customers that ask for `kind` and whose license no longer holds (suspended, lapsed, offboarded), sorted. */
export function revokedCustomers(roster: Pick<Roster, "customers">, kind: RegistryKind, asOf: string): string[] {
  return roster.customers
    .filter((c) => c.registries.includes(kind) && customerState(c, asOf).status !== "active")
    .map((c) => c.id)
    .sort();
}
