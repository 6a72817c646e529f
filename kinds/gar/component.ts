import * as artifactregistry from "@pulumi/gcp/artifactregistry";
import * as serviceaccount from "@pulumi/gcp/serviceaccount";
import * as pulumi from "@pulumi/pulumi";
import type { EffectiveStatus } from "../../customers/status";
import { KeptResources } from "../../components/kept";
import { need, type KindBuilder } from "../../components/kind";
import { pullSecretNames } from "../../components/pull-secrets";
import { eachGeneration, generationName, liveGenerations, type LiveGenerations } from "../../core/rotation";
import { gcpLabels } from "../../core/labels";
import { garProductRepositoryId } from "./kind";

interface GarNamespaceArgs {
  project: string;
  location: string;
  repositoryId: string;
  serviceAccountId: string;
  displayName: string;
  status: EffectiveStatus;
  immutableTags: boolean;
  untaggedExpiryDays: number;
  keepVersions: number;
  /** Declare a service-account key (a Pulumi secret). Off: the runtime impersonates. */
  serviceAccountKey: boolean;
  /** The key's generations to declare (core/rotation.ts). */
  keys?: LiveGenerations;
  /** The runtime's identity, granted Token Creator on this service account only. */
  runtimeMember?: string;
  /** A Kubernetes service account (workload identity pool member) that may act as this service account: the customer's pull-secret generator. */
  workloadIdentityMember?: string;
  labels: Record<string, string>;
  /** Kept resources of earlier updates: a repository that comes back is adopted, not created. */
  keptList?: KeptResources;
  /**
   * With a product catalogue: the products the customer is entitled to, each a repository of its
   * own (`<repositoryId>--<product>`, Artifact Registry grants by repository) with the writer role
   * on it; none: no repository and no grant.
   */
  products?: string[];
}

/** Artifact Registry cleanup policies: untagged versions expire, the newest N are kept. At most 10 per repository. */
function garCleanupPolicies(untaggedExpiryDays: number, keepVersions: number) {
  return [
    { id: "delete-untagged", action: "DELETE", condition: { tagState: "UNTAGGED", olderThan: `${untaggedExpiryDays * 86400}s` } },
    { id: "keep-newest", action: "KEEP", mostRecentVersions: { keepCount: keepVersions } },
  ];
}

export const GAR_WRITER_ROLE = "roles/artifactregistry.writer";
export const TOKEN_CREATOR_ROLE = "roles/iam.serviceAccountTokenCreator";
const WORKLOAD_IDENTITY_ROLE = "roles/iam.workloadIdentityUser";

/**
 * One customer's namespace on Artifact Registry. AR isolates by repository, not by path (a
 * writer on a shared repository writes everywhere in it), so each customer gets its own
 * docker repository, a service account, and the writer role on that repository only, never
 * on the project. Suspended: the service account is disabled and holds no grant or key (GCP
 * ignores `disabled` on create, so the grants are what is withdrawn). Offboarded: account and
 * grant are deleted; the repository is kept.
 */
class GarNamespace extends pulumi.ComponentResource {
  public readonly repositoryUrl: pulumi.Output<string>;
  public readonly serviceAccountEmail: pulumi.Output<string | undefined>;
  public readonly serviceAccountKey: pulumi.Output<string | undefined>;

