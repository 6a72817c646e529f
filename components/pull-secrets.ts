import * as apiextensions from "@pulumi/kubernetes/apiextensions";
import * as batchv1 from "@pulumi/kubernetes/batch/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as rbacv1 from "@pulumi/kubernetes/rbac/v1";
import * as pulumi from "@pulumi/pulumi";
import { LABEL } from "../core/labels";
import type { Settings } from "../core/settings";
import type { RegistryKind } from "../core/tiers";

/**
 * An External Secrets Operator generator that mints a kind's short-lived credential with the
 * customer's own scope (kinds/<kind>/component.ts returns one where a generator can keep it).
 */
export interface PullGenerator {
  /** The generator's kind in generators.external-secrets.io/v1alpha1. */
  kind: "ECRAuthorizationToken" | "GCRAccessToken";
  /** Its spec, given the names of what it authenticates with (see pullSecretNames). */
  spec: (names: PullSecretNames) => pulumi.Input<Record<string, unknown>>;
  /** A Secret it authenticates with, declared beside it in the customer's namespace (ECR: the customer's own access key). */
  authSecret?: Record<string, pulumi.Input<string | undefined>>;
  /** A Kubernetes service account it authenticates as (Artifact Registry: bound to the customer's service account by workload identity). */
  serviceAccount?: { annotations: Record<string, pulumi.Input<string | undefined>> };
  /** How often the operator renews it: well within the credential's lifetime. */
  refreshInterval: string;
}

/** One registry's entry: a declared long-lived credential, a generator, or neither (the refresher keeps it fresh). */
export interface PullSecretSource {
  kind: RegistryKind;
  host: string;
  username?: pulumi.Input<string | undefined>;
  password?: pulumi.Input<string | undefined>;
  generator?: PullGenerator;
}

export interface KubernetesPullSecretsArgs {
  namespace: string;
  customerId: string;
  secretPrefix: string;
  sources: PullSecretSource[];
  labels: Record<string, string>;
  /** How short-lived credentials are kept fresh (settings.pullSecrets); absent: an annotated empty Secret. */
  pullSecrets?: Settings["pullSecrets"];
  /** The stack the refresher mints for (`intake token --stack`). */
  stack: string;
}

/** The names of everything one customer's pull secret for one kind is made of. */
export interface PullSecretNames {
  /** The `kubernetes.io/dockerconfigjson` Secret pods name in imagePullSecrets (and the generator and ExternalSecret). */
  secret: string;
  /** The Secret an ESO generator authenticates with. */
  authSecret: string;
  /** The Kubernetes service account an ESO generator authenticates as. */
  serviceAccount: string;
  /** The refresher's CronJob (in the refresher's namespace) and its Role and RoleBinding (in the customer's). */
  refresher: string;
}

export function pullSecretNames(secretPrefix: string, customerId: string, kind: RegistryKind): PullSecretNames {
  const secret = `${secretPrefix}-${customerId}-${kind}`;
  return { secret, authSecret: `${secret}-auth`, serviceAccount: `${secret}-puller`, refresher: `${secret}-refresh` };
}

/** A docker config.json for one registry. */
function dockerConfigJson(host: string, username: string, password: string): string {
  return JSON.stringify({ auths: { [host]: { username, password, auth: Buffer.from(`${username}:${password}`).toString("base64") } } });
}

/** The command that refreshes a short-lived pull secret. */
function refreshCommand(customerId: string, kind: RegistryKind): string {
  return `intake token --customer ${customerId} --kind ${kind} --format docker-config`;
}

/**
 * The refresher's schedule per kind: well within each credential's lifetime. Every kind the
 * runtime mints lives 1 h (ECR's token stops with the push-role session it came from).
 */
const REFRESH_SCHEDULE: Partial<Record<RegistryKind, string>> = { ecr: "*/20 * * * *", acr: "*/20 * * * *", gar: "*/20 * * * *" };

/**
 * The ESO template of a dockerconfigjson for `host` from a generator's `username` and `password`
 * (both generators name them so). Go template, rendered by the operator.
 */
function esoDockerConfigTemplate(host: string): string {
  return `{"auths":{"${host}":{"username":"{{ .username }}","password":"{{ .password }}","auth":"{{ printf "%s:%s" .username .password | b64enc }}"}}}`;
}

