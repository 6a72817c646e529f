import { kindNameProblems, kindNames, type CustomerNames } from "../kinds";
import { CUSTOMER_ID, CUSTOMER_ID_RULE, DEFAULT_PREFIX, type NamingPrefix } from "./ids";

/**
 * The customer id rule, and every name an id turns into (each kind's names and their provider
 * rules are in kinds/<kind>/kind.ts). Components take their names from `namesFor`; the roster loader rejects an id
 * whose names break a rule, so no resource is ever declared with a name the cloud refuses.
 */

/** Every name a customer id turns into, on every kind (each kind's in kinds/<kind>/kind.ts). */
export type { CustomerNames } from "../kinds";

export function namesFor(id: string, prefix: NamingPrefix = DEFAULT_PREFIX): CustomerNames {
  return kindNames(id, prefix.repoPrefix);
}

/** The platform's delivery robot on the Distribution registry (not a customer: no `robot-<id>` form). */
export function deliveryRobotName(prefix: NamingPrefix = DEFAULT_PREFIX): string {
  return `${prefix.repoPrefix}-delivery`;
}

/**
 * Every provider rule the names of `id` break, as human sentences. Empty when the id is good
 * everywhere. The roster id format is checked first; provider rules only when it passes.
 */
export function nameProblems(id: string, prefix: NamingPrefix = DEFAULT_PREFIX): string[] {
  if (!CUSTOMER_ID.test(id)) return [`"${id}" breaks the id rule: ${CUSTOMER_ID_RULE}`];
  return kindNameProblems(id, prefix.repoPrefix);
}
