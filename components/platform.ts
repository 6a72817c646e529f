import * as pulumi from "@pulumi/pulumi";
import { acrPlatform } from "../kinds/acr/platform";
import type { KeptResources } from "./kept";
import type { PlatformOutputs } from "./kind";
import { ecrPlatform } from "../kinds/ecr/platform";
import { platformTags } from "../core/labels";
import type { Settings } from "../core/settings";

export interface PlatformRegistriesArgs {
  settings: Settings;
  /** Customers with ECR whose license no longer holds (suspended, lapsed, offboarded): their sessions are revoked. */
  revokedEcrCustomers?: string[];
  /** Kept resources: the ACR registry a destroyed stack left is adopted, as repositories are. */
  keptList?: KeptResources;
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

/** What every customer shares, declared once per stack: each kind's part in kinds/<kind>/platform.ts. */
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
      const e = ecrPlatform(name, s, tags, this, args.revokedEcrCustomers);
      this.ecrControllerRoleArn = e.controllerRoleArn;
      this.ecrPushRoleArn = e.pushRoleArn;
      this.ecrKmsKeyArn = e.kmsKeyArn;
    } else {
      this.ecrControllerRoleArn = pulumi.output(undefined);
      this.ecrPushRoleArn = pulumi.output(undefined);
    }

    const a = s.acr;
    if (s.enabledKinds.includes("acr") && a) {
      const r = acrPlatform(name, a, tags, this, args.keptList);
      this.acrRegistryName = r.registryName;
      this.acrLoginServer = r.loginServer;
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