/**
 * `kubernetes.io/dockerconfigjson` Secrets in a customer's namespace, one per registry kind, each
 * kept working in one of three ways:
 * - a long-lived credential the program declares (Distribution robot, GHCR machine-user PAT,
 *   Artifact Registry key): the Secret holds it;
 * - with `pullSecrets.mode: eso`, where a generator keeps the customer's scope (ECR, Artifact
 *   Registry by workload identity): the generator and an ExternalSecret that renders the Secret and
 *   renews it well before expiry;
 * - otherwise with `pullSecrets` set: the refresher, a CronJob in the platform's namespace running
 *   `intake token` with the platform's identity, allowed by a Role to patch this one Secret only;
 * - without `pullSecrets`: the Secret is declared empty and annotated with the command that fills it.
 * A Secret a writer fills (ESO's ExternalSecret, the refresher, or your own) is one resource in every
 * mode, declared empty with ignoreChanges on its data: `pulumi up` never overwrites a fresh token,
 * and a change of mode never deletes or recreates it, only changes who writes it. ESO merges into
 * it (creationPolicy Merge: no owner reference, so deleting the ExternalSecret never takes the
 * Secret with it); the provider forces the fields it declares (`pulumi.com/patchForce`), so a
 * Secret an earlier ExternalSecret created and owned is taken over without a field conflict.
 */
export class KubernetesPullSecrets extends pulumi.ComponentResource {
  public readonly secretNames: Partial<Record<RegistryKind, pulumi.Output<string>>> = {};

  constructor(name: string, args: KubernetesPullSecretsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:kubernetes:PullSecrets", name, {}, opts);
    for (const src of args.sources) {
      const names = pullSecretNames(args.secretPrefix, args.customerId, src.kind);
      const labels = { ...args.labels, [LABEL.customer]: args.customerId, "registry-intake/kind": src.kind };
      const child = `${name}-${src.kind}`;
      if (src.password !== undefined) {
        this.secretNames[src.kind] = this.staticSecret(child, names, args.namespace, labels, src);
      } else if (args.pullSecrets?.mode === "eso" && src.generator) {
        this.secretNames[src.kind] = this.generated(child, names, args.namespace, labels, src, src.generator);
      } else {
        this.secretNames[src.kind] = this.refreshed(child, names, args, labels, src);
      }
    }
    this.registerOutputs({ secretNames: this.secretNames });
  }

  private staticSecret(child: string, names: PullSecretNames, namespace: string, labels: Record<string, string>, src: PullSecretSource): pulumi.Output<string> {
    const data = pulumi.secret(
      pulumi.all([src.username, src.password]).apply(([u, p]) => {
        if (!u || !p) throw new Error(`pull secret ${names.secret}: credential for ${src.kind} is empty`);
        return dockerConfigJson(src.host, u, p);
      }),
    );
    return new corev1.Secret(
      child,
      {
        metadata: { name: names.secret, namespace, labels, annotations: { "registry-intake/registry": src.host } },
        type: "kubernetes.io/dockerconfigjson",
        stringData: { ".dockerconfigjson": data },
      },
      { parent: this },
    ).metadata.name;
  }

  /** The pull secret, the generator, what it authenticates with, and the ExternalSecret that writes the Secret. */
  private generated(
    child: string,
    names: PullSecretNames,
    namespace: string,
    labels: Record<string, string>,
    src: PullSecretSource,
    g: PullGenerator,
  ): pulumi.Output<string> {
    const secret = this.writtenSecret(child, names, namespace, labels, src, { "registry-intake/written-by": `ExternalSecret ${names.secret}` });
    const dependsOn: pulumi.Resource[] = [];
    if (g.authSecret) {
      const values = pulumi.secret(
        pulumi.all(g.authSecret).apply((v) => {
          const missing = Object.entries(v)
            .filter(([, x]) => !x)
            .map(([k]) => k);
          if (missing.length) throw new Error(`pull secret ${names.secret}: ${missing.join(", ")} of the ${src.kind} credential is empty`);
          return v as Record<string, string>;
        }),
      );
      dependsOn.push(
        new corev1.Secret(`${child}-auth`, { metadata: { name: names.authSecret, namespace, labels }, type: "Opaque", stringData: values }, { parent: this }),
      );
    }
    if (g.serviceAccount) {
      dependsOn.push(
        new corev1.ServiceAccount(
          `${child}-puller`,
          {
            metadata: { name: names.serviceAccount, namespace, labels, annotations: g.serviceAccount.annotations as Record<string, pulumi.Input<string>> },
            automountServiceAccountToken: false,
          },
          { parent: this },
        ),
      );
    }
    const generator = new apiextensions.CustomResource(
      `${child}-generator`,
      { apiVersion: "generators.external-secrets.io/v1alpha1", kind: g.kind, metadata: { name: names.secret, namespace, labels }, spec: g.spec(names) },
      { parent: this, dependsOn },
    );
    new apiextensions.CustomResource(
      `${child}-external`,
      {
        apiVersion: "external-secrets.io/v1",
        kind: "ExternalSecret",
        metadata: { name: names.secret, namespace, labels, annotations: { "registry-intake/registry": src.host } },
        spec: {
          refreshInterval: g.refreshInterval,
          target: {
            name: names.secret,
            // The Secret is this stack's: ESO writes its data, never owns or deletes it.
            creationPolicy: "Merge",
            template: { type: "kubernetes.io/dockerconfigjson", metadata: { labels }, data: { ".dockerconfigjson": esoDockerConfigTemplate(src.host) } },
          },
          dataFrom: [{ sourceRef: { generatorRef: { apiVersion: "generators.external-secrets.io/v1alpha1", kind: g.kind, name: names.secret } } }],
        },
      },
      { parent: this, dependsOn: [generator, secret] },
    );
    return secret.metadata.name;
  }

