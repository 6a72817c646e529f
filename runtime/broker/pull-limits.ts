import { entitlementsOf, type TierEntitlements } from "../../customers/entitlements";
import type { Customer } from "../../customers/roster";
import type { Access } from "./scope";

/**
 * `maxPullsPerDay` of an entitlement, kept by the broker: a pull is a token that grants pull on a
 * repository of the product (a client asks one per repository it pulls), counted per customer,
 * product and UTC day in this process (with several broker replicas, each keeps its own count;
 * a restart starts the day's count again). A push token holds pull too and is not a pull.
 */
export class PullLimits {
  private day = "";
  private readonly counts = new Map<string, number>();

  /** The product a granted repository belongs to: `<prefix>/<customer>/<product>/…`. */
  private static productOf(name: string, prefix: string, customer: string): string | undefined {
    const own = `${prefix}/${customer}/`;
    return name.startsWith(own) ? name.slice(own.length).split("/")[0] : undefined;
  }

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
  take(day: string, customer: Customer, prefix: string, granted: Access[], defaults: TierEntitlements): { product: string; limit: number; pulled: number } | undefined {
    if (day !== this.day) {
      this.day = day;
      this.counts.clear();
    }
    // A push token holds pull too (a push reads layers first): only pull-only grants are pulls.
    const products = [...new Set(granted.filter((a) => a.actions.includes("pull") && !a.actions.includes("push")).map((a) => PullLimits.productOf(a.name, prefix, customer.id)))].filter((p): p is string => !!p);
    const limited = products.map((product) => ({ product, limit: PullLimits.limitOf(customer, product, defaults) })).filter((x): x is { product: string; limit: number } => x.limit !== undefined);
    for (const { product, limit } of limited) {
      const pulled = this.counts.get(`${customer.id}/${product}`) ?? 0;
      if (pulled >= limit) return { product, limit, pulled };
    }
    for (const { product } of limited) this.counts.set(`${customer.id}/${product}`, (this.counts.get(`${customer.id}/${product}`) ?? 0) + 1);
    return undefined;
  }
}
