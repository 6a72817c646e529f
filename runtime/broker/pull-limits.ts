import { entitledProducts, entitlementsOf, type Catalogue, type TierEntitlements } from "../../customers/entitlements";
import type { Customer, Roster } from "../../customers/roster";
import type { Access } from "./scope";
import { productOfPath } from "../../core/product-path";
import { REGISTRY_KINDS } from "../../core/tiers";

/**
 * `maxPullsPerDay` of an entitlement, kept by the broker: a pull is a token that grants pull on a
 * repository of the product (a client asks one per repository it pulls), counted per customer,
 * product and UTC day in this process (with several broker replicas, each keeps its own count;
 * a restart starts the day's count again). A push token holds pull too and is not a pull.
 */
export class PullLimits {
  private day = "";
  private readonly counts = new Map<string, number>();

  /** A product's daily limit for this customer: the largest its entitlements to it set (none if one sets none). */
  static limitOf(customer: Customer, product: string, defaults: TierEntitlements): number | undefined {
    const limits = entitlementsOf(customer, defaults)
      .filter((e) => e.product === product)
      .map((e) => e.maxPullsPerDay);
    return limits.length === 0 || limits.some((l) => l === undefined) ? undefined : Math.max(...(limits as number[]));
  }

  /**
   * Count one token's pulls, or say which product is over its limit (then nothing is counted).
   * @param granted the token's access
   */
  take(
    day: string,
    customer: Customer,
    prefix: string,
    granted: Access[],
    defaults: TierEntitlements,
  ): { product: string; limit: number; pulled: number } | undefined {
    if (day !== this.day) {
      this.day = day;
      this.counts.clear();
    }
    // A push token holds pull too (a push reads layers first): only pull-only grants are pulls.
    const products = [
      ...new Set(granted.filter((a) => a.actions.includes("pull") && !a.actions.includes("push")).map((a) => productOfPath(a.name, customer.id, prefix))),
    ].filter((p): p is string => !!p);
    const limited = products
      .map((product) => ({ product, limit: PullLimits.limitOf(customer, product, defaults) }))
      .filter((x): x is { product: string; limit: number } => x.limit !== undefined);
    for (const { product, limit } of limited) {
      const pulled = this.counts.get(`${customer.id}/${product}`) ?? 0;
      if (pulled >= limit) return { product, limit, pulled };
    }
    for (const { product } of limited) this.counts.set(`${customer.id}/${product}`, (this.counts.get(`${customer.id}/${product}`) ?? 0) + 1);
    return undefined;
  }
}

/**
 * The roster's daily pull limits, per customer and product (`intake usage --stack`), with the kinds
 * the customer holds where nothing counts them: only the broker's registry sees each pull.
 */
export function pullLimitsOf(
  roster: Roster,
  o: { products?: Catalogue; tierEntitlements: TierEntitlements; enabledKinds: readonly string[] },
): Record<string, Record<string, { maxPullsPerDay: number; notEnforcedOn: string[] }>> {
  const out: Record<string, Record<string, { maxPullsPerDay: number; notEnforcedOn: string[] }>> = {};
  if (!o.products) return out;
  for (const c of roster.customers) {
    const notEnforcedOn = REGISTRY_KINDS.filter((k) => k !== "distribution" && c.registries.includes(k) && o.enabledKinds.includes(k));
    for (const product of entitledProducts(c, o.products, o.tierEntitlements)) {
      const limit = PullLimits.limitOf(c, product, o.tierEntitlements);
      if (limit !== undefined) (out[c.id] ??= {})[product] = { maxPullsPerDay: limit, notEnforcedOn };
    }
  }
  return out;
}
