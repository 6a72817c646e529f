/**
 * The license-tier table: which registry kinds each tier may use.
 *
 * This is the one source of truth. The program refuses to declare a kind outside it,
 * the policy pack reports one as a mandatory violation, and the runtime refuses to mint
 * a token for it. Stack config (`registry-intake:tiers`) may override it per stack; the
 * override is validated against the same kind and tier names.
 */
export const REGISTRY_KINDS = ["ghcr", "ecr", "acr", "gar", "distribution"] as const;
export type RegistryKind = (typeof REGISTRY_KINDS)[number];

export const TIERS = ["enterprise", "professional", "standard"] as const;
export type Tier = (typeof TIERS)[number];

export const STATUSES = ["active", "suspended", "offboarded"] as const;
export type Status = (typeof STATUSES)[number];

export type TierTable = Readonly<Record<Tier, readonly RegistryKind[]>>;

export const DEFAULT_TIER_TABLE: TierTable = Object.freeze({
  enterprise: Object.freeze(["ghcr", "ecr", "acr", "gar", "distribution"] as const),
  professional: Object.freeze(["ghcr", "ecr", "acr"] as const),
  standard: Object.freeze(["ghcr"] as const),
});

/** The kinds a tier allows, in the canonical order of REGISTRY_KINDS. */
export function tierKinds(tier: Tier, table: TierTable = DEFAULT_TIER_TABLE): RegistryKind[] {
  const allowed = new Set(table[tier]);
  return REGISTRY_KINDS.filter((k) => allowed.has(k));
}

export function tierAllows(tier: Tier, kind: RegistryKind, table: TierTable = DEFAULT_TIER_TABLE): boolean {
  return table[tier].includes(kind);
}

/**
 * What the license means today (customers/status.ts decides). `suspended` covers both a suspended
 * status and a lapsed license: everything is kept and every credential is disabled. `offboarded`
 * deletes credentials and keeps (orphans) the repositories.
 */
export type EffectiveStatus = "active" | "suspended" | "offboarded";
