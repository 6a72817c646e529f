import * as pulumi from "@pulumi/pulumi";
import { namesFor, type CustomerNames } from "../core/naming";
import type { Customer } from "../customers/roster";
import { customerState, type CustomerState } from "../customers/status";
import { tierAllows, type RegistryKind } from "../core/tiers";
import type { AclEntry } from "../core/acl";
import { AcrNamespace } from "./acr";
import { DistributionNamespace } from "./distribution";
import { EcrNamespace } from "./ecr";
import { customerNamespace, registryHost } from "../core/endpoints";
import { GarNamespace } from "./gar";
import { GhcrNamespace } from "./ghcr";
import { customerTags, gcpLabels, LABEL, labelDescription } from "../core/labels";
import type { PlatformOutputs } from "./platform";
import { KubernetesPullSecrets, type PullSecretSource } from "./pull-secrets";
import { RetainedLedger } from "./retained";
import type { Settings } from "../core/settings";

export interface CustomerRegistriesArgs {
  customer: Customer;
  settings: Settings;
  platform: PlatformOutputs;
  /** Kept resources of earlier updates, adopted when declared again (default: none). */
  ledger?: RetainedLedger;
}

/** What one registry kind's component hands back to the customer. */
export interface KindResult {
  /** Long-lived credential id, if the kind declares one (never a secret value). */
  credentialId?: pulumi.Output<string | undefined>;
  /** Long-lived secret, always a Pulumi secret. */
  credentialSecret?: pulumi.Output<string | undefined>;
  /** The user name and secret a docker client logs in with, where a long-lived one exists. */
  pull?: { username: pulumi.Input<string | undefined>; password: pulumi.Input<string | undefined> };
  /** The Distribution broker's access-list entry. */
  aclEntry?: pulumi.Output<AclEntry | undefined>;
}

interface KindContext {
  name: string;
  customer: Customer;
  state: CustomerState;
  names: CustomerNames;
  settings: Settings;
  platform: PlatformOutputs;
  tags: Record<string, string>;
  ledger: RetainedLedger;
  parent: pulumi.Resource;
}

function need<T>(v: T | undefined, what: string, id: string): T {
  if (v === undefined) throw new Error(`customer ${id}: ${what} is required by this registry kind`);
  return v;
}

