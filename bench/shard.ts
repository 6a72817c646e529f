import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { type Settings } from "../core/settings";
import { engineConfig } from "../components/stack-settings";
import { parseRoster } from "../customers/roster";
import { rosterForShard, shardOf } from "../customers/shards";
import { planProgram } from "../planning/plan";
import { readStackConfig, stackSettings } from "../core/stack";
import { BENCH_TODAY, rosterYaml } from "../testing/roster-gen";
import type { SuiteOptions } from "./run";

export const about = "onboarding one customer into rosters of 100, 1,000 and 10,000: plan only its shard (shards of ~50); options --sizes, --per-shard";

const TARGET_SECONDS = 2;

/**
 * What `intake onboard` plans when the roster is large: the roster file read and validated whole
 * (this grows with the roster), then the program run for the new customer's shard only (this must
 * not). The shard count grows with the roster (about --per-shard customers each), as an operator
 * would set it. Baseline: the 100-customer row, measured in the same run.
 */
export async function run(opts: SuiteOptions): Promise<void> {
  const sizes = (opts.sizes ?? "100,1000,10000").split(",").map(Number);
  const perShard = Number(opts["per-shard"] ?? 50);
  const cfg = readStackConfig(path.resolve(__dirname, ".."), "dev");
  pulumi.runtime.setAllConfig(cfg.config, cfg.secretKeys);
  const dev: Settings = stackSettings(path.resolve(__dirname, ".."), "dev", { engineConfig: engineConfig(), today: BENCH_TODAY }).settings;
  const newcomer = { id: "onboarded-one", name: "Newcomer", tier: "enterprise", license: { expires: "2027-12-31" }, github: { members: ["newcomer-dev"] } };
  const rows: { n: number; shards: number; load: number; program: number; customers: number; resources: number }[] = [];
  // One unmeasured run first: module loading and JIT warm-up are not the roster's doing.
  for (const n of [sizes[0], ...sizes]) {
    const count = Math.max(1, Math.ceil(n / perShard));
    const text = rosterYaml(n).replace(/^customers:\n/, `customers:\n${indentEntry(newcomer)}`);
    const t0 = performance.now();
    const roster = parseRoster(text, `roster-${n}.yaml`, { tierTable: dev.tierTable, prefix: { repoPrefix: dev.repoPrefix } });
    const index = shardOf({ id: newcomer.id }, count);
    const load = (performance.now() - t0) / 1000;
    const settings: Settings = { ...dev, stack: `dev-shard-${index}`, shard: { count, index, platformStack: "dev" } };
    const t1 = performance.now();
    const plan = await planProgram(settings, roster);
    const program = (performance.now() - t1) / 1000;
    if (!plan.customers.some((c) => c.id === newcomer.id)) throw new Error("the newcomer is not in its shard's plan");
    rows.push({
      n,
      shards: count,
      load,
      program,
      customers: rosterForShard(roster, index, count).customers.length,
      resources: plan.resources.filter((r) => r.custom).length,
    });
  }
  rows.shift();
  const base = rows[0];
  console.log(`shard: onboarding one enterprise customer, planning only its shard (dev stack, every kind, ~${perShard} customers per shard), 2 cores`);
  console.log(
    `  ${"roster".padStart(8)} ${"shards".padStart(7)} ${"in shard".padStart(9)} ${"resources".padStart(10)} ${"roster read".padStart(12)} ${"program".padStart(9)} ${"vs 100".padStart(7)}`,
  );
  for (const r of rows) {
    console.log(
      `  ${String(r.n).padStart(8)} ${String(r.shards).padStart(7)} ${String(r.customers).padStart(9)} ${String(r.resources).padStart(10)} ${r.load.toFixed(2).padStart(10)} s ${r.program.toFixed(2).padStart(7)} s ${(r.program / base.program).toFixed(2).padStart(6)}x`,
    );
  }
  const last = rows[rows.length - 1];
  console.log(
    `  target: program time <= ${TARGET_SECONDS} s at ${last.n} customers: ${last.program <= TARGET_SECONDS ? "met" : "NOT met"} (${last.program.toFixed(2)} s); growth from ${base.n} to ${last.n}: ${(last.program / base.program).toFixed(2)}x`,
  );
}

function indentEntry(e: Record<string, unknown>): string {
  return `  - ${JSON.stringify(e)}\n`;
}
