import * as ecr from "@pulumi/aws/ecr";
import * as iam from "@pulumi/aws/iam";
import * as kms from "@pulumi/aws/kms";
import * as containerregistry from "@pulumi/azure-native/containerregistry";
import * as pulumi from "@pulumi/pulumi";
import { lifecyclePolicy } from "./ecr";
import { awsPartition, ECR_AUTH_STATEMENT, ECR_MANAGE_ACTIONS, ecrPushPullPolicy, ecrRepositoryArn, policyDocument } from "../core/iam";
import { platformTags } from "../core/labels";
import type { Settings } from "../core/settings";

export interface PlatformRegistriesArgs {
  settings: Settings;
}

/**
 * What every customer shares, declared once per stack. For ECR, the two-role pattern:
 * the controller role manages repositories under the prefix and may assume the push role;
 * the push role can only push and pull under the prefix. The runtime assumes the push role
 * with a session policy narrowed to one customer to mint that customer's short-lived token.
 */
/** What customer components need from the platform: the PlatformRegistries itself, or (on a shard stack) a stack reference to it. */
export interface PlatformOutputs {
  ecrKmsKeyArn?: pulumi.Output<string>;
  acrRegistryName?: pulumi.Output<string>;
}

/**
 * A shard stack's view of the platform stack's outputs (`pulumi.StackReference`). Only outputs the
 * platform stack declares are read: a KMS key and the ACR registry name when its settings have them.
 */
export class PlatformReference implements PlatformOutputs {
  public readonly reference: pulumi.StackReference;
  public readonly ecrKmsKeyArn?: pulumi.Output<string>;
  public readonly acrRegistryName?: pulumi.Output<string>;

  constructor(settings: Settings) {
    const name = settings.shard?.platformStack;
    if (!name) throw new Error("a shard stack needs settings.shard.platformStack");
    this.reference = new pulumi.StackReference("platform", { name });
    if (settings.ecr.kms && settings.enabledKinds.includes("ecr")) this.ecrKmsKeyArn = this.reference.requireOutput("ecrKmsKeyArn") as pulumi.Output<string>;
    if (settings.enabledKinds.includes("acr")) this.acrRegistryName = this.reference.requireOutput("acrRegistryName") as pulumi.Output<string>;
  }
}

export class PlatformRegistries extends pulumi.ComponentResource {
  public readonly ecrControllerRoleArn: pulumi.Output<string | undefined>;
  public readonly ecrPushRoleArn: pulumi.Output<string | undefined>;
  /** Customer-managed key for ECR repositories, when `ecr.kms` is on. */
  public readonly ecrKmsKeyArn: pulumi.Output<string> | undefined;
  /** The shared ACR registry every customer's scope map and token live in. */
  public readonly acrRegistryName: pulumi.Output<string> | undefined;
  public readonly acrLoginServer: pulumi.Output<string | undefined>;

