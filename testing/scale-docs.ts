// What the program would mount into the broker for a sharded stack (the scale suite and its test):
// every stack's part of the access list, every shard stack's roster ConfigMap and the broker
// Deployment, made by the program's own code under the mock engine, and the customers of each
// shard in one pass.
import * as pulumi from "@pulumi/pulumi";
import { program } from "../program";
import { plannedKinds } from "../components/customer";
import { robotActions, type AclEntry } from "../core/acl";
import { namesFor } from "../core/naming";
import { liveGenerations } from "../core/rotation";
import type { Settings } from "../core/settings";
import type { Customer, Roster } from "../customers/roster";
import { shardBuckets, shardStackName } from "../customers/shards";
export { shardBuckets };
import { customerState } from "../customers/status";
import { aclSecretName, DistributionService, rosterMapName, rosterPartProblem } from "../kinds/distribution/service";
import { runUnderMocks } from "../planning/engine";
import { mockOptions } from "../planning/mock-options";

/** Kubernetes refuses a Secret or ConfigMap whose data is over 1 MiB (the API server's validation). */
export const K8S_DATA_LIMIT = 1_048_576;

/** A bcrypt hash, as the access list holds it (core/acl.ts): always 60 characters. */
const BCRYPT = /\$2[aby]?\$\d{2}\$[./A-Za-z0-9]{53}/g;

const valueOf = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply((v) => resolve(v)));

/** The platform stack's settings with `count` shards (as `registry-intake:shard: { count }` gives them). */
export function platformSettings(s: Settings, count: number): Settings {
  return { ...s, shard: { count } };
}

/** Shard `index`'s stack settings: the platform's, with its index and the platform's stack reference. */
export function shardSettings(platform: Settings, index: number): Settings {
  const count = platform.shard!.count;
  return {
    ...platform,
    stack: shardStackName(platform.stack, index, count),
    shard: { count, index, platformStack: `organization/registry-intake/${platform.stack}` },
  };
}

/**
 * A customer's access-list entry as its DistributionNamespace declares it (kinds/distribution/
 * component.ts), with `hash` standing in for its robot's bcrypt hash; undefined where the program
 * declares none (no distribution kind, or offboarded). `mountedDocuments` checks this against the
 * program's own entries for one shard, so a change there fails the suite rather than skews it.
 */
export function aclEntryOf(c: Customer, settings: Settings, hash: string): AclEntry | undefined {
  if (!plannedKinds(c, settings).includes("distribution")) return undefined;
  const state = customerState(c, settings.asOf);
  if (state.status === "offboarded") return undefined;
  const names = namesFor(c.id, { repoPrefix: settings.repoPrefix });
  const live = liveGenerations(c.credentials?.distribution, settings.asOf);
  return {
    customer: c.id,
    username: names.distributionRobot,
    passwordHash: hash,
    ...(live.previous !== undefined && live.previousUntil ? { previousPasswordHash: hash, previousUntil: live.previousUntil } : {}),
    paths: [`${names.distributionPathPrefix}*`],
    actions: robotActions(c.distribution?.access ?? "push"),
    enabled: state.status === "active",
  };
}

/** An access-list document with every bcrypt hash replaced by `hash` (all are 60 characters: sizes are kept). */
export function withHash(doc: string, hash: string): string {
  return doc.replace(BCRYPT, hash);
}

interface MountedPart {
  /** The file name the broker's projected volume gives it (the Deployment's item path). */
  file: string;
  /** The Secret it lives in. */
  secret: string;
  /** The shard, or undefined for the platform stack's part. */
  shard?: number;
  /** acl.json as the Secret holds it (stringData: before base64). */
  text: string;
  entries: number;
}

interface RosterPart {
  /** The file name the broker's `roster` projected volume gives it (the Deployment's item path). */
  file: string;
  /** The ConfigMap it lives in (rosterMapName of the shard stack). */
  configMap: string;
  shard: number;
  /** roster.yaml as the ConfigMap holds it. */
  text: string;
  customers: number;
}

