import { createHash } from "node:crypto";
import * as appsv1 from "@pulumi/kubernetes/apps/v1";
import * as corev1 from "@pulumi/kubernetes/core/v1";
import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import { deliveryRobotName } from "../../core/naming";
import { eachGeneration, generationName, liveGenerations } from "../../core/rotation";
import type { Roster } from "../../customers/roster";
import { stringify } from "yaml";
import { registryConfig } from "./registry-config";
import type { Acl, AclEntry } from "../../core/acl";
import { MANAGED_BY } from "../../core/labels";
import type { KeptResources } from "../../components/kept";
import type { Settings } from "../../core/settings";

export interface DistributionServiceArgs {
  settings: Settings;
  /** Every customer's access-list entry (secrets); undefined entries (offboarded) are dropped. */
  entries: pulumi.Output<AclEntry | undefined>[];
  /**
   * `all`: one stack holds everything. `platform`: the delivery robot, registry and broker, no
   * customers. `shard`: only this shard's customers' entries (no robot, no registry).
   */
  role?: "all" | "platform" | "shard";
  /**
   * The customers this stack declares (the whole roster on an unsharded stack, the shard's slice on
   * a shard stack): the broker judges licenses by them at every request, mounted as this stack's
   * roster ConfigMap (on a sharded stack one part per shard, mounted together).
   */
  roster?: Roster;
  /** Kept resources: the registry's claim a destroyed stack left is adopted, as repositories are. */
  keptList?: KeptResources;
}

/**
 * Kubernetes refuses a Secret or ConfigMap over 1 MiB (its data, and etcd's request limit).
 * What the broker mounts is kept under it, with room for the object's metadata.
 */
export const K8S_OBJECT_LIMIT = 1024 * 1024;
export const OBJECT_DATA_LIMIT = K8S_OBJECT_LIMIT - 16 * 1024;

/** A stack's part of what the broker mounts is too large for one Kubernetes object: say how many shards fit it. */
function tooLarge(what: string, bytes: number, s: Settings, customers: number): string {
  const perCustomer = bytes / Math.max(1, customers);
  const fit = Math.max(1, Math.floor(OBJECT_DATA_LIMIT / perCustomer));
  const total = s.shard ? s.shard.count * customers : customers;
  const count = Math.ceil(total / (fit * 0.8));
  return (
    `registry-intake: the broker's ${what} for stack ${s.stack} would be ${bytes} bytes (${customers} customers), over Kubernetes' 1 MiB object limit: ` +
    `${s.shard ? `raise registry-intake:shard.count to at least ${count}` : `shard the stack (registry-intake:shard: { count: ${count} } or more; see "Sharded stacks")`} so each shard holds at most about ${Math.floor(fit * 0.8)} customers`
  );
}

/**
 * Why this stack's roster part cannot be mounted into the broker (over 1 MiB), or undefined. The
 * program asks before it declares anything; `stackCustomers` are the customers the stack declares.
 */
export function rosterPartProblem(s: Settings, stackCustomers: Roster): string | undefined {
  if (!s.enabledKinds.includes("distribution") || !s.distribution?.kubernetes || stackCustomers.customers.length === 0) return undefined;
  const bytes = Buffer.byteLength(rosterDocument(stackCustomers, s));
  if (bytes > OBJECT_DATA_LIMIT) return tooLarge("roster ConfigMap", bytes, s, stackCustomers.customers.length);
  // The access list's entries, each as long as the real one (a bcrypt hash is 60 characters); the
  // Secret itself is checked again when its hashes are known.
  const robots = stackCustomers.customers.filter((c) => c.status !== "offboarded" && c.registries.includes("distribution"));
  const hash = "x".repeat(60);
  const aclBytes = robots.reduce(
    (n, c) =>
      n +
      1 +
      JSON.stringify({
        customer: c.id,
        username: `${s.repoPrefix}-robot-${c.id}`,
        passwordHash: hash,
        paths: [`${s.repoPrefix}/${c.id}/*`],
        actions: ["pull", "push"],
        enabled: true,
      }).length,
    200,
  );
  return aclBytes > OBJECT_DATA_LIMIT ? tooLarge("access-list Secret", aclBytes, s, robots.length) : undefined;
}

