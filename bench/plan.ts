import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import * as path from "node:path";
import { CHILD_HEAP_MIB, median, runChild } from "./child";
import type { ChildMeasure, PlanMeasure } from "./plan-child";
import type { SuiteOptions } from "./run";

export const about =
  "plan time and peak RSS for generated rosters beside the SDK floor (--sizes=100,1000,5000 --reps=N --ecr-only)";

/** The issue's target, read against the floor measured in the same run. */
const TARGET = { customers: 1000, seconds: 15, rssGiB: 1.5, ratio: 1.3 };
const DEFAULT_SIZES = [100, 1000, 5000];
/** A 5,000-customer plan takes minutes on two cores. */
const CHILD_TIMEOUT_MS = 20 * 60_000;

type Timed<T> = T & { wallSeconds: number };

interface Side<T extends ChildMeasure> {
  runs: Timed<T>[];
  /** Medians over the runs. */
  seconds: number;
  wallSeconds: number;
  maxRssKiB: number;
}

interface Row {
  customers: number;
  /** "all" (the dev stack's enabledKinds) or the kinds kept. */
  kinds: string;
  registrations: number;
  custom: number;
  plan: Side<PlanMeasure>;
  floor: Side<ChildMeasure>;
  timeRatio: number;
  rssRatio: number;
}

/**
 * Plan time and peak RSS for generated rosters, each beside the SDK's floor: as many bare
 * aws.ecr.Repository registrations as the plan made, under the same mock engine, in this run.
 * Every measurement is its own process; rosters under 1,000 customers take the median of 3.
 */
