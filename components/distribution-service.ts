import * as appsv1 from "@pulumi/kubernetes/apps/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { deliveryRobotName } from "../customers/naming";
import { stringify } from "yaml";
import type { Acl, AclEntry } from "../runtime/acl";
import { MANAGED_BY } from "./labels";
import type { Settings } from "./settings";

export interface DistributionServiceArgs {
  settings: Settings;
  /** Every customer's access-list entry (secrets); undefined entries (offboarded) are dropped. */
  entries: pulumi.Output<AclEntry | undefined>[];
}

const REGISTRY_PORT = 5000;
const BROKER_PORT = 5001;

/** The registry's config.yml: token auth pointing at the broker, trusting its certificate. */
export function registryConfig(s: NonNullable<Settings["distribution"]>): string {
  return stringify({
    version: 0.1,
    log: { level: "info", formatter: "json" },
    storage: { filesystem: { rootdirectory: "/var/lib/registry" }, delete: { enabled: true } },
    http: { addr: `:${REGISTRY_PORT}`, headers: { "X-Content-Type-Options": ["nosniff"] } },
    auth: {
      token: { realm: s.realm, service: s.service, issuer: s.issuer, rootcertbundle: "/etc/registry/auth/tls.crt" },
    },
    health: { storagedriver: { enabled: true, interval: "10s", threshold: 3 } },
  });
}

/**
 * The broker's access list as one secret document, and, when the stack asks for it, the
 * self-hosted registry and its token broker on Kubernetes: the registry (Deployment, Service,
 * PVC, config with auth.token pointing at the broker) and the broker (Deployment, Service,
 * the access list as a Secret). The signing key pair is an existing kubernetes.io/tls Secret.
 */
export class DistributionService extends pulumi.ComponentResource {
  /** The access list (JSON), a secret: mount it as the broker's --acl file where it runs elsewhere. */
  public readonly acl: pulumi.Output<string>;
  /** The delivery robot (`intake deliver` pushes and mounts with it): user name and password (a secret). */
  public readonly deliveryUsername: string;
  public readonly deliveryPassword: pulumi.Output<string>;
  public readonly registryService: pulumi.Output<string | undefined>;
  public readonly brokerService: pulumi.Output<string | undefined>;