/** The ConfigMap holding one stack's part of the roster: the whole roster, or on a shard stack its slice. */
export function rosterMapName(s: Settings): string {
  const sh = s.shard;
  return sh?.index !== undefined ? `${s.repoPrefix}-broker-roster-shard-${shardSuffix(sh.index, sh.count)}` : `${s.repoPrefix}-broker-roster`;
}

function shardSuffix(index: number, count: number): string {
  return String(index).padStart(Math.max(2, String(count - 1).length), "0");
}

const documents = new WeakMap<Roster, string>();

/**
 * The roster as a file the broker loads (the entries as written, without derived fields, and the
 * stack's product catalogue when it has one, so a catalogue change reaches the broker with the
 * roster that names it); made once per roster (the size check and the ConfigMap share it).
 */
export function rosterDocument(roster: Roster, s?: Pick<Settings, "products" | "tierEntitlements">): string {
  let text = documents.get(roster);
  if (text === undefined) {
    text = stringify({
      customers: roster.customers.map(({ registriesExplicit, registries, ...c }) => ({ ...c, ...(registriesExplicit ? { registries } : {}) })),
      ...(s?.products
        ? { catalogue: { products: s.products, ...(Object.keys(s.tierEntitlements ?? {}).length ? { tierEntitlements: s.tierEntitlements } : {}) } }
        : {}),
    });
    documents.set(roster, text);
  }
  return text;
}

/** The registry's PersistentVolumeClaim: `distribution.kubernetes.dataClaimName`, else `<repoPrefix>-registry-data`. */
function dataClaimName(s: Settings): string {
  return s.distribution?.kubernetes?.dataClaimName ?? `${s.repoPrefix}-registry-data`;
}

/** The Kubernetes Secret holding one stack's part of the access list; the broker mounts them all. */
export function aclSecretName(s: Settings): string {
  const sh = s.shard;
  return sh?.index !== undefined ? `${s.repoPrefix}-broker-acl-shard-${shardSuffix(sh.index, sh.count)}` : `${s.repoPrefix}-broker-acl`;
}

