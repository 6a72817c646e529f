import * as pulumi from "@pulumi/pulumi";
import { CustomerRegistries } from "./components/customer";
import { BuildDelivery } from "./components/delivery";
import { DistributionService, rosterPartProblem } from "./kinds/distribution/service";
import { PlatformReference, PlatformRegistries } from "./components/platform";
import type { Settings } from "./core/settings";
import type { Roster } from "./customers/roster";
import { revokedCustomers } from "./customers/status";
import { rosterForShard, shardProblems } from "./customers/shards";
import { KEPT_OUTPUT, type KeptList } from "./core/kept";
import { KeptResources } from "./components/kept";
import type { AclEntry } from "./core/acl";

/**
 * Part of the program, for a plan split over processes (planning/parallel.ts): one part declares
 * some customers' components and nothing stack-wide; another declares no customers and the
 * stack-wide parts (platform, Distribution service, deliveries), taking the other parts'
 * access-list entries as Outputs that resolve when those parts are done. Together they declare
 * what the whole program declares.
 */
export interface ProgramPart {
  /** The customers whose components this part declares. */
  customers: ReadonlySet<string>;
  /** Declare the stack-wide parts that read every customer (the Distribution service, deliveries). */
  stackWide: boolean;
  /** The access-list entry of a customer another part declares (undefined: it has none). */
  aclEntry?: (customerId: string) => pulumi.Output<AclEntry | undefined> | undefined;
}

/** What this stack holds: everything, the shared platform only, or one shard of the customers. */
export type StackRole = "all" | "platform" | "shard";

/** The customers this stack declares: all, none (a platform stack), or its shard's slice. */
export function stackRoster(s: Settings, roster: Roster): Roster {
  const role = stackRole(s);
  return role === "all" ? roster : role === "platform" ? { ...roster, customers: [] } : rosterForShard(roster, s.shard!.index!, s.shard!.count);
}

export function stackRole(s: Settings): StackRole {
  return !s.shard ? "all" : s.shard.index === undefined ? "platform" : "shard";
}

export interface ProgramResult {
  role: StackRole;
  /** The platform's resources, or on a shard stack the reference to the platform stack. */
  platform: PlatformRegistries | PlatformReference;
  customers: CustomerRegistries[];
  distribution?: DistributionService;
  /** Builds delivered after the namespaces exist (settings.deliveries). */
  deliveries: BuildDelivery[];
  /** Kept resources: what this update adopts, and the kept list it exports. */
  keptList: KeptResources;
  /** Stack outputs: namespaces per customer and kind; credentials only as secrets. */
  outputs: Record<string, unknown>;
}

/**
 * The one program. Declares the shared platform resources, one CustomerRegistries per
 * customer, and the Distribution broker's access list (with the registry itself on Kubernetes
 * when the stack asks). It reads no files, environment or clock: settings and roster arrive validated,
 * and `previous` is the kept list the stack's last update exported (none on a new stack).
 */
export function program(settings: Settings, roster: Roster, previous: Partial<KeptList> & { legacy?: boolean } = {}, part?: ProgramPart): ProgramResult {
  const keptList = new KeptResources(previous, settings.kept.adopt, settings.kept.forget);
  const role = stackRole(settings);
  if (settings.shard) {
    const problems = shardProblems(roster, settings.shard.count);
    if (problems.length) throw new Error(problems.join("\n"));
  }
  // What the broker would mount must fit Kubernetes' object limit: asked before anything is declared.
  // A shard stack declares its slice of the roster; the platform stack no customers at all.
  const mine = stackRoster(settings, roster);
  const tooLarge = rosterPartProblem(settings, mine);
  if (tooLarge) throw new Error(tooLarge);
  // The push role is the platform's: it revokes the sessions of every customer whose ECR license no longer holds.
  const revokedEcrCustomers = revokedCustomers(roster, "ecr", settings.asOf);
  const platform = role === "shard" ? new PlatformReference(settings) : new PlatformRegistries("platform", { settings, revokedEcrCustomers, keptList });
  const declared = part ? mine.customers.filter((c) => part.customers.has(c.id)) : mine.customers;
  const customers = declared.map((customer) => new CustomerRegistries(customer.id, { customer, settings, platform, keptList }));
  const own = new Map(customers.map((c) => [c.customerId, c]));
  const entryOf = (id: string): pulumi.Output<AclEntry | undefined> | undefined => {
    if (own.has(id)) return own.get(id)!.aclEntry;
    return part?.aclEntry?.(id);
  };
  const distribution =
    settings.enabledKinds.includes("distribution") && (part?.stackWide ?? true)
      ? new DistributionService("distribution", {
          settings,
          role,
          roster: mine,
          keptList,
          entries: mine.customers.flatMap((c) => {
            const e = entryOf(c.id);
            return e ? [e] : [];
          }),
        })
      : undefined;
  // On a shard stack the delivery robot's password comes from the platform stack.
  // (read only when this shard delivers: a stack reference's required output fails when absent.)
  const deliveryPassword =
    role === "shard" && distribution && settings.deliveries.length > 0
      ? ((platform as PlatformReference).reference.requireOutput("distributionDeliveryPassword") as pulumi.Output<string>)
      : distribution?.deliveryPassword;
  const deliveries = (role === "platform" || !(part?.stackWide ?? true) ? [] : settings.deliveries).map(
    (delivery, index) =>
      new BuildDelivery(`deliver-${delivery.build.replace(/[^a-z0-9-]/g, "-")}-${delivery.version.replace(/[^A-Za-z0-9-]/g, "-")}`, {
        settings,
        roster: mine,
        delivery,
        index,
        deliveryPassword,
        after: [...customers, ...(distribution ? [distribution] : [])],
      }),
  );
  const ownPlatform = platform instanceof PlatformRegistries ? platform : undefined;
  // A kind the stack does not enable has no outputs (an undefined one is a warning at every `up`).
  const has = (kind: "ecr" | "acr") => !!ownPlatform && settings.enabledKinds.includes(kind);
  const outputs = {
    ...(has("ecr") && {
      ecrControllerRoleArn: ownPlatform?.ecrControllerRoleArn,
      ecrPushRoleArn: ownPlatform?.ecrPushRoleArn,
      ecrKmsKeyArn: ownPlatform?.ecrKmsKeyArn,
    }),
    ...(has("acr") && { acrLoginServer: ownPlatform?.acrLoginServer, acrRegistryName: ownPlatform?.acrRegistryName }),
    distributionAcl: distribution?.acl,
    distributionDeliveryPassword: distribution?.deliveryPassword,
    [KEPT_OUTPUT]: keptList.output(),
    customers: Object.fromEntries(
      customers.map((c) => [
        c.customerId,
        {
          status: c.state.status,
          namespaces: c.namespaces,
          pullSecrets: c.pullSecrets,
          credentials: Object.fromEntries(
            Object.entries(c.credentials).map(([kind, cred]) => [kind, { id: cred?.id, secret: cred?.secret && pulumi.secret(cred.secret) }]),
          ),
        },
      ]),
    ),
  };
  return { role, platform, customers, distribution, deliveries, keptList, outputs };
}
