import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import * as path from "node:path";
import { CHILD_HEAP_MIB, median, runChild, runTree, type TreeMeasure } from "./child";
import { SHORTCUTS } from "../planning/shortcuts";
import { rosterYaml } from "../testing/roster-gen";
import type { ChildMeasure, PlanMeasure } from "./plan-child";
import type { SuiteOptions } from "./run";

export const about =
  "plan time and peak RSS for generated rosters: `intake plan` (worker processes) beside the single-process plan and the SDK floor (--sizes=100,1000,5000 --reps=N --ecr-only; --shortcuts: what each of the plan's SDK shortcuts is worth)";

/** The targets: `intake plan` as users run it (worker processes, one per core). */
const TARGET = { customers: 1000, seconds: 10, processGiB: 1, large: { customers: 5000, seconds: 60 } };
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
  /** `intake plan --roster <generated>` as a user runs it: the whole process tree (median wall). */
  cli?: TreeMeasure & { runs: TreeMeasure[] };
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
  if (opts.shortcuts) return shortcutsWorth(opts.sizes ? sizes[0] : TARGET.customers, opts.reps ? Number(opts.reps) : 5);
  const scenarios = sizes.map((customers) => ({ customers, kinds: undefined as string | undefined }));
  if (opts["ecr-only"]) scenarios.push({ customers: TARGET.customers, kinds: "ecr" });

  const started = performance.now();
  const rows: Row[] = [];
  const scratch = mkdtempSync(path.join(tmpdir(), "plan-bench-"));
  try {
    for (const { customers, kinds } of scenarios) {
      const row = measure(customers, kinds, reps(customers));
      if (!kinds) row.cli = await measureCli(scratch, customers, reps(customers));
      rows.push(row);
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  printTable(rows);
  const perCustomerRow = rows.find((r) => r.kinds === "all" && r.customers === TARGET.customers) ?? rows.find((r) => r.kinds === "all");
  if (perCustomerRow) printPerCustomer(perCustomerRow);
  printCli(rows);
  const verdicts = rows.filter((r) => r.cli && (r.customers === TARGET.customers || r.customers === TARGET.large.customers)).map(verdict);
  for (const v of verdicts) console.log(v);
  if (!verdicts.length) console.log(`no ${TARGET.customers}- or ${TARGET.large.customers}-customer row in this run: no verdict`);
  const suiteSeconds = (performance.now() - started) / 1000;
  console.log(`suite took ${suiteSeconds.toFixed(0)} s`);

  const dir = path.join(__dirname, "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "plan.json");
  const env = {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    childHeapMiB: CHILD_HEAP_MIB,
  };
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
  const header = [
    "customers",
    "registrations",
    "plan s",
    "floor s",
    "ratio",
    "plan peak RSS",
    "floor peak RSS",
    "ratio",
    "plan proc s",
    "floor proc s",
    "runs",
  ];
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
  for (const c of cells) {
    console.log(line(c));
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
    const counts = Object.entries(per[cls])
      .map(([n, customers]) => ({ n: Number(n), customers }))
      .sort((a, b) => a.n - b.n);
    const customers = counts.reduce((s, c) => s + c.customers, 0);
    const mean = counts.reduce((s, c) => s + c.n * c.customers, 0) / customers;
    const spread = counts.map((c) => `${c.n} ×${c.customers}`).join(", ");
    console.log(`  ${cls.padEnd(13)} mean ${mean.toFixed(1).padStart(5)}   (${spread})`);
  }
}

function verdict(r: Row): string {
  const met = (ok: boolean) => (ok ? "met" : "NOT MET");
  const cli = r.cli!;
  const seconds = r.customers === TARGET.customers ? TARGET.seconds : TARGET.large.seconds;
  const lines = [
    `${r.customers} customers (mixed tiers, every kind), intake plan with ${availableParallelism()} workers:`,
    `  time  ${met(cli.wallSeconds <= seconds)}: ${cli.wallSeconds.toFixed(2)} s vs <= ${seconds} s (one process: ${r.plan.wallSeconds.toFixed(2)} s; the SDK floor of as many registrations: ${r.floor.seconds.toFixed(2)} s)`,
  ];
  if (r.customers === TARGET.customers) {
    lines.push(
      `  memory ${met(gib(cli.peakProcessKiB) <= TARGET.processGiB)}: largest process ${fmtGiB(cli.peakProcessKiB)} vs <= ${TARGET.processGiB} GiB (one process: ${fmtGiB(r.plan.maxRssKiB)})`,
    );
  }
  return lines.join("\n");
}

/** `intake plan` of a generated roster, as a user runs it: the bin, the build, the default workers. */
async function measureCli(dir: string, customers: number, reps: number): Promise<TreeMeasure & { runs: TreeMeasure[] }> {
  const roster = path.join(dir, `roster-${customers}.yaml`);
  writeFileSync(roster, rosterYaml(customers));
  const root = path.resolve(__dirname, "..");
  const runs: TreeMeasure[] = [];
  for (let i = 0; i < reps; i++) {
    process.stderr.write(`  ${customers} customers: intake plan ${i + 1}/${reps} ...`);
    const m = await runTree(process.execPath, [path.join(root, "cli", "bin", "intake.js"), "plan", "--roster", roster], { cwd: root });
    process.stderr.write(` ${m.wallSeconds.toFixed(1)} s, ${m.processes} processes\n`);
    runs.push({ ...m, stdout: "" });
  }
  const mid = [...runs].sort((a, b) => a.wallSeconds - b.wallSeconds)[Math.floor(runs.length / 2)];
  return { ...mid, runs };
}

function printCli(rows: Row[]): void {
  const withCli = rows.filter((r) => r.cli);
  if (!withCli.length) return;
  console.log(`intake plan --roster <generated> (the bin as users run it; ${availableParallelism()} cores, default workers), whole process tree:`);
  const header = ["customers", "wall s", "vs one process", "vs floor", "largest process", "tree peak", "processes"];
  const cells = withCli.map((r) => [
    String(r.customers),
    r.cli!.wallSeconds.toFixed(2),
    `${(r.cli!.wallSeconds / r.plan.wallSeconds).toFixed(2)}x`,
    `${(r.cli!.wallSeconds / r.floor.seconds).toFixed(2)}x`,
    fmtGiB(r.cli!.peakProcessKiB),
    fmtGiB(r.cli!.peakTotalKiB),
    String(r.cli!.processes),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  console.log(header.map((h, i) => (i === 0 ? h.padEnd(widths[i]) : h.padStart(widths[i]))).join("  "));
  for (const c of cells) console.log(c.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join("  "));
  console.log("vs one process: against the single-process plan's whole child process (proc s); vs floor: against the floor's mock run alone");
}

/**
 * What each of the plan's shortcuts through SDK internals (planning/engine.ts) is worth: `intake
 * plan --workers 1` of a generated roster with INTAKE_PLAN_SHORTCUTS_OFF naming the ones left off,
 * every set once per round, rounds alternated; the median wall of each beside all shortcuts on.
 */
async function shortcutsWorth(customers: number, reps: number): Promise<void> {
  const sets = ["", ...SHORTCUTS, "no-promise-tracking,no-stack-traces", "quiet-stacks,no-promise-tracking,no-stack-traces", "all"];
  const scratch = mkdtempSync(path.join(tmpdir(), "plan-shortcuts-bench-"));
  const root = path.resolve(__dirname, "..");
  const walls = new Map<string, number[]>(sets.map((s) => [s, []]));
  try {
    const roster = path.join(scratch, "roster.yaml");
    writeFileSync(roster, rosterYaml(customers));
    for (let i = 0; i < reps; i++) {
      for (const off of sets) {
        process.stderr.write(`  ${customers} customers, left off: ${off || "none"} ${i + 1}/${reps} ...`);
        const m = await runTree(
          process.execPath,
          [path.join(root, "cli", "bin", "intake.js"), "plan", "--stack", "prod", "--roster", roster, "--workers", "1"],
          {
            cwd: root,
            env: { ...process.env, INTAKE_PLAN_SHORTCUTS_OFF: off, INTAKE_PLAN_STACKS: "" },
          },
        );
        process.stderr.write(` ${m.wallSeconds.toFixed(2)} s\n`);
        walls.get(off)!.push(m.wallSeconds);
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const base = median(walls.get("")!);
  console.log(
    `plan shortcuts: intake plan --workers 1 of ${customers} customers (prod stack), median wall of ${reps} alternated runs, beside all shortcuts on`,
  );
  const rows = sets.map((off) => [off || "none", `${median(walls.get(off)!).toFixed(2)} s`, `${(median(walls.get(off)!) / base).toFixed(2)}x`]);
  const header = ["left off", "wall", "vs all on"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  console.log(header.map((h, i) => (i === 0 ? h.padEnd(widths[i]) : h.padStart(widths[i]))).join("  "));
  for (const r of rows) console.log(r.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join("  "));
}