  constructor(name: string, args: DistributionServiceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:distribution:DistributionService", name, {}, opts);
    const d = args.settings.distribution;
    if (!d) throw new Error(`DistributionService ${name}: settings.distribution is required`);
    this.deliveryUsername = deliveryRobotName({ repoPrefix: args.settings.repoPrefix });
    const delivery = new random.RandomPassword(
      `${name}-delivery-robot`,
      { length: 40, special: false, minLower: 4, minUpper: 4, minNumeric: 4, keepers: { role: "delivery" } },
      { parent: this, additionalSecretOutputs: ["result", "bcryptHash"] },
    );
    this.deliveryPassword = pulumi.secret(delivery.result);
    this.acl = pulumi.secret(
      pulumi.all([pulumi.all(args.entries), delivery.bcryptHash]).apply(([es, hash]) => {
        const acl: Acl = {
          version: 1,
          service: d.service,
          issuer: d.issuer,
          entries: es.filter((e): e is AclEntry => e !== undefined),
          delivery: { username: this.deliveryUsername, passwordHash: hash, enabled: true },
        };
        return JSON.stringify(acl, null, 2);
      }),
    );

    const k = d.kubernetes;
    if (!k) {
      this.registryService = pulumi.output(undefined);
      this.brokerService = pulumi.output(undefined);
    } else {
      const labels = { "app.kubernetes.io/part-of": "registry-intake", "app.kubernetes.io/managed-by": MANAGED_BY };
      const meta = (component: string) => ({ namespace: k.namespace, labels: { ...labels, "app.kubernetes.io/component": component } });
      const selector = (component: string) => ({ "app.kubernetes.io/part-of": "registry-intake", "app.kubernetes.io/component": component });

      const config = new corev1.ConfigMap(`${name}-registry-config`, { metadata: meta("registry"), data: { "config.yml": registryConfig(d) } }, { parent: this });
      const pvc = new corev1.PersistentVolumeClaim(
        `${name}-registry-data`,
        {
          metadata: meta("registry"),
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: k.storageSize } }, storageClassName: k.storageClassName },
        },
        // The images live here: never deleted with the stack.
        { parent: this, retainOnDelete: true },
      );
      const registry = new appsv1.Deployment(
        `${name}-registry`,
        {
          metadata: meta("registry"),
          spec: {
            replicas: 1,
            strategy: { type: "Recreate" },
            selector: { matchLabels: selector("registry") },
            template: {
              metadata: { labels: { ...labels, ...selector("registry") } },
              spec: {
                containers: [
                  {
                    name: "registry",
                    image: k.registryImage,
                    ports: [{ containerPort: REGISTRY_PORT, name: "http" }],
                    readinessProbe: { httpGet: { path: "/", port: REGISTRY_PORT } },
                    volumeMounts: [
                      { name: "config", mountPath: "/etc/docker/registry" },
                      { name: "data", mountPath: "/var/lib/registry" },
                      { name: "signing", mountPath: "/etc/registry/auth", readOnly: true },
                    ],
                  },
                ],
                volumes: [
                  { name: "config", configMap: { name: config.metadata.name } },
                  { name: "data", persistentVolumeClaim: { claimName: pvc.metadata.name } },
                  { name: "signing", secret: { secretName: k.signingSecretName, items: [{ key: "tls.crt", path: "tls.crt" }] } },
                ],
              },
            },
          },
        },
        { parent: this },
      );
      const aclSecret = new corev1.Secret(
        `${name}-broker-acl`,
        { metadata: meta("broker"), type: "Opaque", stringData: { "acl.json": this.acl } },
        { parent: this },
      );
      const broker = new appsv1.Deployment(
        `${name}-broker`,
        {
          metadata: meta("broker"),
          spec: {
            replicas: 2,
            selector: { matchLabels: selector("broker") },
            template: {
              metadata: { labels: { ...labels, ...selector("broker") } },
              spec: {
                containers: [
                  {
                    name: "broker",
                    image: k.brokerImage,
                    args: [
                      "broker",
                      "--acl", "/etc/intake/acl/acl.json",
                      "--listen", `0.0.0.0:${BROKER_PORT}`,
                      "--key", "/etc/intake/signing/tls.key",
                      "--cert", "/etc/intake/signing/tls.crt",
                      "--service", d.service,
                      "--issuer", d.issuer,
                    ],
                    ports: [{ containerPort: BROKER_PORT, name: "http" }],
                    volumeMounts: [
                      { name: "acl", mountPath: "/etc/intake/acl", readOnly: true },
                      { name: "signing", mountPath: "/etc/intake/signing", readOnly: true },
                    ],
                  },
                ],
                volumes: [
                  { name: "acl", secret: { secretName: aclSecret.metadata.name } },
                  { name: "signing", secret: { secretName: k.signingSecretName } },
                ],
              },
            },
          },
        },
        { parent: this },
      );
      const registrySvc = new corev1.Service(
        `${name}-registry`,
        { metadata: meta("registry"), spec: { selector: selector("registry"), ports: [{ port: REGISTRY_PORT, targetPort: "http", name: "http" }] } },
        { parent: this, dependsOn: [registry] },
      );
      const brokerSvc = new corev1.Service(
        `${name}-broker`,
        { metadata: meta("broker"), spec: { selector: selector("broker"), ports: [{ port: BROKER_PORT, targetPort: "http", name: "http" }] } },
        { parent: this, dependsOn: [broker] },
      );
      this.registryService = registrySvc.metadata.name;
      this.brokerService = brokerSvc.metadata.name;
    }
    this.registerOutputs({ acl: this.acl, deliveryPassword: this.deliveryPassword, registryService: this.registryService, brokerService: this.brokerService });
  }
}
