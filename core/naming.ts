/**
 * Every name a customer id turns into, on every provider, and the rules those names must
 * follow. Components take their names from `namesFor`; the roster loader rejects an id
 * whose names break a rule, so no resource is ever declared with a name the cloud refuses.
 */
export interface NamingPrefix {
  /** A slug such as `intake`: lower-case letters, digits and single hyphens. */
  readonly repoPrefix: string;
}

export const DEFAULT_PREFIX: NamingPrefix = { repoPrefix: "intake" };

export interface CustomerNames {
  /** ECR repository path prefix, e.g. `intake/acme/` (repositories are `intake/acme/app`). */
  ecrRepositoryPrefix: string;
  /** IAM user name, e.g. `intake-customer-acme` (IAM names cannot hold `/`). */
  iamUserName: string;
  /** IAM path shared by every customer user, e.g. `/intake/`. */
  iamPath: string;
  /** ACR repository path prefix inside the shared registry, e.g. `intake/acme/`. */
  acrRepositoryPrefix: string;
  /** ACR scope-map name and token name. */
  acrScopeMapName: string;
  acrTokenName: string;
  /** Artifact Registry repository id, e.g. `intake-acme`. */
  garRepositoryId: string;
  /** GCP service-account id (the part before `@`). */
  gcpServiceAccountId: string;
  /** GitHub repository that owns the customer's GHCR packages, and its team. */
  githubRepository: string;
  githubTeam: string;
  /** Path prefix on the self-hosted Distribution registry, e.g. `intake/acme/`. */
  distributionPathPrefix: string;
  /** Robot account user name on the Distribution registry. */
  distributionRobot: string;
}

export function namesFor(id: string, prefix: NamingPrefix = DEFAULT_PREFIX): CustomerNames {
  const p = prefix.repoPrefix;
  return {
    ecrRepositoryPrefix: `${p}/${id}/`,
    iamUserName: `${p}-customer-${id}`,
    iamPath: `/${p}/`,
    acrRepositoryPrefix: `${p}/${id}/`,
    acrScopeMapName: `${p}-${id}-scope`,
    acrTokenName: `${p}-${id}`,
    garRepositoryId: `${p}-${id}`,
    gcpServiceAccountId: `${p}-${id}`,
    githubRepository: `${p}-${id}`,
    githubTeam: `${p}-${id}`,
    distributionPathPrefix: `${p}/${id}/`,
    distributionRobot: `${p}-robot-${id}`,
  };
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

/** ECR: each path component is `[a-z0-9]+(?:[._-][a-z0-9]+)*`; the whole name is 2-256 chars. */
const ECR_COMPONENT = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
export const ECR_REPOSITORY_RULE =
  "ECR repository names are '/'-separated components of [a-z0-9] runs joined by single '.', '_' or '-', 2-256 chars";

export function isEcrRepositoryName(name: string): boolean {
  return name.length >= 2 && name.length <= 256 && name.split("/").every((c) => ECR_COMPONENT.test(c));
}

export function isEcrComponent(name: string): boolean {
  return ECR_COMPONENT.test(name);
}

interface NameRule {
  provider: string;
  name: (n: CustomerNames) => string;
  test: (value: string) => boolean;
  rule: string;
}

const RULES: NameRule[] = [
  {
    provider: "ECR repository",
    name: (n) => `${n.ecrRepositoryPrefix}app`,
    test: isEcrRepositoryName,
    rule: ECR_REPOSITORY_RULE,
  },
  {
    provider: "IAM user",
    name: (n) => n.iamUserName,
    test: (v) => /^[\w+=,.@-]{1,64}$/.test(v),
    rule: "IAM user names are 1-64 chars of [A-Za-z0-9+=,.@_-]",
  },
  {
    provider: "ACR scope map",
    name: (n) => n.acrScopeMapName,
    test: (v) => /^[a-zA-Z0-9-]{5,50}$/.test(v),
    rule: "ACR scope-map names are 5-50 chars of [A-Za-z0-9-]",
  },
  {
    provider: "ACR token",
    name: (n) => n.acrTokenName,
    test: (v) => /^[a-zA-Z0-9-]{5,50}$/.test(v),
    rule: "ACR token names are 5-50 chars of [A-Za-z0-9-]",
  },
  {
    provider: "Artifact Registry repository",
    name: (n) => n.garRepositoryId,
    test: (v) => /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(v),
    rule: "Artifact Registry repository ids are 1-63 chars of [a-z0-9-], starting with a letter, not ending with '-'",
  },
  {
    provider: "GCP service account",
    name: (n) => n.gcpServiceAccountId,
    test: (v) => /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(v),
    rule: "GCP service-account ids are 6-30 chars of [a-z0-9-], starting with a letter, not ending with '-'",
  },
  {
    provider: "GitHub repository",
    name: (n) => n.githubRepository,
    test: (v) => /^[A-Za-z0-9._-]{1,100}$/.test(v) && v !== "." && v !== "..",
    rule: "GitHub repository names are 1-100 chars of [A-Za-z0-9._-]",
  },
  {
    provider: "GitHub team",
    name: (n) => n.githubTeam,
    test: (v) => /^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/.test(v),
    rule: "GitHub team slugs are up to 255 chars of [A-Za-z0-9_-], starting with a letter or digit",
  },
];

/**
 * Every provider rule the names of `id` break, as human sentences. Empty when the id is good
 * everywhere. The roster id format is checked first; provider rules only when it passes.
 */
export function nameProblems(id: string, prefix: NamingPrefix = DEFAULT_PREFIX): string[] {
  if (!CUSTOMER_ID.test(id)) return [`"${id}" breaks the id rule: ${CUSTOMER_ID_RULE}`];
  const names = namesFor(id, prefix);
  const problems: string[] = [];
  for (const r of RULES) {
    const value = r.name(names);
    if (!r.test(value)) problems.push(`gives ${r.provider} name "${value}", which breaks the rule: ${r.rule}`);
  }
  return problems;
}

export const REPO_PREFIX = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const REPO_PREFIX_RULE = "a slug of [a-z0-9] runs joined by single '-', starting with a letter, e.g. 'intake'";