export interface Mounted {
  /** The access list: the platform stack's part first, then one per shard stack. */
  parts: MountedPart[];
  /** The roster: one part per shard stack, each shard stack's ConfigMap (the platform stack declares none). */
  rosterParts: RosterPart[];
  /** The broker Deployment's inputs as JSON (its projected volumes list every shard's Secret and ConfigMap). */
  deploymentBytes: number;
}

type Projected = { secret?: { name: string; items: { key: string; path: string }[] }; configMap?: { name: string; items: { key: string; path: string }[] } };
interface DeploymentInputs {
  spec: {
    template: {
      spec: {
        containers: { name: string; args: string[]; volumeMounts: { name: string; mountPath: string }[] }[];
        volumes: { name: string; projected?: { sources: Projected[] }; configMap?: { name: string } }[];
      };
    };
  };
}

/** The file name each Secret / ConfigMap of a projected volume is given, checked to be the one key. */
function projectedPaths(
  volumes: DeploymentInputs["spec"]["template"]["spec"]["volumes"],
  volume: string,
  kind: "secret" | "configMap",
  key: string,
): Map<string, string> {
  const v = volumes.find((x) => x.name === volume);
  if (!v?.projected) throw new Error(`the broker Deployment has no projected volume "${volume}"`);
  const paths = new Map<string, string>();
  for (const s of v.projected.sources) {
    const src = s[kind];
    if (!src) throw new Error(`the broker's "${volume}" volume mounts something other than a ${kind}`);
    if (src.items.length !== 1 || src.items[0].key !== key)
      throw new Error(`the broker's "${volume}" volume takes ${JSON.stringify(src.items)} of ${src.name}, not its ${key}`);
    paths.set(src.name, src.items[0].path);
  }
  return paths;
}

/**
 * Everything the program would mount into the broker, under the mock engine: the platform stack's
 * program (its access-list part with the delivery robot, the broker Deployment and so the file
 * names), and each shard stack's DistributionService (role "shard") over its customers (the
 * roster part, `stackRoster` of that shard) and their entries (aclEntryOf, with `hash` for every
 * robot). Generating a real bcrypt hash per robot would take hours at 100,000 customers; one hash
 * at the program's cost, reused, has the same size and the same verification cost. The fake
 * cloud's own hashes (the platform's delivery robot) are replaced by `hash` too. Checks that the
 * Deployment mounts every shard's Secret and ConfigMap and runs the broker on the two folders,
 * and that the platform stack declares no roster ConfigMap of its own.
 */
