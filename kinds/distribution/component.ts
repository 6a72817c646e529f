import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { EffectiveStatus } from "../../customers/status";
import { robotActions, type AclEntry } from "../../core/acl";
import { LABEL } from "../../core/labels";
import { type KindBuilder } from "../../components/kind";
import { eachGeneration, generationName, liveGenerations, type LiveGenerations } from "../../core/rotation";

interface DistributionNamespaceArgs {
  customerId: string;
  /** Path prefix on the registry, ending in `/` (e.g. `intake/acme/`). */
  pathPrefix: string;
  robotUsername: string;
  access: "pull" | "push";
  /** With a product catalogue: the products the customer is entitled to, each `<pathPrefix><product>/*` (none: the whole namespace). */
  products?: string[];
  status: EffectiveStatus;
  /** The robot password's generations (core/rotation.ts): the broker accepts the previous one through its last day. */
  passwords?: LiveGenerations;
}

/**
 * One customer's namespace on the self-hosted Distribution registry: a robot account (a random
 * secret) and its entry in the token broker's access list, limited to `<prefix>/<id>/*`. The
 * access list holds only a bcrypt hash. Suspended: the entry is kept, disabled. Offboarded: robot
 * and entry are deleted; the images stay in the registry's storage.
 */
class DistributionNamespace extends pulumi.ComponentResource {
  public readonly robotUsername: pulumi.Output<string | undefined>;
  public readonly robotPassword: pulumi.Output<string | undefined>;
  /** The broker's access-list entry (a secret: it holds the hash), or undefined when offboarded. */
  public readonly aclEntry: pulumi.Output<AclEntry | undefined>;

  constructor(name: string, args: DistributionNamespaceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:distribution:DistributionNamespace", name, {}, opts);
    if (!args.pathPrefix.endsWith("/")) throw new Error(`DistributionNamespace ${name}: pathPrefix "${args.pathPrefix}" must end with "/"`);
    if (args.status === "offboarded") {
      this.robotUsername = pulumi.output(undefined);
      this.robotPassword = pulumi.output(undefined);
      this.aclEntry = pulumi.output(undefined);
    } else {
      const live = args.passwords ?? { current: 1 };
      const { current: password, previous } = eachGeneration(
        live,
        (generation) =>
          new random.RandomPassword(
            generationName(`${name}-robot`, generation),
            // keepers label the robot with its customer (RandomPassword takes no tags); they never change.
            { length: 40, special: false, minLower: 4, minUpper: 4, minNumeric: 4, keepers: { [LABEL.customer]: args.customerId } },
            { parent: this, additionalSecretOutputs: ["result", "bcryptHash"] },
          ),
      );
      this.robotUsername = pulumi.output(args.robotUsername);
      this.robotPassword = pulumi.secret(password.result);
      this.aclEntry = pulumi.secret(
        pulumi.all([password.bcryptHash, previous?.bcryptHash]).apply(([hash, previousHash]): AclEntry => ({
          customer: args.customerId,
          username: args.robotUsername,
          passwordHash: hash,
          ...(previousHash && live.previousUntil ? { previousPasswordHash: previousHash, previousUntil: live.previousUntil } : {}),
          paths: args.products ? args.products.map((p) => `${args.pathPrefix}${p}/*`) : [`${args.pathPrefix}*`],
          actions: robotActions(args.access),
          enabled: args.status === "active",
        })),
      );
    }
    this.registerOutputs({ robotUsername: this.robotUsername, robotPassword: this.robotPassword, aclEntry: this.aclEntry });
  }
}

/** A customer's Distribution part: its robot in the broker's access list. */
export const build: KindBuilder = (ctx) => {
  const ns = new DistributionNamespace(
    `${ctx.name}-distribution`,
    {
      customerId: ctx.customer.id,
      pathPrefix: ctx.names.distributionPathPrefix,
      robotUsername: ctx.names.distributionRobot,
      products: ctx.products,
      access: ctx.customer.distribution?.access ?? "push",
      status: ctx.state.status,
      passwords: liveGenerations(ctx.customer.credentials?.distribution, ctx.settings.asOf),
    },
    { parent: ctx.parent },
  );
  return {
    credentialId: ns.robotUsername,
    credentialSecret: ns.robotPassword,
    aclEntry: ns.aclEntry,
    ...(ctx.state.status === "active" ? { pull: { username: ns.robotUsername, password: ns.robotPassword } } : {}),
  };
};