/** One builder per registry kind: the only place a kind's component is chosen. */
const KIND_BUILDERS: Record<RegistryKind, (ctx: KindContext) => KindResult> = {
  ecr: (ctx) => {
    need(ctx.settings.aws, "settings.aws", ctx.customer.id);
    const e = ctx.settings.ecr;
    const ns = new EcrNamespace(
      `${ctx.name}-ecr`,
      {
        repositoryPrefix: ctx.names.ecrRepositoryPrefix,
        repositories: ["app", ...(ctx.customer.ecr?.repositories ?? []).filter((r) => r !== "app")],
        userName: ctx.names.iamUserName,
        userPath: ctx.names.iamPath,
        status: ctx.state.status,
        immutableTags: e.immutableTags,
        scanOnPush: e.scanOnPush,
        untaggedExpiryDays: e.untaggedExpiryDays,
        keepImages: e.keepImages,
        kmsKeyArn: ctx.platform.ecrKmsKeyArn,
        tags: ctx.tags,
        ledger: ctx.ledger,
      },
      { parent: ctx.parent },
    );
    return { credentialId: ns.accessKeyId, credentialSecret: ns.secretAccessKey };
  },
  acr: (ctx) => {
    const a = need(ctx.settings.acr, "settings.acr", ctx.customer.id);
    new AcrNamespace(
      `${ctx.name}-acr`,
      {
        resourceGroupName: a.resourceGroupName,
        registryName: ctx.platform.acrRegistryName ?? a.registryName,
        repositoryPrefix: ctx.names.acrRepositoryPrefix,
        scopeMapName: ctx.names.acrScopeMapName,
        tokenName: ctx.names.acrTokenName,
        allowDelete: ctx.customer.acr?.allowDelete ?? false,
        status: ctx.state.status,
        description: labelDescription(`registry-intake: ${ctx.customer.name}`, ctx.tags),
      },
      { parent: ctx.parent },
    );
    // No password is declared: the runtime mints one with a 1 h expiry.
    return {};
  },
  gar: (ctx) => {
    const g = need(ctx.settings.gar, "settings.gar", ctx.customer.id);
    const ns = new GarNamespace(
      `${ctx.name}-gar`,
      {
        project: g.project,
        location: g.location,
        repositoryId: ctx.names.garRepositoryId,
        serviceAccountId: ctx.names.gcpServiceAccountId,
        displayName: ctx.customer.name,
        status: ctx.state.status,
        immutableTags: g.immutableTags,
        untaggedExpiryDays: g.untaggedExpiryDays,
        keepVersions: g.keepVersions,
        serviceAccountKey: g.serviceAccountKeys,
        runtimeMember: g.runtimeMember,
        labels: gcpLabels(ctx.tags),
        ledger: ctx.ledger,
      },
      { parent: ctx.parent },
    );
    return g.serviceAccountKeys
      ? { credentialId: ns.serviceAccountEmail, credentialSecret: ns.serviceAccountKey, pull: { username: "_json_key_base64", password: ns.serviceAccountKey } }
      : {};
  },
  ghcr: (ctx) => {
    const gh = need(ctx.settings.ghcr, "settings.ghcr", ctx.customer.id);
    const machineUser = ctx.customer.github?.machineUser;
    const members = [...new Set([...(ctx.customer.github?.members ?? []), ...(machineUser ? [machineUser] : [])])];
    new GhcrNamespace(
      `${ctx.name}-ghcr`,
      {
        owner: gh.owner,
        repositoryName: ctx.names.githubRepository,
        teamName: ctx.names.githubTeam,
        displayName: ctx.customer.name,
        members,
        status: ctx.state.status,
        topics: ["registry-intake", `customer-${ctx.customer.id}`, `tier-${ctx.customer.tier}`],
        description: labelDescription(`Container packages of ${ctx.customer.name}`, ctx.tags),
        ledger: ctx.ledger,
      },
      { parent: ctx.parent },
    );
    const token = gh.machineUserTokens[ctx.customer.id];
    // The PAT is the operator's, stored as a Pulumi secret; it is long-lived and cannot be scoped.
    return machineUser && token && ctx.state.status === "active"
      ? { credentialId: pulumi.output(machineUser), credentialSecret: pulumi.secret(token), pull: { username: machineUser, password: pulumi.secret(token) } }
      : {};
  },
  distribution: (ctx) => {
    const ns = new DistributionNamespace(
      `${ctx.name}-distribution`,
      {
        customerId: ctx.customer.id,
        pathPrefix: ctx.names.distributionPathPrefix,
        robotUsername: ctx.names.distributionRobot,
        access: ctx.customer.distribution?.access ?? "push",
        status: ctx.state.status,
      },
      { parent: ctx.parent },
    );
    return {
      credentialId: ns.robotUsername,
      credentialSecret: ns.robotPassword,
      aclEntry: ns.aclEntry,
      ...(ctx.state.status === "active" ? { pull: { username: ns.robotUsername, password: ns.robotPassword } } : {}),
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
      ledger: args.ledger ?? new RetainedLedger(),
      parent: this,
    };
    this.namespaces = {};
    this.credentials = {};
    const pullSources: PullSecretSource[] = [];
    for (const kind of this.kinds) {
      const built = KIND_BUILDERS[kind](ctx);
      this.namespaces[kind] = customerNamespace(kind, customer.id, settings);
      if (built.credentialId || built.credentialSecret) this.credentials[kind] = { id: built.credentialId, secret: built.credentialSecret };
      if (built.aclEntry) this.aclEntry = built.aclEntry;
      pullSources.push({ kind, host: registryHost(kind, settings), username: built.pull?.username, password: built.pull?.password });
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
          labels: { [LABEL.customer]: customer.id, [LABEL.tier]: customer.tier, [LABEL.status]: tags[LABEL.status], [LABEL.managedBy]: tags[LABEL.managedBy] },
        },
        { parent: this },
      );
      this.pullSecrets = secrets.secretNames;
    }
    this.registerOutputs({ status: this.state.status, kinds: this.kinds, namespaces: this.namespaces, credentials: this.credentials, pullSecrets: this.pullSecrets });
  }
}
