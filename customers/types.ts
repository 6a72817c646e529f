import type { RegistryKind } from "../core/tiers";
import type { Catalogue, TierEntitlements } from "./entitlements";
import type { CustomerEntry } from "./schema";

/** A validated customer: `registries` resolved to the kinds it asks for and its tier allows. */
export interface Customer extends Omit<CustomerEntry, "registries"> {
  /** Kinds this customer gets, in canonical order (the roster's list, or all its tier allows). */
  registries: RegistryKind[];
  /** Whether `registries` was written in the roster or defaulted from the tier. */
  registriesExplicit: boolean;
}

export interface Roster {
  /** Where it came from, for messages. */
  source: string;
  customers: Customer[];
  /** The catalogue the document itself carries (a roster the program wrote for the broker). */
  catalogue?: { products: Catalogue; tierEntitlements: TierEntitlements };
}