  /**
   * The Secret a writer fills, the same resource whatever writes it: declared empty, its data left
   * to the writer (ignoreChanges), forced where the provider would meet another writer's fields.
   */
  private writtenSecret(
    child: string,
    names: PullSecretNames,
    namespace: string,
    labels: Record<string, string>,
    src: PullSecretSource,
    annotations: Record<string, string>,
  ): corev1.Secret {
    return new corev1.Secret(
      child,
      {
        metadata: {
          name: names.secret,
          namespace,
          labels,
          annotations: { "registry-intake/registry": src.host, ...annotations, "pulumi.com/patchForce": "true" },
        },
        type: "kubernetes.io/dockerconfigjson",
        stringData: { ".dockerconfigjson": JSON.stringify({ auths: {} }) },
      },
      { parent: this, ignoreChanges: ["stringData", "data"] },
    );
  }

  /** The Secret, empty and left to a refresher: the project's own CronJob where settings name it, else the one the annotation names. */
  private refreshed(
    child: string,
    names: PullSecretNames,
    args: KubernetesPullSecretsArgs,
    labels: Record<string, string>,
    src: PullSecretSource,
  ): pulumi.Output<string> {
    const secret = this.writtenSecret(child, names, args.namespace, labels, src, { "registry-intake/refresh": refreshCommand(args.customerId, src.kind) });
    const r = args.pullSecrets?.refresher;
    if (r) {
      // The refresher may patch this one Secret in the customer's namespace, and nothing else there.
      const role = new rbacv1.Role(
        `${child}-refresher`,
        {
          metadata: { name: names.refresher, namespace: args.namespace, labels },
          rules: [{ apiGroups: [""], resources: ["secrets"], resourceNames: [names.secret], verbs: ["get", "patch"] }],
        },
        { parent: this },
      );
      new rbacv1.RoleBinding(
        `${child}-refresher`,
        {
          metadata: { name: names.refresher, namespace: args.namespace, labels },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: role.metadata.name },
          subjects: [{ kind: "ServiceAccount", name: r.serviceAccount, namespace: r.namespace }],
        },
        { parent: this },
      );
      // Runs where the platform's identity lives, never in the customer's namespace (that identity can mint for every customer).
      const script =
        `set -eu; cfg="$(${refreshCommand(args.customerId, src.kind)} --stack ${args.stack})"; ` +
        `kubectl -n ${args.namespace} patch secret ${names.secret} --type merge -p "{\\"data\\":{\\".dockerconfigjson\\":\\"$(printf %s "$cfg" | base64 | tr -d '\\n')\\"}}"`;
      new batchv1.CronJob(
        `${child}-refresh`,
        {
          metadata: { name: names.refresher, namespace: r.namespace, labels },
          spec: {
            schedule: REFRESH_SCHEDULE[src.kind] ?? "*/20 * * * *",
            concurrencyPolicy: "Forbid",
            successfulJobsHistoryLimit: 1,
            failedJobsHistoryLimit: 3,
            jobTemplate: {
              spec: {
                backoffLimit: 2,
                template: {
                  metadata: { labels },
                  spec: {
                    serviceAccountName: r.serviceAccount,
                    restartPolicy: "Never",
                    containers: [{ name: "refresh", image: r.image, command: ["/bin/sh", "-c", script] }],
                  },
                },
              },
            },
          },
        },
        { parent: this },
      );
    }
    return secret.metadata.name;
  }
}
