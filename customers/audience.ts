import { entitlementsOf, judgeRelease, type Release, type TierEntitlements } from "./entitlements";
import type { Customer } from "./types";
import { customerState } from "./status";

/** A customer a release does not go to, and why. */
export interface NotReached {
  customer: string;
  /** `not-entitled`: no entitlement covers the release; `inactive`: entitled, but suspended, lapsed or offboarded today. */
  status: "not-entitled" | "inactive";
  code: string;
  reason: string;
}

/**
 * Who a release of a catalogue product goes to. `named`: the customers a delivery lists (each
 * entitled one is a target whatever its status, for the license check to judge and report);
 * none: every customer entitled to it and active on `asOf` (offboarded customers are not asked).
 */
export function releaseAudience(
  customers: readonly Customer[],
  release: Release,
  defaults: TierEntitlements,
  asOf: string,
  named?: readonly string[],
): { to: string[]; notReached: NotReached[] } {
  const to: string[] = [];
  const notReached: NotReached[] = [];
  const asked = named ? named.map((id) => customers.find((c) => c.id === id)!) : customers.filter((c) => customerState(c, asOf).status !== "offboarded");
  for (const c of asked) {
    const verdict = judgeRelease(entitlementsOf(c, defaults), release);
    if (!verdict.entitled) {
      notReached.push({ customer: c.id, status: "not-entitled", code: verdict.code, reason: verdict.reason });
      continue;
    }
    const state = customerState(c, asOf);
    if (!named && state.status !== "active") notReached.push({ customer: c.id, status: "inactive", code: state.status, reason: state.reason });
    else to.push(c.id);
  }
  return { to, notReached };
}
