/** IAM policy documents and the ECR action sets, shared by the program and the runtime. */

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Action: string[];
  /** Absent in trust policies, which name a Principal instead. */
  Resource?: string | string[];
  Principal?: Record<string, string | string[]>;
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

export function policyDocument(...statements: PolicyStatement[]): PolicyDocument {
  return { Version: "2012-10-17", Statement: statements };
}

/** Read images. */
export const ECR_PULL_ACTIONS = [
  "ecr:BatchCheckLayerAvailability",
  "ecr:BatchGetImage",
  "ecr:GetDownloadUrlForLayer",
  "ecr:DescribeImages",
  "ecr:DescribeRepositories",
  "ecr:ListImages",
] as const;

/** Write images (always together with pull: a push checks layers first). */
export const ECR_PUSH_ACTIONS = ["ecr:InitiateLayerUpload", "ecr:UploadLayerPart", "ecr:CompleteLayerUpload", "ecr:PutImage"] as const;

/** Manage repositories under the prefix: what the controller role may do. */
export const ECR_MANAGE_ACTIONS = [
  "ecr:CreateRepository",
  "ecr:DeleteRepository",
  "ecr:DescribeRepositories",
  "ecr:TagResource",
  "ecr:UntagResource",
  "ecr:ListTagsForResource",
  "ecr:PutLifecyclePolicy",
  "ecr:GetLifecyclePolicy",
  "ecr:PutImageScanningConfiguration",
  "ecr:PutImageTagMutability",
] as const;

/** The one action that needs `Resource: "*"`; the token it returns carries the caller's permissions. */
export const ECR_AUTH_ACTION = "ecr:GetAuthorizationToken";

/**
 * The AWS partition of a region and its DNS suffix: ARNs and endpoints of GovCloud, China and
 * the isolated regions are not `arn:aws:` / `amazonaws.com`.
 */
export function awsPartition(region: string): { partition: string; dnsSuffix: string } {
  if (region.startsWith("cn-")) return { partition: "aws-cn", dnsSuffix: "amazonaws.com.cn" };
  if (region.startsWith("us-gov-")) return { partition: "aws-us-gov", dnsSuffix: "amazonaws.com" };
  if (region.startsWith("us-isob-")) return { partition: "aws-iso-b", dnsSuffix: "sc2s.sgov.gov" };
  if (region.startsWith("us-iso-")) return { partition: "aws-iso", dnsSuffix: "c2s.ic.gov" };
  return { partition: "aws", dnsSuffix: "amazonaws.com" };
}

export function ecrRepositoryArn(region: string, accountId: string, repository: string): string {
  return `arn:${awsPartition(region).partition}:ecr:${region}:${accountId}:repository/${repository}`;
}

/** `ecr:GetAuthorizationToken` on "*": the one statement every ECR identity needs. */
export const ECR_AUTH_STATEMENT: PolicyStatement = { Sid: "Auth", Effect: "Allow", Action: [ECR_AUTH_ACTION], Resource: "*" };

/** Push and pull on the given repository ARNs (exact ARNs or a prefix glob), plus the auth statement. */
export function ecrPushPullPolicy(sid: string, resources: string[]): PolicyDocument {
  return policyDocument(ECR_AUTH_STATEMENT, { Sid: sid, Effect: "Allow", Action: [...ECR_PULL_ACTIONS, ...ECR_PUSH_ACTIONS], Resource: resources });
}

/** The session tag the runtime puts on every session it mints for one customer (kinds/ecr/mint.ts). */
export const CUSTOMER_SESSION_TAG = "intake-customer";

/**
 * Revocation at once: every action denied to push-role sessions tagged for these customers, so an
 * ECR token minted before a suspension, lapse or offboarding stops working as soon as IAM applies
 * the policy (seconds), not when its session ends (up to 1 h). Tokens minted after it are refused
 * before that by the license check. (Delivery sessions, tagged intake-role=delivery, are the
 * platform's and minted per delivery after the same check.)
 */
export function revokedSessionsPolicy(customerIds: string[]): PolicyDocument {
  return policyDocument({
    Sid: "RevokedCustomerSessions",
    Effect: "Deny",
    Action: ["*"],
    Resource: "*",
    Condition: { StringEquals: { [`aws:PrincipalTag/${CUSTOMER_SESSION_TAG}`]: [...customerIds].sort() } },
  });
}
