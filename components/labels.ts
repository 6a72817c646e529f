import type { Tier } from "../customers/tiers";
import type { EffectiveStatus } from "../customers/status";

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
export function customerTags(
  stackTags: Record<string, string>,
  customerId: string,
  tier: Tier,
  status: EffectiveStatus,
): Record<string, string> {
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
