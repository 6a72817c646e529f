/**
 * The identifier primitives every layer checks against: the roster's customer id and the stack's
 * repository prefix, and the cloud name limits the roster and the settings are held to before any
 * kind is asked (each kind's full name rules are in kinds/<kind>/kind.ts).
 */
export interface NamingPrefix {
  /** A slug such as `intake`: lower-case letters, digits and single hyphens. */
  readonly repoPrefix: string;
}

export const DEFAULT_PREFIX: NamingPrefix = { repoPrefix: "intake" };

/**
 * One rule that every provider's names follow from (with the default prefix): single '-' between
 * runs (ECR path components), no '-' at the end (Artifact Registry, GCP service accounts), at
 * most 23 chars (`intake-<id>` is a service-account id of at most 30).
 */
export const CUSTOMER_ID_RULE = "lower-case, 3-23 chars: runs of [a-z0-9] joined by single '-', starting with a letter, not ending with '-'";
export const CUSTOMER_ID = /^(?=.{3,23}$)[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
/** The longest customer id. */
export const CUSTOMER_ID_MAX = 23;

export const REPO_PREFIX = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const REPO_PREFIX_RULE = "a slug of [a-z0-9] runs joined by single '-', starting with a letter, e.g. 'intake'";

/** ECR: each path component is `[a-z0-9]+(?:[._-][a-z0-9]+)*`; the whole name is 2-256 chars. */
const ECR_COMPONENT = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** One component of an ECR repository name: what a customer's `ecr.repositories` entry is (the prefix adds the rest). */
export const ECR_COMPONENT_RULE = "one component of [a-z0-9] runs joined by single '.', '_' or '-', no '/' (the customer's prefix is added)";

export function isEcrRepositoryName(name: string): boolean {
  return name.length >= 2 && name.length <= 256 && name.split("/").every((c) => ECR_COMPONENT.test(c));
}

export function isEcrComponent(name: string): boolean {
  return ECR_COMPONENT.test(name);
}

/** Artifact Registry's limit on a repository id. */
export const GAR_REPOSITORY_ID_MAX = 63;
