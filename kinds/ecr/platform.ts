import * as ecr from "@pulumi/aws/ecr";
import * as iam from "@pulumi/aws/iam";
import * as kms from "@pulumi/aws/kms";
import * as pulumi from "@pulumi/pulumi";
import {
  awsPartition,
  ECR_AUTH_STATEMENT,
  ECR_MANAGE_ACTIONS,
  ecrPushPullPolicy,
  ecrRepositoryArn,
  policyDocument,
  revokedSessionsPolicy,
} from "../../core/iam";
import { ecrTagMutability } from "./kind";
import type { Settings } from "../../core/settings";
import { lifecyclePolicy } from "./component";

export interface EcrPlatform {
  controllerRoleArn: pulumi.Output<string>;
  pushRoleArn: pulumi.Output<string>;
  /** Customer-managed key for ECR repositories, when `ecr.kms` is on. */
  kmsKeyArn?: pulumi.Output<string>;
}

/**
 * The ECR part of the platform, the two-role pattern: the controller role manages repositories
 * under the prefix and may assume the push role; the push role can only push and pull under the
 * prefix. The runtime assumes the push role with a session policy narrowed to one customer to mint
 * that customer's short-lived token. Children of `parent`, named after it.
 */
export function ecrPlatform(name: string, s: Settings, tags: Record<string, string>, parent: pulumi.Resource, revoked: string[] = []): EcrPlatform {
  const aws = s.aws;
  if (!aws) throw new Error(`PlatformRegistries ${name}: settings.aws is required while ecr is enabled`);
  let kmsKeyArn: pulumi.Output<string> | undefined;
  const { accountId, region } = aws;
  const underPrefix = ecrRepositoryArn(region, accountId, `${s.repoPrefix}/*`);
  const path = `/${s.repoPrefix}/`;
  const principals = aws.controllerPrincipals.length > 0 ? aws.controllerPrincipals : [`arn:${awsPartition(region).partition}:iam::${accountId}:root`];

  const controller = new iam.Role(
    `${name}-ecr-controller`,
    {
      name: `${s.repoPrefix}-ecr-controller`,
      path,
      description: "registry-intake: manages customer ECR repositories and assumes the push role",
      assumeRolePolicy: JSON.stringify(policyDocument({ Effect: "Allow", Principal: { AWS: principals }, Action: ["sts:AssumeRole"] })),
      tags,
    },
    { parent },
  );
  const push = new iam.Role(
    `${name}-ecr-push`,
    {
      name: `${s.repoPrefix}-ecr-push`,
      path,
      description: "registry-intake: push and pull under the customer prefix; assumed with a per-customer session policy",
      maxSessionDuration: aws.pushRoleMaxSessionSeconds,
      assumeRolePolicy: controller.arn.apply((arn) =>
        JSON.stringify(policyDocument({ Effect: "Allow", Principal: { AWS: arn }, Action: ["sts:AssumeRole", "sts:TagSession"] })),
      ),
      tags,
    },
    { parent },
  );
  new iam.RolePolicy(
    `${name}-ecr-push-policy`,
    {
      role: push.name,
      name: "push-pull-under-prefix",
      policy: JSON.stringify(ecrPushPullPolicy("PushPullUnderPrefix", [underPrefix])),
    },
    { parent },
  );
  if (revoked.length > 0) {
    // Sessions minted for customers no longer licensed stop at once (see revokedSessionsPolicy).
    new iam.RolePolicy(
      `${name}-ecr-push-revoked`,
      { role: push.name, name: "revoked-customer-sessions", policy: JSON.stringify(revokedSessionsPolicy(revoked)) },
      { parent },
    );
  }
  new iam.RolePolicy(
    `${name}-ecr-controller-policy`,
    {
      role: controller.name,
      name: "manage-under-prefix",
      policy: push.arn.apply((pushArn) =>
        JSON.stringify(
          policyDocument(
            ECR_AUTH_STATEMENT,
            { Sid: "ManageUnderPrefix", Effect: "Allow", Action: [...ECR_MANAGE_ACTIONS], Resource: [underPrefix] },
            { Sid: "AssumePushRole", Effect: "Allow", Action: ["sts:AssumeRole", "sts:TagSession"], Resource: [pushArn] },
          ),
        ),
      ),
    },
    { parent },
  );

  const e = s.ecr;
  let encryption: { encryptionType: string; kmsKey?: pulumi.Input<string> }[] = [{ encryptionType: "AES256" }];
  if (e.kms) {
    const key = new kms.Key(
      `${name}-ecr-key`,
      { description: "registry-intake: encrypts customer ECR repositories", enableKeyRotation: true, deletionWindowInDays: 30, tags },
      // Deleting the key would make every image under the prefix unreadable.
      { parent, retainOnDelete: true },
    );
    new kms.Alias(`${name}-ecr-key-alias`, { name: `alias/${s.repoPrefix}-ecr`, targetKeyId: key.keyId }, { parent });
    kmsKeyArn = key.arn;
    encryption = [{ encryptionType: "KMS", kmsKey: key.arn }];
  }
  if (e.creationTemplate) {
    // ECR applies a template's tags and KMS settings by assuming this role: without
    // customRoleArn, a template with either fails every repository it would create.
    const templateRole = new iam.Role(
      `${name}-ecr-template-role`,
      {
        name: `${s.repoPrefix}-ecr-template`,
        path,
        description: "registry-intake: ECR assumes it to create, tag and encrypt repositories from the creation template",
        assumeRolePolicy: JSON.stringify(policyDocument({ Effect: "Allow", Principal: { Service: "ecr.amazonaws.com" }, Action: ["sts:AssumeRole"] })),
        tags,
      },
      { parent },
    );
    new iam.RolePolicy(
      `${name}-ecr-template-policy`,
      {
        role: templateRole.name,
        name: "create-tag-encrypt-under-prefix",
        policy: pulumi.output(kmsKeyArn).apply((keyArn) =>
          JSON.stringify(
            policyDocument(
              {
                Sid: "CreateUnderPrefix",
                Effect: "Allow",
                Action: ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:TagResource"],
                Resource: [underPrefix],
              },
              ...(keyArn
                ? [{ Sid: "UseTheKey", Effect: "Allow" as const, Action: ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"], Resource: [keyArn] }]
                : []),
            ),
          ),
        ),
      },
      { parent },
    );
    // Repositories created on push (by the controller) get the same settings; replication
    // into another region uses that region's templates (a KMS key is regional), so this
    // one applies to replication only when no customer-managed key is set.
    new ecr.RepositoryCreationTemplate(
      `${name}-ecr-template`,
      {
        prefix: s.repoPrefix,
        appliedFors: e.replicationRegions.length > 0 && !e.kms ? ["CREATE_ON_PUSH", "REPLICATION"] : ["CREATE_ON_PUSH"],
        customRoleArn: templateRole.arn,
        description: "registry-intake: settings for customer repositories not declared by the program",
        ...ecrTagMutability(e.immutableTags),
        lifecyclePolicy: lifecyclePolicy(e.untaggedExpiryDays, e.keepImages),
        encryptionConfigurations: encryption,
        resourceTags: tags,
      },
      { parent },
    );
  }
  if (e.replicationRegions.length > 0) {
    new ecr.ReplicationConfiguration(
      `${name}-ecr-replication`,
      {
        replicationConfiguration: {
          rules: [
            {
              destinations: e.replicationRegions.map((region) => ({ region, registryId: accountId })),
              repositoryFilters: [{ filter: `${s.repoPrefix}/`, filterType: "PREFIX_MATCH" }],
            },
          ],
        },
      },
      { parent },
    );
  }
  if (e.blobMounting) {
    // Fan-out delivery mounts layers across customer repositories instead of uploading them again.
    new ecr.AccountSetting(`${name}-ecr-blob-mounting`, { name: "BLOB_MOUNTING", value: "ENABLED" }, { parent });
  }
  return { controllerRoleArn: controller.arn, pushRoleArn: push.arn, kmsKeyArn };
}
