import type { EffectiveStatus, Tier } from "./tiers";

export const MANAGED_BY = "registry-intake";

/** Label keys every per-customer resource carries; policies and audits key off them. */
export const LABEL = {
  customer: "intake-customer",
  tier: "intake-tier",
  status: "intake-status",
  managedBy: "managed-by",
} as const;

/**
 * Tags for a customer's resources. `orphaned` marks what an offboarded customer leaves behind,
 * `suspended` what is kept but locked. Stack-wide tags come first so ours always win.
 */
export function customerTags(stackTags: Record<string, string>, customerId: string, tier: Tier, status: EffectiveStatus): Record<string, string> {
  return {
    ...stackTags,
    [LABEL.customer]: customerId,
    [LABEL.tier]: tier,
    [LABEL.status]: status === "offboarded" ? "orphaned" : status,
    [LABEL.managedBy]: MANAGED_BY,
  };
}

export function platformTags(stackTags: Record<string, string>): Record<string, string> {
  return { ...stackTags, [LABEL.managedBy]: MANAGED_BY };
}

/**
 * GCP labels: keys and values of at most 63 lower-case letters, digits, '_' and '-', keys
 * starting with a letter. Anything else is folded to '_' so stack tags can be reused as labels.
 */
export function gcpLabels(tags: Record<string, string>): Record<string, string> {
  const fold = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9_-]/g, "_")
      .slice(0, 63);
  return Object.fromEntries(
    Object.entries(tags).map(([k, v]) => {
      const key = fold(k);
      return [/^[a-z]/.test(key) ? key : `l_${key}`.slice(0, 63), fold(v)];
    }),
  );
}

/** A one-line description carrying the labels, for resources that take no tags (ACR scope maps, GitHub teams). */
export function labelDescription(what: string, tags: Record<string, string>): string {
  return `${what} [${LABEL.customer}=${tags[LABEL.customer]} ${LABEL.tier}=${tags[LABEL.tier]} ${LABEL.managedBy}=${MANAGED_BY}]`;
}
