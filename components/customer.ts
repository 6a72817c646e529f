import * as pulumi from "@pulumi/pulumi";
import type { AclEntry } from "../core/acl";
import { customerTags, LABEL } from "../core/labels";
import { namesFor } from "../core/naming";
import type { Settings } from "../core/settings";
import { tierAllows, type RegistryKind } from "../core/tiers";
import type { Customer } from "../customers/roster";
import { customerState, type CustomerState } from "../customers/status";
import { customerNamespace, registryHost } from "../kinds";
import { COMPONENTS } from "../kinds/components";
import type { KindContext } from "./kind";
import { entitledProducts } from "../customers/entitlements";
import type { PlatformOutputs } from "./kind";
import { KubernetesPullSecrets, type PullSecretSource } from "./pull-secrets";
import { KeptResources } from "./kept";

export interface CustomerRegistriesArgs {
  customer: Customer;
  settings: Settings;
  platform: PlatformOutputs;
  /** Kept resources of earlier updates, adopted when declared again (default: none). */
  keptList?: KeptResources;
}

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
 * Everything one customer has: one child component per registry kind its license allows, and
 * pull secrets in its Kubernetes namespace if it names one. The component's name is the
 * customer id, so URNs and child names are stable per customer.
 */
export class CustomerRegistries extends pulumi.ComponentResource {
  public readonly customerId: string;
  public readonly state: CustomerState;
  /** Kinds declared for this customer. */
  public readonly kinds: RegistryKind[];
  /** Where the customer's images go, per kind (`host/path/`). */
  public readonly namespaces: Partial<Record<RegistryKind, string>>;
  public readonly credentials: Partial<Record<RegistryKind, { id?: pulumi.Output<string | undefined>; secret?: pulumi.Output<string | undefined> }>>;
  /** The Distribution broker's access-list entry, if the customer has that kind. */
  public readonly aclEntry: pulumi.Output<AclEntry | undefined> | undefined;
  public readonly pullSecrets: Partial<Record<RegistryKind, pulumi.Output<string>>>;

  constructor(name: string, args: CustomerRegistriesArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:index:CustomerRegistries", name, {}, opts);
    const { customer, settings, platform } = args;
    if (name !== customer.id) throw new Error(`CustomerRegistries ${name}: the component name must be the customer id "${customer.id}"`);
    this.customerId = customer.id;
    this.state = customerState(customer, settings.asOf);
    this.kinds = plannedKinds(customer, settings);

    const tags = customerTags(settings.tags, customer.id, customer.tier, this.state.status);
    const ctx: KindContext = {
      name,
      customer,
      state: this.state,
      names: namesFor(customer.id, { repoPrefix: settings.repoPrefix }),
      settings,
      platform,
      tags,
      keptList: args.keptList ?? new KeptResources(),
      products: settings.products && entitledProducts(customer, settings.products, settings.tierEntitlements),
      parent: this,
    };
    this.namespaces = {};
    this.credentials = {};
    const pullSources: PullSecretSource[] = [];
    for (const kind of this.kinds) {
      const built = COMPONENTS[kind](ctx);
      this.namespaces[kind] = customerNamespace(kind, customer.id, settings);
      if (built.credentialId || built.credentialSecret) this.credentials[kind] = { id: built.credentialId, secret: built.credentialSecret };
      if (built.aclEntry) this.aclEntry = built.aclEntry;
      pullSources.push({
        kind,
        host: registryHost(kind, settings),
        username: built.pull?.username,
        password: built.pull?.password,
        generator: built.generator,
      });
    }

    this.pullSecrets = {};
    const k8sNamespace = customer.kubernetes?.namespace;
    // Pull secrets only while the customer may pull; GHCR needs a machine user to have any.
    const sources = pullSources.filter((p) => p.kind !== "ghcr" || p.password !== undefined);
    if (k8sNamespace && this.state.status !== "offboarded" && sources.length > 0) {
      const secrets = new KubernetesPullSecrets(
        `${name}-pull-secrets`,
        {
          namespace: k8sNamespace,
          customerId: customer.id,
          secretPrefix: settings.repoPrefix,
          sources,
          pullSecrets: settings.pullSecrets,
          stack: settings.stack,
          labels: { [LABEL.customer]: customer.id, [LABEL.tier]: customer.tier, [LABEL.status]: tags[LABEL.status], [LABEL.managedBy]: tags[LABEL.managedBy] },
        },
        { parent: this },
      );
      this.pullSecrets = secrets.secretNames;
    }
    this.registerOutputs({
      status: this.state.status,
      kinds: this.kinds,
      namespaces: this.namespaces,
      credentials: this.credentials,
      pullSecrets: this.pullSecrets,
    });
  }
}
