// The in-process measures of the scale suite for one roster size, in a process of its own (its
// memory is its own and the SDK's mock engine starts clean). Prints one JSON line (ScaleChild).
//   scale-child.ts N PER_SHARD DIR HASH
// Writes what the broker would mount into DIR, as its projected volumes name the files:
// acl/<part>.json (one per stack) and roster/<part>.yaml (one per shard stack); and
// project-roster.yaml, the roster as the project's repository holds it (for `intake shards`).
import * as pulumi from "@pulumi/pulumi";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { engineConfig } from "../components/stack-settings";
import { readStackConfig, stackSettings } from "../core/stack";
import { namesFor } from "../core/naming";
import type { Settings } from "../core/settings";
import { parseRoster } from "../customers/roster";
import { rosterForShard, shardOf } from "../customers/shards";
import { planProgram } from "../planning/plan";
import { BENCH_TODAY, rosterYaml } from "../testing/roster-gen";
import { aclEntryOf, mountedDocuments, platformSettings, shardBuckets, shardSettings, withHash } from "../testing/scale-docs";

/** The settings schema's cap on shard.count. */
export const MAX_SHARDS = 1000;
/** rosterForShard is timed on this many shards and multiplied out to all of them. */
const SAMPLED_SHARDS = 3;
/** Robots the token-latency rows draw from (each costs one bcrypt check at cost 10 to warm). */
const POOL = 64;
const ROOT = path.resolve(__dirname, "..");

export interface Robot {
  id: string;
  username: string;
  /** The token request path with this robot's own scope. */
  path: string;
  shard: number;
  /** Its access-list part's file name. */
  file: string;
  /** Its roster part's file name (its shard's ConfigMap). */
  rosterFile: string;
}

export interface ScaleChild {
  customers: number;
  shards: number;
  /** shards was capped at MAX_SHARDS. */
  capped: boolean;
  rosterBytes: number;
  readSeconds: number;
  shardOfSeconds: number;
  oneShardSeconds: number;
  sampledShards: number;
  docsSeconds: number;
  parts: number;
  largestPart: { file: string; bytes: number; entries: number };
  aclBytes: number;
  robots: number;
  rosterParts: number;
  largestRosterPart: { file: string; bytes: number; customers: number };
  rosterPartsBytes: number;
  deploymentBytes: number;
  plan: { stack: string; shard: number; seconds: number; customers: number; resources: number };
  /** Four robots, none in the pool and none the same: each row changes its own. */
  broker: { service: string; issuer: string; pool: Robot[]; robotChange: Robot; rosterChange: Robot; swapChange: Robot; rosterSwapChange: Robot };
  maxRssKiB: number;
}