export async function mountedDocuments(
  platform: Settings,
  roster: Roster,
  hash: string,
  buckets = shardBuckets(roster, platform.shard!.count),
): Promise<Mounted> {
  const count = platform.shard!.count;
  // The program refuses a stack whose part would not fit one Kubernetes object: so does the bench.
  const refused = buckets.flatMap((customers, i) => rosterPartProblem(shardSettings(platform, i), { ...roster, customers }) ?? []);
  if (refused.length) throw new Error(`the program refuses ${refused.length} of ${count} shard stacks, e.g. ${refused[0]}`);
  const { result, resources } = await runUnderMocks(
    async () => {
      const own = program(platform, roster);
      const shards = buckets.map((customers, i) => {
        const s = shardSettings(platform, i);
        const entries = customers.flatMap((c) => {
          const e = aclEntryOf(c, s, hash);
          return e ? [pulumi.output(e)] : [];
        });
        // One mock engine holds every shard stack's service: a name of its own for each (each stack calls it "distribution").
        // The roster it declares is the shard's slice (program.ts stackRoster = rosterForShard; the buckets hold the same customers in the same order).
        const svc = new DistributionService(`distribution-shard-${i}`, { settings: s, role: "shard", entries, roster: { ...roster, customers } });
        return {
          secret: aclSecretName(s),
          configMap: rosterMapName(s),
          shard: i,
          entries: entries.length,
          customers: customers.length,
          text: valueOf(svc.acl),
        };
      });
      return {
        platform: { secret: aclSecretName(platform), shard: undefined, entries: 0, text: await valueOf(own.distribution!.acl) },
        shards: await Promise.all(shards.map(async (p) => ({ ...p, text: await p.text }))),
      };
    },
    mockOptions(platform, {}),
  );
  const deployment = resources.find((r) => r.type === "kubernetes:apps/v1:Deployment" && r.name === "distribution-broker");
  if (!deployment) throw new Error("the platform stack declared no broker Deployment: does the stack set distribution.kubernetes?");
  const configMaps = new Map<string, string>();
  for (const r of resources) {
    if (r.type !== "kubernetes:core/v1:ConfigMap") continue;
    const inputs = r.inputs as { metadata?: { name?: string }; data?: Record<string, string> };
    const name = inputs.metadata?.name;
    if (name && inputs.data?.["roster.yaml"] !== undefined) configMaps.set(name, inputs.data["roster.yaml"]);
  }
  if (configMaps.has(rosterMapName(platform)))
    throw new Error(`the platform stack of a sharded stack declared a roster ConfigMap of its own (${rosterMapName(platform)})`);
  const spec = (deployment.inputs as unknown as DeploymentInputs).spec.template.spec;
  const broker = spec.containers.find((c) => c.name === "broker");
  const rosterArg = broker?.args[broker.args.indexOf("--roster") + 1];
  const rosterMount = broker?.volumeMounts.find((m) => m.name === "roster")?.mountPath;
  if (rosterArg !== "/etc/intake/roster" || rosterMount !== "/etc/intake/roster")
    throw new Error(`the broker runs with --roster ${rosterArg} and mounts the roster at ${rosterMount}, not the folder /etc/intake/roster`);
  const aclPath = projectedPaths(spec.volumes, "acl", "secret", "acl.json");
  if (aclPath.size !== count + 1) throw new Error(`the broker's projected volume mounts ${aclPath.size} Secrets, not ${count + 1}`);
  const rosterPath = projectedPaths(spec.volumes, "roster", "configMap", "roster.yaml");
  if (rosterPath.size !== count) throw new Error(`the broker's roster volume mounts ${rosterPath.size} ConfigMaps, not ${count}`);
  const parts = [{ ...result.platform, text: withHash(result.platform.text, hash) }, ...result.shards].map(({ secret, shard, entries, text }) => {
    const file = aclPath.get(secret);
    if (!file) throw new Error(`the broker does not mount Secret ${secret}`);
    return { file, secret, shard, entries, text };
  });
  const rosterParts = result.shards.map(({ configMap, shard, customers }) => {
    const file = rosterPath.get(configMap);
    if (!file) throw new Error(`the broker does not mount ConfigMap ${configMap}`);
    const text = configMaps.get(configMap);
    if (text === undefined) throw new Error(`shard stack ${shard} declared no ConfigMap ${configMap}`);
    return { file, configMap, shard, text, customers };
  });
  return { parts, rosterParts, deploymentBytes: Buffer.byteLength(JSON.stringify(deployment.inputs)) };
}

/** Roster YAML (as roster-gen and rosterDocument write it) with customer `id`'s status set to `status`. */
export function withStatus(text: string, id: string, status: "active" | "suspended"): string {
  const start = text.indexOf(`  - id: ${id}\n`);
  if (start < 0) throw new Error(`no customer ${id} in the roster text`);
  const end = text.indexOf("\n  - ", start + 1);
  const block = text.slice(start, end < 0 ? text.length : end);
  const line = /\n {4}status: \w+\n/;
  if (!line.test(block)) throw new Error(`customer ${id}: no status line to change`);
  const changed = block.replace(line, `\n    status: ${status}\n`);
  return text.slice(0, start) + changed + text.slice(start + block.length);
}
