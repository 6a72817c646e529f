import * as iam from "@pulumi/aws/iam";
import * as pulumi from "@pulumi/pulumi";
import { ECR_AUTH_ACTION, ECR_MANAGE_ACTIONS, ECR_PULL_ACTIONS, ECR_PUSH_ACTIONS, ecrRepositoryArn, policyDocument } from "./iam";
import { platformTags } from "./labels";
import type { Settings } from "./settings";

export interface PlatformRegistriesArgs {
  settings: Settings;
}

/**
 * What every customer shares, declared once per stack. For ECR, the two-role pattern:
 * the controller role manages repositories under the prefix and may assume the push role;
 * the push role can only push and pull under the prefix. The runtime assumes the push role
 * with a session policy narrowed to one customer to mint that customer's short-lived token.
 */
export class PlatformRegistries extends pulumi.ComponentResource {
  public readonly ecrControllerRoleArn: pulumi.Output<string | undefined>;
  public readonly ecrPushRoleArn: pulumi.Output<string | undefined>;

  constructor(name: string, args: PlatformRegistriesArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:index:PlatformRegistries", name, {}, opts);
    const s = args.settings;
    const tags = platformTags(s.tags);

    if (s.enabledKinds.includes("ecr")) {
      if (!s.aws) throw new Error(`PlatformRegistries ${name}: settings.aws is required while ecr is enabled`);
      const { accountId, region } = s.aws;
      const underPrefix = ecrRepositoryArn(region, accountId, `${s.repoPrefix}/*`);
      const path = `/${s.repoPrefix}/`;
      const principals = s.aws.controllerPrincipals.length > 0 ? s.aws.controllerPrincipals : [`arn:aws:iam::${accountId}:root`];

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
          policy: JSON.stringify(
            policyDocument(
              { Sid: "Auth", Effect: "Allow", Action: [ECR_AUTH_ACTION], Resource: "*" },
              { Sid: "PushPullUnderPrefix", Effect: "Allow", Action: [...ECR_PULL_ACTIONS, ...ECR_PUSH_ACTIONS], Resource: [underPrefix] },
            ),
          ),
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
                { Sid: "Auth", Effect: "Allow", Action: [ECR_AUTH_ACTION], Resource: "*" },
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
    } else {
      this.ecrControllerRoleArn = pulumi.output(undefined);
      this.ecrPushRoleArn = pulumi.output(undefined);
    }

    this.registerOutputs({ ecrControllerRoleArn: this.ecrControllerRoleArn, ecrPushRoleArn: this.ecrPushRoleArn });
  }
}