export async function run(opts: SuiteOptions = {}): Promise<void> {
  const sizes = opts.sizes ? opts.sizes.split(",").map(Number) : DEFAULT_SIZES;
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--sizes: positive integers, comma-separated (got ${opts.sizes})`);
  const reps = (n: number) => (opts.reps ? Number(opts.reps) : n < 1000 ? 3 : 1);
  const scenarios = sizes.map((customers) => ({ customers, kinds: undefined as string | undefined }));
  if (opts["ecr-only"]) scenarios.push({ customers: TARGET.customers, kinds: "ecr" });

  const started = performance.now();
  const rows: Row[] = [];
  for (const { customers, kinds } of scenarios) rows.push(measure(customers, kinds, reps(customers)));

  printTable(rows);
  const perCustomerRow = rows.find((r) => r.kinds === "all" && r.customers === TARGET.customers) ?? rows.find((r) => r.kinds === "all");
  if (perCustomerRow) printPerCustomer(perCustomerRow);
  const verdicts = rows.filter((r) => r.customers === TARGET.customers).map(verdict);
  for (const v of verdicts) console.log(v);
  if (!verdicts.length) console.log(`no ${TARGET.customers}-customer row in this run: no verdict`);
  const suiteSeconds = (performance.now() - started) / 1000;
  console.log(`suite took ${suiteSeconds.toFixed(0)} s`);

  const dir = path.join(__dirname, "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "plan.json");
  const env = { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model, childHeapMiB: CHILD_HEAP_MIB };
  writeFileSync(file, JSON.stringify({ measuredAt: new Date().toISOString(), env, target: TARGET, suiteSeconds, rows, verdicts }, null, 2) + "\n");
  console.log(`raw figures: ${path.relative(process.cwd(), file)}`);
}

function measure(customers: number, kinds: string | undefined, reps: number): Row {
  const label = `${customers} customers${kinds ? ` (${kinds} only)` : ""}`;
  const planRuns: Timed<PlanMeasure>[] = [];
  const floorRuns: Timed<ChildMeasure>[] = [];
  // Plan and floor alternate, so drift in the machine touches both sides alike.
  for (let i = 0; i < reps; i++) {
    const p = progress(`${label}: plan ${i + 1}/${reps}`, () =>
      runChild<PlanMeasure>("plan-child.ts", ["plan", String(customers), ...(kinds ? [kinds] : [])], CHILD_TIMEOUT_MS),
    );
    planRuns.push(p);
    const f = progress(`${label}: floor of ${p.registrations} ${i + 1}/${reps}`, () =>
      runChild<ChildMeasure>("plan-child.ts", ["floor", String(p.registrations)], CHILD_TIMEOUT_MS),
    );
    if (f.registrations !== p.registrations) throw new Error(`floor registered ${f.registrations}, not ${p.registrations}`);
    floorRuns.push(f);
  }
  const plan = side(planRuns);
  const floor = side(floorRuns);
  return {
    customers,
    kinds: kinds ?? "all",
    registrations: planRuns[0].registrations,
    custom: planRuns[0].custom,
    plan,
    floor,
    timeRatio: plan.seconds / floor.seconds,
    rssRatio: plan.maxRssKiB / floor.maxRssKiB,
  };
}

function side<T extends ChildMeasure>(runs: Timed<T>[]): Side<T> {
  return {
    runs,
    seconds: median(runs.map((r) => r.seconds)),
    wallSeconds: median(runs.map((r) => r.wallSeconds)),
    maxRssKiB: median(runs.map((r) => r.maxRssKiB)),
  };
}

function progress<T extends { seconds: number; wallSeconds: number }>(what: string, fn: () => T): T {
  process.stderr.write(`  ${what} ...`);
  const r = fn();
  process.stderr.write(` ${r.seconds.toFixed(1)} s (process ${r.wallSeconds.toFixed(1)} s)\n`);
  return r;
}

const gib = (kib: number) => kib / 2 ** 20;
const fmtGiB = (kib: number) => `${gib(kib).toFixed(2)} GiB`;

function printTable(rows: Row[]): void {
  const header = ["customers", "registrations", "plan s", "floor s", "ratio", "plan peak RSS", "floor peak RSS", "ratio", "plan proc s", "floor proc s", "runs"];
  const cells = rows.map((r) => [
    `${r.customers}${r.kinds === "all" ? "" : ` ${r.kinds}`}`,
    `${r.registrations} (${r.custom})`,
    r.plan.seconds.toFixed(2),
    r.floor.seconds.toFixed(2),
    `${r.timeRatio.toFixed(2)}x`,
    fmtGiB(r.plan.maxRssKiB),
    fmtGiB(r.floor.maxRssKiB),
    `${r.rssRatio.toFixed(2)}x`,
    r.plan.wallSeconds.toFixed(2),
    r.floor.wallSeconds.toFixed(2),
    String(r.plan.runs.length),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) => c.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join("  ");
  console.log("plan suite (mock engine, same run): program() via planProgram vs the SDK floor (as many bare aws.ecr.Repository)");
  console.log(line(header));
  for (const [i, r] of rows.entries()) {
    const target = r.customers === TARGET.customers && r.kinds === "all" ? `   target: ≤ ${TARGET.seconds} s, ≤ ${TARGET.rssGiB} GiB, ratio ≤ ${TARGET.ratio}` : "";
    console.log(line(cells[i]) + target);
  }
  console.log("registrations: custom resources and components (custom only in brackets); floor: that many ecr.Repository");
  console.log("plan s / floor s: from just before the mock run to its end, median of the runs; plan s includes planProgram's policy");
  console.log(
    `  evaluation and warnings (${rows.map((r) => `${median(r.plan.runs.map((x) => x.policySeconds)).toFixed(2)} s`).join(", ")});` +
      ` proc s: the whole child process (Node, tsx, module load, roster generation); heap limit ${CHILD_HEAP_MIB} MiB`,
  );
}

function printPerCustomer(row: Row): void {
  const per = row.plan.runs[0].perCustomer;
  const order = ["enterprise", "professional", "standard", "suspended", "offboarded"];
  const classes = Object.keys(per).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  console.log(`custom resources per customer (${row.customers} customers, ${row.kinds} kinds; suspended includes lapsed licenses):`);
  for (const cls of classes) {
    const counts = Object.entries(per[cls]).map(([n, customers]) => ({ n: Number(n), customers })).sort((a, b) => a.n - b.n);
    const customers = counts.reduce((s, c) => s + c.customers, 0);
    const mean = counts.reduce((s, c) => s + c.n * c.customers, 0) / customers;
    const spread = counts.map((c) => `${c.n} ×${c.customers}`).join(", ");
    console.log(`  ${cls.padEnd(13)} mean ${mean.toFixed(1).padStart(5)}   (${spread})`);
  }
}

function verdict(r: Row): string {
  const met = (ok: boolean) => (ok ? "met" : "NOT MET");
  const what = `${r.customers} customers${r.kinds === "all" ? " (mixed tiers, every kind)" : ` (${r.kinds} only)`}`;
  return [
    `${what}:`,
    `  time  ${met(r.plan.seconds <= TARGET.seconds)}: ${r.plan.seconds.toFixed(2)} s vs ≤ ${TARGET.seconds} s (floor alone ${r.floor.seconds.toFixed(2)} s)`,
    `  RSS   ${met(gib(r.plan.maxRssKiB) <= TARGET.rssGiB)}: ${fmtGiB(r.plan.maxRssKiB)} vs ≤ ${TARGET.rssGiB} GiB (floor alone ${fmtGiB(r.floor.maxRssKiB)})`,
    `  ratio ${met(r.timeRatio <= TARGET.ratio)}: ${r.timeRatio.toFixed(2)}x the floor's time vs ≤ ${TARGET.ratio}x (peak RSS ${r.rssRatio.toFixed(2)}x the floor's)`,
  ].join("\n");
}