  constructor(name: string, args: PlatformRegistriesArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:index:PlatformRegistries", name, {}, opts);
    const s = args.settings;
    const tags = platformTags(s.tags);

    if (s.enabledKinds.includes("ecr")) {
      if (!s.aws) throw new Error(`PlatformRegistries ${name}: settings.aws is required while ecr is enabled`);
      const { accountId, region } = s.aws;
      const underPrefix = ecrRepositoryArn(region, accountId, `${s.repoPrefix}/*`);
      const path = `/${s.repoPrefix}/`;
      const principals = s.aws.controllerPrincipals.length > 0 ? s.aws.controllerPrincipals : [`arn:${awsPartition(region).partition}:iam::${accountId}:root`];

      const controller = new iam.Role(
        `${name}-ecr-controller`,
        {
          name: `${s.repoPrefix}-ecr-controller`,
          path,
          description: "registry-intake: manages customer ECR repositories and assumes the push role",
          assumeRolePolicy: JSON.stringify(
            policyDocument({ Effect: "Allow", Principal: { AWS: principals }, Action: ["sts:AssumeRole"] }),
          ),
          tags,
        },
        { parent: this },
      );
      const push = new iam.Role(
        `${name}-ecr-push`,
        {
          name: `${s.repoPrefix}-ecr-push`,
          path,
          description: "registry-intake: push and pull under the customer prefix; assumed with a per-customer session policy",
          maxSessionDuration: s.aws.pushRoleMaxSessionSeconds,
          assumeRolePolicy: controller.arn.apply((arn) =>
            JSON.stringify(
              policyDocument({ Effect: "Allow", Principal: { AWS: arn }, Action: ["sts:AssumeRole", "sts:TagSession"] }),
            ),
          ),
          tags,
        },
        { parent: this },
      );
      new iam.RolePolicy(
        `${name}-ecr-push-policy`,
        {
          role: push.name,
          name: "push-pull-under-prefix",
          policy: JSON.stringify(ecrPushPullPolicy("PushPullUnderPrefix", [underPrefix])),
        },
        { parent: this },
      );
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
        { parent: this },
      );
      this.ecrControllerRoleArn = controller.arn;
      this.ecrPushRoleArn = push.arn;

      const e = s.ecr;
      let encryption: { encryptionType: string; kmsKey?: pulumi.Input<string> }[] = [{ encryptionType: "AES256" }];
      if (e.kms) {
        const key = new kms.Key(
          `${name}-ecr-key`,
          { description: "registry-intake: encrypts customer ECR repositories", enableKeyRotation: true, deletionWindowInDays: 30, tags },
          // Deleting the key would make every image under the prefix unreadable.
          { parent: this, retainOnDelete: true },
        );
        new kms.Alias(`${name}-ecr-key-alias`, { name: `alias/${s.repoPrefix}-ecr`, targetKeyId: key.keyId }, { parent: this });
        this.ecrKmsKeyArn = key.arn;
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
          { parent: this },
        );
        new iam.RolePolicy(
          `${name}-ecr-template-policy`,
          {
            role: templateRole.name,
            name: "create-tag-encrypt-under-prefix",
            policy: pulumi.output(this.ecrKmsKeyArn).apply((keyArn) =>
              JSON.stringify(
                policyDocument(
                  { Sid: "CreateUnderPrefix", Effect: "Allow", Action: ["ecr:CreateRepository", "ecr:ReplicateImage", "ecr:TagResource"], Resource: [underPrefix] },
                  ...(keyArn ? [{ Sid: "UseTheKey", Effect: "Allow" as const, Action: ["kms:CreateGrant", "kms:RetireGrant", "kms:DescribeKey"], Resource: [keyArn] }] : []),
                ),
              ),
            ),
          },
          { parent: this },
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
            imageTagMutability: e.immutableTags ? "IMMUTABLE" : "MUTABLE",
            lifecyclePolicy: lifecyclePolicy(e.untaggedExpiryDays, e.keepImages),
            encryptionConfigurations: encryption,
            resourceTags: tags,
          },
          { parent: this },
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
          { parent: this },
        );
      }
      if (e.blobMounting) {
        // Fan-out delivery mounts layers across customer repositories instead of uploading them again.
        new ecr.AccountSetting(`${name}-ecr-blob-mounting`, { name: "BLOB_MOUNTING", value: "ENABLED" }, { parent: this });
      }
    } else {
      this.ecrControllerRoleArn = pulumi.output(undefined);
      this.ecrPushRoleArn = pulumi.output(undefined);
    }

    const a = s.acr;
    if (s.enabledKinds.includes("acr") && a) {
      const registry = new containerregistry.Registry(
        `${name}-acr`,
        {
          resourceGroupName: a.resourceGroupName,
          registryName: a.registryName,
          location: a.location,
          sku: { name: a.sku },
          adminUserEnabled: false,
          anonymousPullEnabled: false,
          policies:
            a.untaggedRetentionDays === null
              ? undefined
              : { retentionPolicy: { status: "enabled", days: a.untaggedRetentionDays } },
          tags,
        },
        // Every customer's images live in this one registry.
        { parent: this, retainOnDelete: true },
      );
      for (const location of a.replicaLocations) {
        new containerregistry.Replication(
          `${name}-acr-replica-${location}`,
          { resourceGroupName: a.resourceGroupName, registryName: registry.name, replicationName: location, location, tags },
          { parent: this },
        );
      }
      this.acrRegistryName = registry.name;
      this.acrLoginServer = registry.loginServer;
    } else {
      this.acrLoginServer = pulumi.output(undefined);
    }

    this.registerOutputs({
      ecrControllerRoleArn: this.ecrControllerRoleArn,
      ecrPushRoleArn: this.ecrPushRoleArn,
      ecrKmsKeyArn: this.ecrKmsKeyArn,
      acrLoginServer: this.acrLoginServer,
    });
  }
}
