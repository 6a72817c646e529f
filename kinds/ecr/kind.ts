import { awsPartition } from "../../core/iam";
import { need, type KindFacts, type ResourceFacts } from "../types";
import { isEcrRepositoryName } from "../../core/ids";

const ECR_REPOSITORY_RULE = "ECR repository names are '/'-separated components of [a-z0-9] runs joined by single '.', '_' or '-', 2-256 chars";

/**
 * The tags an ECR repository with immutable tags still lets move (IMMUTABLE_WITH_EXCLUSION,
 * wildcard filters): `latest`, which each delivery moves to the newest version, and cosign's
 * digest-named tags (`sha256-<hex>.sig`, `.att`, `.sbom`, and `sha256-<hex>` where a registry has
 * no referrers API), which belong to one image digest and change as signatures and attestations
 * are added to it. A versioned tag, once written, never moves. With IMMUTABLE the second
 * delivery's `latest` and every later signature of a delivered image were refused.
 */
const ECR_MUTABLE_TAGS = ["latest", "sha256-*"] as const;

/** The repository's tag settings: everything but ECR_MUTABLE_TAGS immutable, or all mutable. */
export function ecrTagMutability(immutable: boolean): {
  imageTagMutability: string;
  imageTagMutabilityExclusionFilters?: { filter: string; filterType: string }[];
} {
  return immutable
    ? {
        imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
        imageTagMutabilityExclusionFilters: ECR_MUTABLE_TAGS.map((filter) => ({ filter, filterType: "WILDCARD" })),
      }
    : { imageTagMutability: "MUTABLE" };
}

/** Published default limits of AWS that a roster can run into. */
export const ECR_LIMITS = {
  iamUsersPerAccount: 5_000,
  repositoriesPerRegion: 10_000,
  iamInlineUserPolicyCharacters: 2_048,
  /** All inline policies of one role together, without whitespace. */
  iamInlineRolePolicyCharacters: 10_240,
} as const;

const REPOSITORY = "aws:ecr/repository:Repository";
const LIFECYCLE_POLICY = "aws:ecr/lifecyclePolicy:LifecyclePolicy";
const USER = "aws:iam/user:User";
const USER_POLICY = "aws:iam/userPolicy:UserPolicy";
const ACCESS_KEY = "aws:iam/accessKey:AccessKey";
const ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy";

/** IAM counts a policy's size without its whitespace. */
const policySize = (policy: string) => policy.replace(/\s+/g, "").length;

const RESOURCES: ResourceFacts[] = [
  {
    type: REPOSITORY,
    of: "customer",
    replaceOn: ["name", "encryptionConfigurations"],
    kept: "ecr",
    repository: true,
    path: (i) => i.name,
    labels: "tags",
    retention: ({ props, kept, unknown }) =>
      props.forceDelete === true
        ? "forceDelete would delete the repository with its images"
        : kept || unknown
          ? undefined
          : "is not retainOnDelete or protected: removing the customer would delete it",
    scansOnPush: (i) => (i.imageScanningConfiguration as { scanOnPush?: unknown } | undefined)?.scanOnPush === true,
    movingTags: (i) => {
      if (i.imageTagMutability === "IMMUTABLE") return undefined;
      if (i.imageTagMutability !== "IMMUTABLE_WITH_EXCLUSION") return "tags are mutable in prod";
      // Exclusions beyond `latest` and cosign's digest-named tags let versioned tags move.
      const filters = ((i.imageTagMutabilityExclusionFilters as { filter?: string }[] | undefined) ?? []).map((f) => String(f.filter));
      const extra = filters.filter((f) => !(ECR_MUTABLE_TAGS as readonly string[]).includes(f));
      return extra.length ? `tags matching ${extra.join(", ")} are mutable in prod (only ${ECR_MUTABLE_TAGS.join(" and ")} may move)` : undefined;
    },
    cleanup: { by: { type: LIFECYCLE_POLICY, input: "repository", names: "name" }, missing: "no lifecycle policy" },
  },
  { type: LIFECYCLE_POLICY, of: "customer", display: (i) => String(i.repository) },
  { type: USER, of: "customer", credential: true, labels: "tags" },
  {
    type: USER_POLICY,
    of: "customer",
    display: (i) => `${i.user}/${i.name}`,
    credential: true,
    grant: "iam-policy",
    replaceOn: ["user", "name"],
    warnings: (i, check) =>
      typeof i.policy === "string"
        ? check({
            what: `IAM inline policy of ${i.user}`,
            used: policySize(i.policy),
            limit: ECR_LIMITS.iamInlineUserPolicyCharacters,
            advice: "name a prefix (repository/<prefix>/<id>/*) or move to a managed policy (6,144)",
          })
        : [],
  },
  {
    type: ACCESS_KEY,
    of: "customer",
    display: (i) => `${i.user} (${i.status ?? "Active"})`,
    credential: true,
    disabled: (p) => p.status === "Inactive",
    secrets: ["secret", "sesSmtpPasswordV4", "encryptedSecret"],
    secretOutputs: ["secret", "sesSmtpPasswordV4"],
    replaceOn: ["user", "pgpKey"],
  },
  { type: "aws:iam/role:Role", of: "platform" },
  { type: ROLE_POLICY, of: "platform", display: (i) => `${i.role}/${i.name}` },
  { type: "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate", of: "platform", display: (i) => `prefix ${i.prefix}/` },
  { type: "aws:ecr/replicationConfiguration:ReplicationConfiguration", of: "platform", display: () => "replication rules", put: true },
  { type: "aws:ecr/accountSetting:AccountSetting", of: "platform", put: true },
  { type: "aws:kms/key:Key", of: "platform", cloudNamed: true },
  { type: "aws:kms/alias:Alias", of: "platform" },
];

