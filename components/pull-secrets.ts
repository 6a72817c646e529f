import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import type { RegistryKind } from "../core/tiers";
import { LABEL } from "../core/labels";

/** One registry's entry: a declared long-lived credential, or none (the runtime keeps it fresh). */
export interface PullSecretSource {
  kind: RegistryKind;
  host: string;
  username?: pulumi.Input<string | undefined>;
  password?: pulumi.Input<string | undefined>;
}

export interface KubernetesPullSecretsArgs {
  namespace: string;
  customerId: string;
  secretPrefix: string;
  sources: PullSecretSource[];
  labels: Record<string, string>;
}

/** A docker config.json for one registry. */
export function dockerConfigJson(host: string, username: string, password: string): string {
  return JSON.stringify({ auths: { [host]: { username, password, auth: Buffer.from(`${username}:${password}`).toString("base64") } } });
}

/** The command that refreshes a short-lived pull secret. */
export function refreshCommand(customerId: string, kind: RegistryKind): string {
  return `intake token --customer ${customerId} --kind ${kind} --format docker-config`;
}

/**
 * `kubernetes.io/dockerconfigjson` Secrets in a customer's namespace, one per registry kind.
 * Where the program declares a long-lived credential (Distribution robot, GHCR machine-user
 * PAT, Artifact Registry key) the secret holds it. Where credentials are short-lived by design
 * (ECR, ACR, impersonated Artifact Registry) nothing long-lived exists to put in state: the
 * secret is declared empty, annotated with the command that fills it, and its data is left to
 * that refresher (ignoreChanges), so `pulumi up` never overwrites a fresh token with a stale one.
 */
export class KubernetesPullSecrets extends pulumi.ComponentResource {
  public readonly secretNames: Partial<Record<RegistryKind, pulumi.Output<string>>> = {};

  constructor(name: string, args: KubernetesPullSecretsArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:kubernetes:PullSecrets", name, {}, opts);
    for (const src of args.sources) {
      const secretName = `${args.secretPrefix}-${args.customerId}-${src.kind}`;
      const refreshed = src.password === undefined;
      const data: pulumi.Input<string> = refreshed
        ? JSON.stringify({ auths: {} })
        : pulumi.secret(
            pulumi.all([src.username, src.password]).apply(([u, p]) => {
              if (!u || !p) throw new Error(`pull secret ${secretName}: credential for ${src.kind} is empty`);
              return dockerConfigJson(src.host, u, p);
            }),
          );
      const secret = new corev1.Secret(
        `${name}-${src.kind}`,
        {
          metadata: {
            name: secretName,
            namespace: args.namespace,
            labels: { ...args.labels, [LABEL.customer]: args.customerId, "registry-intake/kind": src.kind },
            annotations: refreshed
              ? { "registry-intake/registry": src.host, "registry-intake/refresh": refreshCommand(args.customerId, src.kind) }
              : { "registry-intake/registry": src.host },
          },
          type: "kubernetes.io/dockerconfigjson",
          stringData: { ".dockerconfigjson": data },
        },
        { parent: this, ...(refreshed ? { ignoreChanges: ["stringData", "data"] } : {}) },
      );
      this.secretNames[src.kind] = secret.metadata.name;
    }
    this.registerOutputs({ secretNames: this.secretNames });
  }
}
