import { kindNameProblems, kindNames, type CustomerNames } from "../kinds";

/**
 * The customer id rule, and every name an id turns into (each kind's names and their provider
 * rules are in kinds/<kind>/kind.ts). Components take their names from `namesFor`; the roster loader rejects an id
 * whose names break a rule, so no resource is ever declared with a name the cloud refuses.
 */
export interface NamingPrefix {
  /** A slug such as `intake`: lower-case letters, digits and single hyphens. */
  readonly repoPrefix: string;
}

export const DEFAULT_PREFIX: NamingPrefix = { repoPrefix: "intake" };

/** Every name a customer id turns into, on every kind (each kind's in kinds/<kind>/kind.ts). */
export type { CustomerNames } from "../kinds";

export function namesFor(id: string, prefix: NamingPrefix = DEFAULT_PREFIX): CustomerNames {
  return kindNames(id, prefix.repoPrefix);
}

/** The platform's delivery robot on the Distribution registry (not a customer: no `robot-<id>` form). */
export function deliveryRobotName(prefix: NamingPrefix = DEFAULT_PREFIX): string {
  return `${prefix.repoPrefix}-delivery`;
}

/** The id format of the roster itself. */
/**
 * One rule that every provider's names follow from (with the default prefix): single '-' between
 * runs (ECR path components), no '-' at the end (Artifact Registry, GCP service accounts), at
 * most 23 chars (`intake-<id>` is a service-account id of at most 30).
 */
export const CUSTOMER_ID_RULE = "lower-case, 3-23 chars: runs of [a-z0-9] joined by single '-', starting with a letter, not ending with '-'";
export const CUSTOMER_ID = /^(?=.{3,23}$)[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
/** The longest customer id. */
export const CUSTOMER_ID_MAX = 23;

/**
 * Every provider rule the names of `id` break, as human sentences. Empty when the id is good
 * everywhere. The roster id format is checked first; provider rules only when it passes.
 */
export function nameProblems(id: string, prefix: NamingPrefix = DEFAULT_PREFIX): string[] {
  if (!CUSTOMER_ID.test(id)) return [`"${id}" breaks the id rule: ${CUSTOMER_ID_RULE}`];
  return kindNameProblems(id, prefix.repoPrefix);
}

export const REPO_PREFIX = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const REPO_PREFIX_RULE = "a slug of [a-z0-9] runs joined by single '-', starting with a letter, e.g. 'intake'";