const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** A small deterministic generator (mulberry32): the same robots every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function main(): Promise<ScaleChild> {
  const [nArg, perShardArg, dir, hash] = process.argv.slice(2);
  const n = Number(nArg);
  const perShard = Number(perShardArg);
  if (!Number.isInteger(n) || n < 1 || !(perShard >= 1) || !dir || !hash) throw new Error("usage: scale-child.ts N PER_SHARD DIR HASH");
  const cfg = readStackConfig(ROOT, "prod");
  pulumi.runtime.setAllConfig(cfg.config, cfg.secretKeys);
  const prod: Settings = stackSettings(ROOT, "prod", { engineConfig: engineConfig(), today: BENCH_TODAY }).settings;
  const rosterOptions = { tierTable: prod.tierTable, prefix: { repoPrefix: prod.repoPrefix } };
  const wanted = Math.ceil(n / perShard);
  const count = Math.min(MAX_SHARDS, wanted);
  const platform = platformSettings(prod, count);

  // 1. Read and validate (after an unmeasured small read, and shard assignment of it: JIT
  // warm-up is not the roster's doing).
  const warmRoster = parseRoster(rosterYaml(2000), "warm-up.yaml", rosterOptions);
  shardBuckets(warmRoster, count);
  rosterForShard(warmRoster, 0, count);
  const text = rosterYaml(n);
  let t0 = performance.now();
  const roster = parseRoster(text, `roster-${n}.yaml`, rosterOptions);
  const readSeconds = seconds(t0);

  // 2. Shard assignment: every shard's customers in one pass (shardBuckets: what `intake shards`
  // lists); one shard's slice (rosterForShard: what a shard stack's program takes), sampled.
  t0 = performance.now();
  const buckets = shardBuckets(roster, count);
  const shardOfSeconds = seconds(t0);
  const sampled = Math.min(SAMPLED_SHARDS, count);
  t0 = performance.now();
  for (let i = 0; i < sampled; i++) rosterForShard(roster, i, count);
  const oneShardSeconds = seconds(t0) / sampled;

  // 3. What the program mounts into the broker.
  t0 = performance.now();
  const mounted = await mountedDocuments(platform, roster, hash, buckets);
  const docsSeconds = seconds(t0);
  mkdirSync(path.join(dir, "acl"), { recursive: true });
  mkdirSync(path.join(dir, "roster"), { recursive: true });
  for (const p of mounted.parts) writeFileSync(path.join(dir, "acl", p.file), p.text);
  for (const p of mounted.rosterParts) writeFileSync(path.join(dir, "roster", p.file), p.text);
  writeFileSync(path.join(dir, "project-roster.yaml"), text);
  const bytes = (p: { text: string }) => Buffer.byteLength(p.text);
  const largest = mounted.parts.reduce((a, b) => (bytes(b) > bytes(a) ? b : a));
  const largestRoster = mounted.rosterParts.reduce((a, b) => (bytes(b) > bytes(a) ? b : a));

  // Robots for the broker rows: active, with distribution, drawn at random.
  const fileOf = new Map(mounted.parts.map((p) => [p.shard, p.file]));
  const rosterFileOf = new Map(mounted.rosterParts.map((p) => [p.shard, p.file]));
  const eligible = buckets.flatMap((customers, shard) =>
    customers.flatMap((c) => {
      const e = aclEntryOf(c, shardSettings(platform, shard), hash);
      if (!e?.enabled) return [];
      const names = namesFor(c.id, { repoPrefix: prod.repoPrefix });
      const scope = `repository:${names.distributionPathPrefix}app:pull,push`;
      return [
        {
          id: c.id,
          username: e.username,
          path: `/token?service=${encodeURIComponent(prod.distribution!.service)}&scope=${encodeURIComponent(scope)}`,
          shard,
          file: fileOf.get(shard)!,
          rosterFile: rosterFileOf.get(shard)!,
        },
      ];
    }),
  );
  const rand = random(n);
  const picked = new Set<number>();
  while (picked.size < Math.min(POOL + 4, eligible.length)) picked.add(Math.floor(rand() * eligible.length));
  const [robotChange, rosterChange, swapChange, rosterSwapChange, ...pool] = [...picked].map((i) => eligible[i]);

  // 6. The plan of one shard stack: the shard of the customer whose roster entry changes.
  await planProgram(shardSettings(platformSettings(prod, 20), 0), warmRoster);
  const shard = shardOf(
    roster.customers.find((c) => c.id === rosterChange.id)!,
    count,
  );
  const settings = shardSettings(platform, shard);
  t0 = performance.now();
  const plan = await planProgram(settings, roster);
  const planSeconds = seconds(t0);
  // The program's own acl.json for this shard must be the one written above (hashes aside).
  const secret = plan.recorded.find((r) => r.type === "kubernetes:core/v1:Secret" && r.name === "distribution-broker-acl");
  const programAcl = (secret?.state.stringData as Record<string, string> | undefined)?.["acl.json"];
  const written = mounted.parts.find((p) => p.shard === shard)!.text;
  if (programAcl === undefined || withHash(programAcl, hash) !== written) {
    throw new Error(
      `shard ${shard}: the access-list part built for the bench differs from the one the program plans (testing/scale-docs.ts aclEntryOf is out of date)`,
    );
  }
  // And its roster ConfigMap must be the roster part written above.
  const map = plan.recorded.find((r) => r.type === "kubernetes:core/v1:ConfigMap" && r.name === "distribution-broker-roster");
  const programRoster = (map?.state.data as Record<string, string> | undefined)?.["roster.yaml"];
  if (programRoster === undefined || programRoster !== mounted.rosterParts.find((p) => p.shard === shard)!.text) {
    throw new Error(
      `shard ${shard}: the roster part built for the bench differs from the ConfigMap the program plans (testing/scale-docs.ts mountedDocuments is out of date)`,
    );
  }

  return {
    customers: n,
    shards: count,
    capped: count < wanted,
    rosterBytes: Buffer.byteLength(text),
    readSeconds,
    shardOfSeconds,
    oneShardSeconds,
    sampledShards: sampled,
    docsSeconds,
    parts: mounted.parts.length,
    largestPart: { file: largest.file, bytes: bytes(largest), entries: largest.entries },
    aclBytes: mounted.parts.reduce((s, p) => s + bytes(p), 0),
    robots: mounted.parts.reduce((s, p) => s + p.entries, 0),
    rosterParts: mounted.rosterParts.length,
    largestRosterPart: { file: largestRoster.file, bytes: bytes(largestRoster), customers: largestRoster.customers },
    rosterPartsBytes: mounted.rosterParts.reduce((s, p) => s + bytes(p), 0),
    deploymentBytes: mounted.deploymentBytes,
    plan: { stack: settings.stack, shard, seconds: planSeconds, customers: plan.customers.length, resources: plan.resources.filter((r) => r.custom).length },
    broker: { service: prod.distribution!.service, issuer: prod.distribution!.issuer, pool, robotChange, rosterChange, swapChange, rosterSwapChange },
    maxRssKiB: process.resourceUsage().maxRSS,
  };
}

main().then(
  (m) => process.stdout.write(JSON.stringify(m) + "\n"),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
