// One measurement in its own process, so its peak RSS is its own. Prints one JSON line.
//   plan N [KINDS]  plan a generated roster of N customers with planProgram (KINDS: comma-separated
//                   enabledKinds to keep; default the dev stack's)
//   floor N         register N bare aws.ecr.Repository resources under the same mock engine
import * as ecr from "@pulumi/aws/ecr";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { getHeapStatistics } from "node:v8";
import { runUnderMocks, type MockRunOptions } from "../planning/engine";
import { fromRecorded, PROJECT, planProgram } from "../planning/plan";
import { readStackConfig, stackSettings } from "../core/stack";
import { configWarnings, quotaWarnings } from "../planning/warnings";
import { type Settings } from "../core/settings";
import { engineConfig } from "../components/stack-settings";
import { evaluate, policyContext } from "../policy/evaluate";
import { BENCH_TODAY, generateRoster } from "../testing/roster-gen";

/** What one child reports. */
export interface ChildMeasure {
  /** Every registration the engine saw: custom resources and components. */
  registrations: number;
  custom: number;
  /** From just before the mock run to its end (for a plan: all of planProgram). */
  seconds: number;
  /** Seconds from process start to the start of the measurement: Node, tsx, module load, roster. */
  startupSeconds: number;
  /** Peak RSS of the whole process, KiB (getrusage). */
  maxRssKiB: number;
  heapLimitMiB: number;
}

export interface PlanMeasure extends ChildMeasure {
  /** Of `seconds`: the policy evaluation and warnings planProgram runs after the program (timed again afterwards). */
  policySeconds: number;
  /** Class (active customers by tier; suspended; offboarded) → custom resources per customer → customers. */
  perCustomer: Record<string, Record<string, number>>;
}

const ROOT = path.resolve(__dirname, "..");

/** The options planProgram hands runUnderMocks, so the floor runs under the same engine and fake cloud. */
function mockOptions(settings: Settings): MockRunOptions {
  return {
    project: PROJECT,
    stack: settings.stack,
    cloud: { accountId: settings.aws?.accountId ?? "000000000000", region: settings.aws?.region ?? "us-east-1", githubOwner: settings.ghcr?.owner },
  };
}

/** The dev stack's settings, read the way planStack reads them. */
function devSettings(): Settings {
  const cfg = readStackConfig(ROOT, "dev");
  pulumi.runtime.setAllConfig(cfg.config, cfg.secretKeys);
  return stackSettings(ROOT, "dev", { engineConfig: engineConfig(), today: BENCH_TODAY }).settings;
}

async function plan(settings: Settings, customers: number): Promise<PlanMeasure> {
  const roster = generateRoster(customers, { tierTable: settings.tierTable, prefix: { repoPrefix: settings.repoPrefix } });
  const startupSeconds = performance.now() / 1000;
  const t0 = performance.now();
  // One process: the figure the parallel `intake plan` is compared with.
  const result = await planProgram(settings, roster, {}, undefined, {}, { workers: 1 });
  const seconds = (performance.now() - t0) / 1000;
  const maxRssKiB = process.resourceUsage().maxRSS;

  // The post-processing again, on its own, to show how much of `seconds` it is.
  const t1 = performance.now();
  evaluate(fromRecorded(result.recorded), policyContext(roster, settings), {});
  quotaWarnings(result.resources, settings);
  configWarnings(roster.customers, settings);
  const policySeconds = (performance.now() - t1) / 1000;

  const customCount = new Map<string, number>();
  for (const r of result.resources) if (r.custom && r.customer) customCount.set(r.customer, (customCount.get(r.customer) ?? 0) + 1);
  const perCustomer: Record<string, Record<string, number>> = {};
  for (const c of result.customers) {
    const cls = c.status === "active" ? c.tier : c.status;
    const counts = (perCustomer[cls] ??= {});
    const n = String(customCount.get(c.id) ?? 0);
    counts[n] = (counts[n] ?? 0) + 1;
  }
  return {
    registrations: result.recorded.length,
    custom: result.recorded.filter((r) => r.custom).length,
    seconds,
    startupSeconds,
    maxRssKiB,
    heapLimitMiB: heapLimitMiB(),
    policySeconds,
    perCustomer,
  };
}

async function floor(settings: Settings, count: number): Promise<ChildMeasure> {
  const startupSeconds = performance.now() / 1000;
  const t0 = performance.now();
  const { resources } = await runUnderMocks(() => {
    for (let i = 0; i < count; i++) new ecr.Repository(`repo-${i}`, { name: `floor/repo-${i}` });
  }, mockOptions(settings));
  const seconds = (performance.now() - t0) / 1000;
  return {
    registrations: resources.length,
    custom: resources.filter((r) => r.custom).length,
    seconds,
    startupSeconds,
    maxRssKiB: process.resourceUsage().maxRSS,
    heapLimitMiB: heapLimitMiB(),
  };
}

function heapLimitMiB(): number {
  return Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
}

async function main(): Promise<ChildMeasure> {
  const [mode, countArg, kinds] = process.argv.slice(2);
  const count = Number(countArg);
  if (!Number.isInteger(count) || count < 1) throw new Error(`plan-child: bad count ${countArg}`);
  const dev = devSettings();
  const settings = kinds ? { ...dev, enabledKinds: dev.enabledKinds.filter((k) => kinds.split(",").includes(k)) } : dev;
  if (mode === "plan") return plan(settings, count);
  if (mode === "floor") return floor(settings, count);
  throw new Error(`plan-child: unknown mode ${mode} (plan or floor)`);
}

main().then(
  (m) => process.stdout.write(JSON.stringify(m) + "\n"),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
