import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { median, runChild } from "./child";

interface Measure {
  registrations: number;
  custom: number;
  seconds: number;
  maxRssMiB: number;
  wallSeconds: number;
  perClass?: Record<string, number>;
}

/** Every kind the dev stack enables, at three sizes; and ECR alone (the foundation's program) at the target size. */
const SCENARIOS: { customers: number; kinds?: string }[] = [
  { customers: 100 },
  { customers: 1000 },
  { customers: 5000 },
  { customers: 1000, kinds: "ecr" },
];
const TARGET = { customers: 1000, seconds: 15, rssMiB: 1536, ratio: 1.3 };

/**
 * Plan time and peak RSS for generated rosters, each beside the SDK's floor: the same number
 * of bare aws.ecr.Repository registrations under the same mock engine, measured in this run.
 */
export async function run(): Promise<void> {
  const rows: { customers: number; kinds: string; plan: Measure; floor: Measure }[] = [];
  for (const { customers: n, kinds } of SCENARIOS) {
    const reps = n >= 1000 ? 1 : 3;
    const plans = Array.from({ length: reps }, () => runChild<Measure>("plan-child.ts", ["plan", String(n), ...(kinds ? [kinds] : [])]));
    const plan = pick(plans);
    const floors = Array.from({ length: reps }, () => runChild<Measure>("plan-child.ts", ["floor", String(plan.registrations)]));
    const floor = pick(floors);
    rows.push({ customers: n, kinds: kinds ?? "all", plan, floor });
    process.stderr.write(`  measured ${n} customers (${kinds ?? "all"} kinds)\n`);
  }

  const f = (x: number, d = 2) => x.toFixed(d);
  console.log("plan suite: program() under the mock engine vs the SDK floor (bare aws.ecr.Repository, same count, same engine, same run)");
  console.log(
    ["customers", "kinds", "registrations", "plan s", "floor s", "ratio", "plan MiB", "floor MiB", "ratio", "process s"].map((h) => h.padStart(15)).join(""),
  );
  for (const r of rows) {
    console.log(
      [
        String(r.customers),
        r.kinds,
        `${r.plan.registrations} (${r.plan.custom})`,
        f(r.plan.seconds),
        f(r.floor.seconds),
        `${f(r.plan.seconds / r.floor.seconds)}x`,
        f(r.plan.maxRssMiB, 0),
        f(r.floor.maxRssMiB, 0),
        `${f(r.plan.maxRssMiB / r.floor.maxRssMiB)}x`,
        f(r.plan.wallSeconds),
      ]
        .map((c) => c.padStart(15))
        .join(""),
    );
  }
  console.log("registrations: every resource the engine saw (custom resources in brackets); process s: the plan child's whole life, module load included");

  const perClass = rows.find((r) => r.kinds === "all" && r.customers === 1000)?.plan.perClass ?? {};
  console.log(`custom resources per customer: ${Object.entries(perClass).sort().map(([k, v]) => `${k} ${v}`).join(", ")}`);

  const verdict = (ok: boolean) => (ok ? "met" : "NOT MET");
  for (const t of rows.filter((r) => r.customers === TARGET.customers)) console.log(
    `target, ${TARGET.customers} customers, ${t.kinds} kinds: time ${f(t.plan.seconds)} s <= ${TARGET.seconds} s ${verdict(t.plan.seconds <= TARGET.seconds)}; ` +
      `peak RSS ${f(t.plan.maxRssMiB, 0)} MiB <= ${TARGET.rssMiB} MiB ${verdict(t.plan.maxRssMiB <= TARGET.rssMiB)}; ` +
      `${f(t.plan.seconds / t.floor.seconds)}x floor <= ${TARGET.ratio}x ${verdict(t.plan.seconds / t.floor.seconds <= TARGET.ratio)}`,
  );

  const dir = path.join(__dirname, "results");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "plan.json"), JSON.stringify({ measuredAt: new Date().toISOString(), rows }, null, 2) + "\n");
}

/** The run with the median program time. */
function pick(ms: Measure[]): Measure {
  const m = median(ms.map((x) => x.seconds));
  return ms.find((x) => x.seconds === m)!;
}