const REGISTRY_PORT = 5000;
const BROKER_PORT = 5001;
/** The broker's /metrics: a container port of its own, scraped in the cluster, on no Service. */
const BROKER_METRICS_PORT = 9464;

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
  /** Undefined on a shard stack: the platform stack holds the robot. */
  public readonly deliveryPassword: pulumi.Output<string> | undefined;
  public readonly registryService: pulumi.Output<string | undefined>;
  public readonly brokerService: pulumi.Output<string | undefined>;

  constructor(name: string, args: DistributionServiceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:distribution:DistributionService", name, {}, opts);
    const d = args.settings.distribution;
    if (!d) throw new Error(`DistributionService ${name}: settings.distribution is required`);
    const role = args.role ?? "all";
    this.deliveryUsername = deliveryRobotName({ repoPrefix: args.settings.repoPrefix });
    // The delivery robot rotates as data too: the previous password works through its last day.
    const live = liveGenerations(d.deliveryRobot, args.settings.asOf);
    // A shard stack has no delivery robot of its own (it reads the platform's).
    const { current: delivery, previous } =
      role === "shard"
        ? { current: undefined, previous: undefined }
        : eachGeneration(
            live,
            (generation) =>
              new random.RandomPassword(
                generationName(`${name}-delivery-robot`, generation),
                { length: 40, special: false, minLower: 4, minUpper: 4, minNumeric: 4, keepers: { role: "delivery" } },
                { parent: this, additionalSecretOutputs: ["result", "bcryptHash"] },
              ),
          );
    this.deliveryPassword = delivery && pulumi.secret(delivery.result);
    this.acl = pulumi.secret(
      pulumi.all([pulumi.all(args.entries), delivery?.bcryptHash, previous?.bcryptHash]).apply(([es, hash, previousHash]) => {
        const acl: Acl = {
          version: 1,
          service: d.service,
          issuer: d.issuer,
          entries: es.filter((e): e is AclEntry => e !== undefined),
          ...(hash
            ? {
                delivery: {
                  username: this.deliveryUsername,
                  passwordHash: hash,
                  ...(previousHash && live.previousUntil ? { previousPasswordHash: previousHash, previousUntil: live.previousUntil } : {}),
                  enabled: true,
                },
              }
            : {}),
        };
        // Compact: at scale each shard's Secret must stay under Kubernetes' 1 MiB (indented, a third larger).
        const text = JSON.stringify(acl);
        if (args.settings.distribution?.kubernetes && Buffer.byteLength(text) > OBJECT_DATA_LIMIT)
          throw new Error(tooLarge("access-list Secret", Buffer.byteLength(text), args.settings, acl.entries.length));
        return text;
      }),
    );
    const rosterText = args.roster && role !== "platform" ? rosterDocument(args.roster, args.settings) : undefined;

    const k = d.kubernetes;
    if (k && role === "shard") {
      // A shard's part of the access list and of the roster, under the names the platform's broker mounts.
      const metadata = (objectName: string) => ({
        name: objectName,
        namespace: k.namespace,
        labels: { "app.kubernetes.io/part-of": "registry-intake", "app.kubernetes.io/managed-by": MANAGED_BY, "app.kubernetes.io/component": "broker" },
      });
      new corev1.Secret(
        `${name}-broker-acl`,
        { metadata: metadata(aclSecretName(args.settings)), type: "Opaque", stringData: { "acl.json": this.acl } },
        { parent: this },
      );
      new corev1.ConfigMap(
        `${name}-broker-roster`,
        { metadata: metadata(rosterMapName(args.settings)), data: { "roster.yaml": rosterText ?? "customers: []\n" } },
        { parent: this },
      );
    }
    if (!k || role === "shard") {
      this.registryService = pulumi.output(undefined);
      this.brokerService = pulumi.output(undefined);
    } else {
      const labels = { "app.kubernetes.io/part-of": "registry-intake", "app.kubernetes.io/managed-by": MANAGED_BY };
      const meta = (component: string) => ({ namespace: k.namespace, labels: { ...labels, "app.kubernetes.io/component": component } });
      const selector = (component: string) => ({ "app.kubernetes.io/part-of": "registry-intake", "app.kubernetes.io/component": component });

      // Named, and updated in place (the project's kubernetes:enableConfigMapMutable); the registry
      // reads its configuration once, so its pods carry the configuration's digest and roll when it changes.
      const configText = registryConfig(d, { addr: `:${REGISTRY_PORT}`, rootdirectory: "/var/lib/registry", rootcertbundle: "/etc/registry/auth/tls.crt" });
      const config = new corev1.ConfigMap(
        `${name}-registry-config`,
        { metadata: { ...meta("registry"), name: `${args.settings.repoPrefix}-registry-config` }, data: { "config.yml": configText } },
        { parent: this },
      );
      // One name: the claim kept after a destroy is taken up again (with its images) by the next up,
      // imported when the kept list (or kept.adopt) holds it.
      const claimId = `${k.namespace}/${dataClaimName(args.settings)}`;
      const pvc = new corev1.PersistentVolumeClaim(
        `${name}-registry-data`,
        {
          metadata: { ...meta("registry"), name: dataClaimName(args.settings) },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: k.storageSize } }, storageClassName: k.storageClassName },
        },
        // The images live here: never deleted with the stack. What the cluster fills in (the bound
        // volume, the default volume mode and storage class, the binder's annotations and the
        // protection finalizer) is left to it, so an import matches and nothing replaces the claim.
        {
          parent: this,
          retainOnDelete: true,
          ignoreChanges: ["metadata.annotations", "metadata.finalizers", "spec.volumeName", "spec.volumeMode", "spec.storageClassName"],
          ...args.keptList?.adoption("pvc", claimId),
        },
      );
      args.keptList?.track("pvc", claimId, pvc);
      const registry = new appsv1.Deployment(
        `${name}-registry`,
        {
          metadata: meta("registry"),
          spec: {
            replicas: 1,
            strategy: { type: "Recreate" },
            selector: { matchLabels: selector("registry") },
            template: {
              metadata: {
                labels: { ...labels, ...selector("registry") },
                annotations: { "registry-intake/config-sha256": createHash("sha256").update(configText).digest("hex") },
              },
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
        { metadata: { ...meta("broker"), name: aclSecretName(args.settings) }, type: "Opaque", stringData: { "acl.json": this.acl } },
        { parent: this },
      );
      // The access list is this stack's Secret plus, when sharded, each shard stack's (mounted if
      // present). The roster is this stack's ConfigMap, or when sharded each shard stack's part of
      // it (the whole roster would pass Kubernetes' 1 MiB at about 5,000 customers).
      const shards = args.settings.shard;
      const shardNames = shards ? Array.from({ length: shards.count }, (_, i) => ({ ...args.settings, shard: { ...shards, index: i } })) : [];
      const shardSources = shardNames.map((sh) => {
        const secretName = aclSecretName(sh);
        return { secret: { name: secretName, optional: true, items: [{ key: "acl.json", path: `${secretName}.json` }] } };
      });
      const rosterVolume = shards
        ? {
            name: "roster",
            projected: {
              sources: shardNames.map((sh) => {
                const mapName = rosterMapName(sh);
                return { configMap: { name: mapName, optional: true, items: [{ key: "roster.yaml", path: `${mapName}.yaml` }] } };
              }),
            },
          }
        : // Named, and updated in place: the broker reloads the roster it mounts, no pod restarts.
          {
            name: "roster",
            configMap: {
              name: new corev1.ConfigMap(
                `${name}-broker-roster`,
                { metadata: { ...meta("broker"), name: rosterMapName(args.settings) }, data: { "roster.yaml": rosterText ?? "customers: []\n" } },
                { parent: this },
              ).metadata.name,
            },
          };
      const broker = new appsv1.Deployment(
        `${name}-broker`,
        {
          metadata: meta("broker"),
          spec: {
            replicas: 2,
            selector: { matchLabels: selector("broker") },
            template: {
              metadata: {
                labels: { ...labels, ...selector("broker") },
                // Prometheus' usual pod discovery; the metrics name customers, so they stay off the broker's Service.
                annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": String(BROKER_METRICS_PORT), "prometheus.io/path": "/metrics" },
              },
              spec: {
                containers: [
                  {
                    name: "broker",
                    image: k.brokerImage,
                    args: [
                      "broker",
                      "--acl",
                      "/etc/intake/acl",
                      "--roster",
                      shards ? "/etc/intake/roster" : "/etc/intake/roster/roster.yaml",
                      "--listen",
                      `0.0.0.0:${BROKER_PORT}`,
                      "--key",
                      "/etc/intake/signing/tls.key",
                      "--cert",
                      "/etc/intake/signing/tls.crt",
                      "--service",
                      d.service,
                      "--issuer",
                      d.issuer,
                      "--metrics-listen",
                      `0.0.0.0:${BROKER_METRICS_PORT}`,
                    ],
                    ports: [
                      { containerPort: BROKER_PORT, name: "http" },
                      { containerPort: BROKER_METRICS_PORT, name: "metrics" },
                    ],
                    volumeMounts: [
                      { name: "acl", mountPath: "/etc/intake/acl", readOnly: true },
                      { name: "roster", mountPath: "/etc/intake/roster", readOnly: true },
                      { name: "signing", mountPath: "/etc/intake/signing", readOnly: true },
                    ],
                  },
                ],
                volumes: [
                  {
                    name: "acl",
                    projected: { sources: [{ secret: { name: aclSecret.metadata.name, items: [{ key: "acl.json", path: "acl.json" }] } }, ...shardSources] },
                  },
                  rosterVolume,
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
