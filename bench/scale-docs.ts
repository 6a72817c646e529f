// What the program would mount into the broker for a sharded stack (the scale suite and its test):
// every stack's part of the access list, the roster ConfigMap and the broker Deployment, made by
// the program's own code under the mock engine, and the customers of each shard in one pass.
import * as pulumi from "@pulumi/pulumi";
import { program } from "../program";
import { plannedKinds } from "../components/customer";
import { robotActions, type AclEntry } from "../core/acl";
import { namesFor } from "../core/naming";
import { liveGenerations } from "../core/rotation";
import type { Settings } from "../core/settings";
import type { Customer, Roster } from "../customers/roster";
import { shardOf, shardStackName } from "../customers/shards";
import { customerState } from "../customers/status";
import { aclSecretName, DistributionService } from "../kinds/distribution/service";
import { runUnderMocks } from "../planning/engine";
import { mockOptions } from "../planning/plan";

/** Kubernetes refuses a Secret or ConfigMap whose data is over 1 MiB (the API server's validation). */
export const K8S_DATA_LIMIT = 1_048_576;

/** A bcrypt hash, as the access list holds it (core/acl.ts): always 60 characters. */
const BCRYPT = /\$2[aby]?\$\d{2}\$[./A-Za-z0-9]{53}/g;

const valueOf = <T>(o: pulumi.Output<T>): Promise<T> => new Promise((resolve) => o.apply((v) => resolve(v)));

/**
 * The customers of every shard, in roster order, with one shardOf per customer. (rosterForShard
 * filters the whole roster for one shard: right for a shard stack, N × count for all of them.)
 */
export function shardBuckets(roster: Roster, count: number): Customer[][] {
  const buckets: Customer[][] = Array.from({ length: count }, () => []);
  for (const c of roster.customers) buckets[shardOf(c, count)].push(c);
  return buckets;
}

/** The platform stack's settings with `count` shards (as `registry-intake:shard: { count }` gives them). */
export function platformSettings(s: Settings, count: number): Settings {
  return { ...s, shard: { count } };
}

/** Shard `index`'s stack settings: the platform's, with its index and the platform's stack reference. */
export function shardSettings(platform: Settings, index: number): Settings {
  const count = platform.shard!.count;
  return { ...platform, stack: shardStackName(platform.stack, index, count), shard: { count, index, platformStack: `organization/registry-intake/${platform.stack}` } };
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

export interface MountedPart {
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

export interface Mounted {
  /** The platform stack's part first, then one per shard stack. */
  parts: MountedPart[];
  /** roster.yaml of the platform stack's roster ConfigMap. */
  rosterConfigMap: string;
  /** The broker Deployment's inputs as JSON (its projected volume lists every shard's Secret). */
  deploymentBytes: number;
}

/**
 * Everything the program would mount into the broker, under the mock engine: the platform stack's
 * program (its access-list part with the delivery robot, the roster ConfigMap, the broker
 * Deployment and so the file names), and each shard stack's DistributionService (role "shard")
 * over its customers' entries (aclEntryOf, with `hash` for every robot). Generating a real bcrypt
 * hash per robot would take hours at 100,000 customers; one hash at the program's cost, reused,
 * has the same size and the same verification cost. The fake cloud's own hashes (the platform's
 * delivery robot) are replaced by `hash` too.
 */
export async function mountedDocuments(platform: Settings, roster: Roster, hash: string, buckets = shardBuckets(roster, platform.shard!.count)): Promise<Mounted> {
  const count = platform.shard!.count;
  const { result, resources } = await runUnderMocks(async () => {
    const own = program(platform, roster);
    const shards = buckets.map((customers, i) => {
      const s = shardSettings(platform, i);
      const entries = customers.flatMap((c) => {
        const e = aclEntryOf(c, s, hash);
        return e ? [pulumi.output(e)] : [];
      });
      // One mock engine holds every shard stack's service: a name of its own for each (each stack calls it "distribution").
      const svc = new DistributionService(`distribution-shard-${i}`, { settings: s, role: "shard", entries });
      return { secret: aclSecretName(s), shard: i, entries: entries.length, text: valueOf(svc.acl) };
    });
    return {
      platform: { secret: aclSecretName(platform), shard: undefined, entries: 0, text: await valueOf(own.distribution!.acl) },
      shards: await Promise.all(shards.map(async (p) => ({ ...p, text: await p.text }))),
    };
  }, mockOptions(platform, {}));
  const configMap = resources.find((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.name === "distribution-broker-roster");
  const deployment = resources.find((r) => r.type === "kubernetes:apps/v1:Deployment" && r.name === "distribution-broker");
  if (!configMap || !deployment) throw new Error("the platform stack declared no broker roster ConfigMap or Deployment: does the stack set distribution.kubernetes?");
  const volumes = (deployment.inputs as { spec: { template: { spec: { volumes: { name: string; projected?: { sources: { secret: { name: string; items: { path: string }[] } }[] } }[] } } } }).spec.template.spec.volumes;
  const sources = volumes.find((v) => v.name === "acl")?.projected?.sources ?? [];
  const pathOf = new Map(sources.map((s) => [s.secret.name, s.secret.items[0].path]));
  if (pathOf.size !== count + 1) throw new Error(`the broker's projected volume mounts ${pathOf.size} Secrets, not ${count + 1}`);
  const parts = [{ ...result.platform, text: withHash(result.platform.text, hash) }, ...result.shards].map((p) => {
    const file = pathOf.get(p.secret);
    if (!file) throw new Error(`the broker does not mount Secret ${p.secret}`);
    return { ...p, file };
  });
  return {
    parts,
    rosterConfigMap: (configMap.inputs as { data: Record<string, string> }).data["roster.yaml"],
    deploymentBytes: Buffer.byteLength(JSON.stringify(deployment.inputs)),
  };
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