export interface EcrNames {
  /** ECR repository path prefix, e.g. `intake/acme/` (repositories are `intake/acme/app`). */
  ecrRepositoryPrefix: string;
  /** IAM user name, e.g. `intake-customer-acme` (IAM names cannot hold `/`). */
  iamUserName: string;
  /** IAM path shared by every customer user, e.g. `/intake/`. */
  iamPath: string;
}

/** AWS ECR: repositories under `<prefix>/<id>/` in the stack's account and region, an IAM user per customer. */
export const ecr: KindFacts<EcrNames> = {
  kind: "ecr",
  names: (id, p) => ({ ecrRepositoryPrefix: `${p}/${id}/`, iamUserName: `${p}-customer-${id}`, iamPath: `/${p}/` }),
  nameRules: [
    { provider: "ECR repository", name: (n) => `${n.ecrRepositoryPrefix}app`, test: isEcrRepositoryName, rule: ECR_REPOSITORY_RULE },
    {
      provider: "IAM user",
      name: (n) => n.iamUserName,
      test: (v) => /^[\w+=,.@-]{1,64}$/.test(v),
      rule: "IAM user names are 1-64 chars of [A-Za-z0-9+=,.@_-]",
    },
  ],
  host: (s) => {
    const aws = need(s.aws, "aws");
    return `${aws.accountId}.dkr.ecr.${aws.region}.${awsPartition(aws.region).dnsSuffix}`;
  },
  path: (n) => n.ecrRepositoryPrefix,
  resources: RESOURCES,
  quotas: [
    {
      type: USER,
      per: () => 1,
      limit: (s) =>
        s.aws && {
          what: `IAM users in account ${s.aws.accountId}`,
          limit: ECR_LIMITS.iamUsersPerAccount,
          advice: "ask AWS for a higher quota or spread customers over accounts",
        },
    },
    {
      type: REPOSITORY,
      per: (c) => new Set(["app", ...(c.ecr?.repositories ?? [])]).size,
      limit: (s) =>
        s.aws && {
          what: `ECR repositories in ${s.aws.region}`,
          limit: ECR_LIMITS.repositoriesPerRegion,
          advice: "ask AWS for a higher quota or spread customers over regions",
        },
    },
  ],
  platformWarnings: (resources, s, check) => {
    // The push role's inline policies grow with the revoked customers' sessions.
    const pushRole = `${s.repoPrefix}-ecr-push`;
    const policies = resources.filter((r) => r.type === ROLE_POLICY && r.inputs.role === pushRole && typeof r.inputs.policy === "string");
    if (policies.length === 0) return [];
    return check({
      what: `inline policies of role ${pushRole} (the revoked customers' sessions)`,
      used: policies.reduce((n, r) => n + policySize(r.inputs.policy as string), 0),
      limit: ECR_LIMITS.iamInlineRolePolicyCharacters,
      advice: "drop customers offboarded more than 12 h ago from the roster (their ECR tokens have expired) or shorten long customer ids",
    });
  },
  providerSecrets: ["aws:secretKey", "aws:token"],
  deletes: () => ({ may: false, why: "the customer's policy and push sessions carry no ecr:BatchDeleteImage" }),
  owners: [
    { type: REPOSITORY, input: "name", pattern: (p) => `^${p}/([^/]+)/` },
    { type: LIFECYCLE_POLICY, input: "repository", pattern: (p) => `^${p}/([^/]+)/` },
    { type: USER, input: "name", pattern: (p) => `^${p}-customer-(.+)$` },
    { type: USER_POLICY, input: "user", pattern: (p) => `^${p}-customer-(.+)$` },
    { type: ACCESS_KEY, input: "user", pattern: (p) => `^${p}-customer-(.+)$` },
  ],
  noCredentials: {
    is: (e) => e.name === "CredentialsProviderError",
    fix: "ecr: no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run where a role is attached that may assume the push role",
  },
};