  constructor(name: string, args: GarNamespaceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:gcp:GarNamespace", name, {}, opts);
    const keptList = args.keptList ?? new KeptResources();
    // One repository, or one per entitled product (named by the product: a catalogue that comes
    // leaves the customer's repository to the kept list, kept, and declares the products' anew).
    const wanted = args.products
      ? args.products.map((p) => ({ suffix: `-${p}`, id: garProductRepositoryId(args.repositoryId, p), product: p as string | undefined }))
      : [{ suffix: "", id: args.repositoryId, product: undefined }];
    const repos: { suffix: string; repo: artifactregistry.Repository }[] = [];
    for (const w of wanted) {
      // The id Artifact Registry gives the repository, and the one `import` takes.
      const repositoryPath = `projects/${args.project}/locations/${args.location}/repositories/${w.id}`;
      // Declared while the customer is one; once offboarded, only if the stack holds or kept it.
      if (!keptList.declares("gar", repositoryPath, args.status === "offboarded")) continue;
      const repo = new artifactregistry.Repository(
        `${name}-repo${w.suffix}`,
        {
          project: args.project,
          location: args.location,
          repositoryId: w.id,
          format: "DOCKER",
          description: `Container images of customer ${args.displayName}${w.product ? `, product ${w.product}` : ""}`,
          dockerConfig: { immutableTags: args.immutableTags },
          cleanupPolicyDryRun: false,
          cleanupPolicies: garCleanupPolicies(args.untaggedExpiryDays, args.keepVersions),
          labels: args.labels,
        },
        { parent: this, retainOnDelete: true, ...keptList.adoption("gar", repositoryPath) },
      );
      keptList.track("gar", repositoryPath, repo);
      repos.push({ suffix: w.suffix, repo });
    }
    this.repositoryUrl = pulumi.output(`${args.location}-docker.pkg.dev/${args.project}/${args.products ? "" : args.repositoryId}`.replace(/\/$/, ""));

    if (args.status === "offboarded") {
      this.serviceAccountEmail = pulumi.output(undefined);
      this.serviceAccountKey = pulumi.output(undefined);
    } else {
      const sa = new serviceaccount.Account(
        `${name}-sa`,
        {
          project: args.project,
          accountId: args.serviceAccountId,
          displayName: `registry-intake ${args.displayName}`.slice(0, 100),
          description: `Pushes and pulls ${args.repositoryId} only`,
          disabled: args.status !== "active",
        },
        { parent: this },
      );
      // GCP ignores `disabled` when it creates an account: a customer first declared while
      // suspended would get an enabled account. So the account holds nothing unless active:
      // no writer grant, no Token Creator, no key; suspension withdraws them at once.
      if (args.status === "active" && repos.length) {
        for (const { suffix, repo } of repos) {
          new artifactregistry.RepositoryIamMember(
            `${name}-writer${suffix}`,
            {
              project: args.project,
              location: args.location,
              repository: repo.name,
              role: GAR_WRITER_ROLE,
              member: pulumi.interpolate`serviceAccount:${sa.email}`,
            },
            { parent: this },
          );
        }
        if (args.runtimeMember) {
          new serviceaccount.IAMMember(
            `${name}-token-creator`,
            { serviceAccountId: sa.name, role: TOKEN_CREATOR_ROLE, member: args.runtimeMember },
            { parent: this },
          );
        }
        if (args.workloadIdentityMember) {
          new serviceaccount.IAMMember(
            `${name}-workload-identity`,
            { serviceAccountId: sa.name, role: WORKLOAD_IDENTITY_ROLE, member: args.workloadIdentityMember },
            { parent: this },
          );
        }
        if (args.serviceAccountKey) {
          const { current: key } = eachGeneration(
            args.keys ?? { current: 1 },
            (generation) =>
              new serviceaccount.Key(
                generationName(`${name}-key`, generation),
                { serviceAccountId: sa.name },
                { parent: this, additionalSecretOutputs: ["privateKey"] },
              ),
          );
          this.serviceAccountKey = pulumi.secret(key.privateKey);
        } else {
          this.serviceAccountKey = pulumi.output(undefined);
        }
      } else {
        this.serviceAccountKey = pulumi.output(undefined);
      }
      this.serviceAccountEmail = sa.email;
    }
    this.registerOutputs({ repositoryUrl: this.repositoryUrl, serviceAccountEmail: this.serviceAccountEmail, serviceAccountKey: this.serviceAccountKey });
  }
}

/** A customer's Artifact Registry part: its repository and service account (a key only where the stack allows keys). */
export const build: KindBuilder = (ctx) => {
  const g = need(ctx.settings.gar, "settings.gar", ctx.customer.id);
  // Its pull secret, with ESO: an access token of the customer's own service account, reached by
  // workload identity from a Kubernetes service account in the customer's namespace.
  const gke = ctx.settings.pullSecrets?.mode === "eso" && !g.serviceAccountKeys ? ctx.settings.pullSecrets.gke : undefined;
  const k8sNamespace = ctx.customer.kubernetes?.namespace;
  const puller = gke && k8sNamespace ? pullSecretNames(ctx.settings.repoPrefix, ctx.customer.id, "gar").serviceAccount : undefined;
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
      keys: liveGenerations(ctx.customer.credentials?.gar, ctx.settings.asOf),
      runtimeMember: g.runtimeMember,
      workloadIdentityMember: puller && `serviceAccount:${gke!.projectId}.svc.id.goog[${k8sNamespace}/${puller}]`,
      labels: gcpLabels(ctx.tags),
      keptList: ctx.keptList,
      products: ctx.products,
    },
    { parent: ctx.parent },
  );
  // A key exists only while the customer is active: no pull credential otherwise.
  if (g.serviceAccountKeys) {
    return {
      credentialId: ns.serviceAccountEmail,
      credentialSecret: ns.serviceAccountKey,
      ...(ctx.state.status === "active" ? { pull: { username: "_json_key_base64", password: ns.serviceAccountKey } } : {}),
    };
  }
  if (!gke || !puller) return {};
  return {
    generator: {
      kind: "GCRAccessToken",
      spec: (n) => ({
        projectID: g.project,
        auth: {
          workloadIdentity: {
            serviceAccountRef: { name: n.serviceAccount },
            clusterLocation: gke.location,
            clusterName: gke.name,
            clusterProjectID: gke.projectId,
          },
        },
      }),
      serviceAccount: { annotations: { "iam.gke.io/gcp-service-account": ns.serviceAccountEmail } },
      refreshInterval: "20m", // the token lives 1 h
    },
  };
};
