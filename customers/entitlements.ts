import { prerelease, satisfies, valid } from "semver";
import { z } from "zod";
import { isEcrComponent, ECR_COMPONENT_RULE } from "../core/ids";
import { TIERS, type Tier } from "../core/tiers";
import { entitlementSchema, PRODUCT_NAME, PRODUCT_NAME_RULE } from "./schema";

/**
 * Products and entitlements. The stack setting `products` is the catalogue (each product's
 * repositories and release channels); a customer's roster `entitlements` (or its tier's
 * `tierEntitlements`) say which products, channels, versions and update period it bought. A
 * release (product, channel, version, release day) reaches a customer only when one of its
 * entitlements covers it; `judgeRelease` says which, or why not.
 */

export type Entitlement = z.output<typeof entitlementSchema>;

const productSchema = z.strictObject({
  repositories: z
    .array(z.string().refine(isEcrComponent, { message: `is not a valid repository name: ${ECR_COMPONENT_RULE}` }))
    .min(1, { message: "must name at least one repository" })
    .describe("Repository names inside the product (`<prefix>/<customer>/<product>/<repository>`)."),
  channels: z
    .array(z.string().regex(PRODUCT_NAME, { message: `must be a channel name: ${PRODUCT_NAME_RULE}` }))
    .min(1, { message: "must name at least one channel" })
    .default(["stable"])
    .describe("Release channels, e.g. stable and beta."),
});

export const catalogueSchema = z
  .record(z.string().regex(PRODUCT_NAME, { message: `must be a product name: ${PRODUCT_NAME_RULE}` }), productSchema)
  .refine((c) => Object.keys(c).length > 0, { message: "must name at least one product" })
  .describe("The catalogue: product name → product.");

export type Catalogue = z.output<typeof catalogueSchema>;

export const tierEntitlementsSchema = z
  .strictObject(
    Object.fromEntries(
      TIERS.map((t) => [t, z.array(entitlementSchema).optional().describe(`What ${t} customers whose roster entry lists no entitlements get.`)]),
    ) as Record<Tier, z.ZodOptional<z.ZodArray<typeof entitlementSchema>>>,
  )
  .describe("A tier's default entitlements, for customers whose roster entry lists none.");

export type TierEntitlements = Partial<Record<Tier, Entitlement[]>>;

/** A customer as far as entitlements go. */
export interface Entitled {
  tier: Tier;
  entitlements?: Entitlement[];
}

/** The entitlements that hold for a customer: its own list, else its tier's defaults. */
export function entitlementsOf(c: Entitled, defaults: TierEntitlements = {}): Entitlement[] {
  return c.entitlements ?? defaults[c.tier] ?? [];
}

/** The products a customer is entitled to (any channel, any version), in catalogue order. */
export function entitledProducts(c: Entitled, catalogue: Catalogue, defaults: TierEntitlements = {}): string[] {
  const mine = new Set(entitlementsOf(c, defaults).map((e) => e.product));
  return Object.keys(catalogue).filter((p) => mine.has(p));
}

/** One build of a product, as a delivery names it. */
export interface Release {
  product: string;
  channel: string;
  version: string;
  /** The day it was released (YYYY-MM-DD). */
  released: string;
}

export type ReleaseVerdict =
  { entitled: true; entitlement: Entitlement } | { entitled: false; code: "no-product" | "other-channel" | "outside-range" | "updates-ended"; reason: string };

/**
 * Whether these entitlements cover a release, and if not, the reason nearest to covering it
 * (the product, then the channel, then the version range, then the update period).
 */
export function judgeRelease(entitlements: Entitlement[], r: Release): ReleaseVerdict {
  const product = entitlements.filter((e) => e.product === r.product);
  if (!product.length) return { entitled: false, code: "no-product", reason: `not entitled to ${r.product}` };
  const channel = product.filter((e) => e.channel === r.channel);
  if (!channel.length) {
    const channels = [...new Set(product.map((e) => e.channel))].join(", ");
    return { entitled: false, code: "other-channel", reason: `entitled to ${r.product} on ${channels}, not ${r.channel}` };
  }
  const inRange = channel.filter((e) => satisfies(r.version, e.versions, { includePrerelease: r.channel !== "stable" }));
  if (!inRange.length && r.channel === "stable" && prerelease(r.version)) {
    return { entitled: false, code: "outside-range", reason: `${r.version} is a pre-release: the stable channel takes none (release it on another channel)` };
  }
  if (!inRange.length) {
    const ranges = channel.map((e) => e.versions).join(" or ");
    return { entitled: false, code: "outside-range", reason: `${r.version} is outside the entitled versions ${ranges}` };
  }
  const current = inRange.find((e) => e.updatesUntil === undefined || r.released <= e.updatesUntil);
  if (!current) {
    const until = inRange
      .map((e) => e.updatesUntil!)
      .sort()
      .at(-1)!;
    return { entitled: false, code: "updates-ended", reason: `updates ended on ${until} (released ${r.released})` };
  }
  return { entitled: true, entitlement: current };
}

/** A version a release can be judged by: semver, an optional leading `v` allowed. */
function releaseVersion(tag: string): string | undefined {
  return valid(tag) ?? undefined;
}

/** The catalogue's word on one entitlement: its product and channel must be in it. */
export function entitlementProblem(
  catalogue: Catalogue | undefined,
  e: { product?: unknown; channel?: unknown },
): { field: "product" | "channel"; message: string } | undefined {
  if (typeof e.product !== "string") return undefined;
  if (!catalogue)
    return {
      field: "product",
      message: "needs a product catalogue: add the stack setting registry-intake:products (each product's repositories and channels)",
    };
  const product = catalogue[e.product];
  if (!product) return { field: "product", message: `"${e.product}" is not in the stack's products (${Object.keys(catalogue).join(", ")})` };
  const channel = typeof e.channel === "string" ? e.channel : "stable";
  if (!product.channels.includes(channel))
    return { field: "channel", message: `"${channel}" is not a channel of ${e.product} (${product.channels.join(", ")})` };
  return undefined;
}

/** What is wrong with a release a delivery names (none without a product: a plain build). */
export function releaseProblems(
  catalogue: Catalogue | undefined,
  d: { product?: string; channel?: string; version: string; build: string; released?: string },
): { field: "product" | "channel" | "version" | "build" | "released"; message: string }[] {
  if (d.product === undefined) {
    return [
      ...(d.channel !== undefined ? [{ field: "channel" as const, message: "needs a product" }] : []),
      ...(d.released !== undefined ? [{ field: "released" as const, message: "needs a product" }] : []),
    ];
  }
  const problems: { field: "product" | "channel" | "version" | "build" | "released"; message: string }[] = [];
  const p = entitlementProblem(catalogue, { product: d.product, channel: d.channel });
  if (p) problems.push(p);
  const product = catalogue?.[d.product];
  if (product && !product.repositories.includes(d.build))
    problems.push({ field: "build", message: `"${d.build}" is not a repository of ${d.product} (${product.repositories.join(", ")})` });
  if (!releaseVersion(d.version))
    problems.push({ field: "version", message: `"${d.version}" is not a semver version (e.g. 1.4.2): a product's releases are judged by version ranges` });
  return problems;
}
