import { awsPartition } from "../../core/iam";
import { need, type KindFacts } from "../types";
import { isEcrRepositoryName } from "../../core/ids";

export const ECR_REPOSITORY_RULE =
  "ECR repository names are '/'-separated components of [a-z0-9] runs joined by single '.', '_' or '-', 2-256 chars";


/**
 * The tags an ECR repository with immutable tags still lets move (IMMUTABLE_WITH_EXCLUSION,
 * wildcard filters): `latest`, which each delivery moves to the newest version, and cosign's
 * digest-named tags (`sha256-<hex>.sig`, `.att`, `.sbom`, and `sha256-<hex>` where a registry has
 * no referrers API), which belong to one image digest and change as signatures and attestations
 * are added to it. A versioned tag, once written, never moves. With IMMUTABLE the second
 * delivery's `latest` and every later signature of a delivered image were refused.
 */
export const ECR_MUTABLE_TAGS = ["latest", "sha256-*"] as const;

/** The repository's tag settings: everything but ECR_MUTABLE_TAGS immutable, or all mutable. */
export function ecrTagMutability(immutable: boolean): { imageTagMutability: string; imageTagMutabilityExclusionFilters?: { filter: string; filterType: string }[] } {
  return immutable
    ? { imageTagMutability: "IMMUTABLE_WITH_EXCLUSION", imageTagMutabilityExclusionFilters: ECR_MUTABLE_TAGS.map((filter) => ({ filter, filterType: "WILDCARD" })) }
    : { imageTagMutability: "MUTABLE" };
}

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
    { provider: "IAM user", name: (n) => n.iamUserName, test: (v) => /^[\w+=,.@-]{1,64}$/.test(v), rule: "IAM user names are 1-64 chars of [A-Za-z0-9+=,.@_-]" },
  ],
  host: (s) => {
    const aws = need(s.aws, "aws");
    return `${aws.accountId}.dkr.ecr.${aws.region}.${awsPartition(aws.region).dnsSuffix}`;
  },
  path: (n) => n.ecrRepositoryPrefix,
  types: /^aws:(ecr\/(repository|lifecyclePolicy):|iam\/(user|userPolicy|accessKey):)/,
  deletes: () => ({ may: false, why: "the customer's policy and push sessions carry no ecr:BatchDeleteImage" }),
  owners: [
    { type: "aws:ecr/repository:Repository", input: "name", pattern: (p) => `^${p}/([^/]+)/` },
    { type: "aws:ecr/lifecyclePolicy:LifecyclePolicy", input: "repository", pattern: (p) => `^${p}/([^/]+)/` },
    { type: "aws:iam/user:User", input: "name", pattern: (p) => `^${p}-customer-(.+)$` },
    { type: "aws:iam/userPolicy:UserPolicy", input: "user", pattern: (p) => `^${p}-customer-(.+)$` },
    { type: "aws:iam/accessKey:AccessKey", input: "user", pattern: (p) => `^${p}-customer-(.+)$` },
  ],
  noCredentials: {
    is: (e) => e.name === "CredentialsProviderError",
    fix: "ecr: no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run where a role is attached that may assume the push role",
  },
};
