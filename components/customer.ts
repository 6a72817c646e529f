import * as pulumi from "@pulumi/pulumi";
import { namesFor, type CustomerNames } from "../customers/naming";
import type { Customer } from "../customers/roster";
import { customerState, type CustomerState } from "../customers/status";
import { tierAllows, type RegistryKind } from "../customers/tiers";
import { EcrNamespace } from "./ecr";
import { customerTags } from "./labels";
import type { PlatformRegistries } from "./platform";
import type { Settings } from "./settings";

export interface CustomerRegistriesArgs {
  customer: Customer;
  settings: Settings;
  platform: PlatformRegistries;
}

/** What one registry kind's component hands back to the customer: where images go, and how to log in. */
export interface KindNamespace {
  /** Where the customer's images live, e.g. `123.dkr.ecr.eu-west-1.amazonaws.com/intake/acme/`. */
  namespace: pulumi.Output<string>;
  /** Long-lived credential id, if the kind declares one (never a secret value). */
  credentialId?: pulumi.Output<string | undefined>;
  /** Long-lived secret, always a Pulumi secret. */
  credentialSecret?: pulumi.Output<string | undefined>;
}

interface KindContext {
  name: string;
  customer: Customer;
  state: CustomerState;
  names: CustomerNames;
  settings: Settings;
  platform: PlatformRegistries;
  tags: Record<string, string>;
  parent: pulumi.Resource;
}

/**
 * One builder per registry kind. A kind with no builder yet is reported in `pendingKinds`
 * (and by `intake plan`) rather than silently skipped.
 */
const KIND_BUILDERS: Partial<Record<RegistryKind, (ctx: KindContext) => KindNamespace>> = {
  ecr: (ctx) => {
    const aws = ctx.settings.aws;
    if (!aws) throw new Error(`customer ${ctx.customer.id}: ecr needs settings.aws`);
    const ns = new EcrNamespace(
      `${ctx.name}-ecr`,
      {
        repositoryPrefix: ctx.names.ecrRepositoryPrefix,
        repositories: ["app", ...(ctx.customer.ecr?.repositories ?? []).filter((r) => r !== "app")],
        userName: ctx.names.iamUserName,
        userPath: ctx.names.iamPath,
        status: ctx.state.status,
        immutableTags: ctx.settings.ecr.immutableTags,
        scanOnPush: ctx.settings.ecr.scanOnPush,
        untaggedExpiryDays: ctx.settings.ecr.untaggedExpiryDays,
        keepImages: ctx.settings.ecr.keepImages,
        tags: ctx.tags,
      },
      { parent: ctx.parent },
    );
    return {
      namespace: pulumi.output(`${aws.accountId}.dkr.ecr.${aws.region}.amazonaws.com/${ctx.names.ecrRepositoryPrefix}`),
      credentialId: ns.accessKeyId,
      credentialSecret: ns.secretAccessKey,
    };
  },
};

/** The kinds a customer gets: what it asked for, within its tier, among the stack's enabled kinds. */
export function plannedKinds(customer: Customer, settings: Settings): RegistryKind[] {
  const outside = customer.registries.filter((k) => !tierAllows(customer.tier, k, settings.tierTable));
  if (outside.length > 0) {
    throw new Error(
      `customer ${customer.id}: tier ${customer.tier} does not allow ${outside.join(", ")} (tier table of stack ${settings.stack}); ` +
        "the roster must be validated with this stack's tier table",
    );
  }
  return customer.registries.filter((k) => settings.enabledKinds.includes(k));
}

/**
 * Everything one customer has: one child component per registry kind its license allows.
 * The component's name is the customer id, so URNs and child names are stable per customer.
 */
export class CustomerRegistries extends pulumi.ComponentResource {
  public readonly customerId: string;
  public readonly state: CustomerState;
  /** Kinds declared for this customer. */
  public readonly kinds: RegistryKind[];
  /** Kinds the customer is entitled to whose components are not part of this program yet. */
  public readonly pendingKinds: RegistryKind[];
  public readonly namespaces: Partial<Record<RegistryKind, pulumi.Output<string>>>;
  public readonly credentials: Partial<Record<RegistryKind, { id?: pulumi.Output<string | undefined>; secret?: pulumi.Output<string | undefined> }>>;

  constructor(name: string, args: CustomerRegistriesArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:index:CustomerRegistries", name, {}, opts);
    const { customer, settings, platform } = args;
    if (name !== customer.id) throw new Error(`CustomerRegistries ${name}: the component name must be the customer id "${customer.id}"`);
    this.customerId = customer.id;
    this.state = customerState(customer, settings.asOf);
    const planned = plannedKinds(customer, settings);
    this.kinds = planned.filter((k) => KIND_BUILDERS[k] !== undefined);
    this.pendingKinds = planned.filter((k) => KIND_BUILDERS[k] === undefined);

    const ctx: KindContext = {
      name,
      customer,
      state: this.state,
      names: namesFor(customer.id, { repoPrefix: settings.repoPrefix }),
      settings,
      platform,
      tags: customerTags(settings.tags, customer.id, customer.tier, this.state.status),
      parent: this,
    };
    this.namespaces = {};
    this.credentials = {};
    for (const kind of this.kinds) {
      const built = KIND_BUILDERS[kind]!(ctx);
      this.namespaces[kind] = built.namespace;
      if (built.credentialId || built.credentialSecret) this.credentials[kind] = { id: built.credentialId, secret: built.credentialSecret };
    }
    this.registerOutputs({ status: this.state.status, kinds: this.kinds, namespaces: this.namespaces, credentials: this.credentials });
  }
}
