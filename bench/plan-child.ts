// One measurement in its own process, so its peak RSS is its own. Prints one JSON line.
//   plan N [KINDS] : plan a generated roster of N customers (KINDS: comma-separated enabledKinds, default the stack's)
//   floor N  : register N bare aws.ecr.Repository resources under the same mock engine
import * as ecr from "@pulumi/aws/ecr";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { settingsFromConfig } from "../components/settings";
import { runUnderMocks } from "../cli/plan/engine";
import { planProgram } from "../cli/plan/plan";
import { readStackConfig } from "../cli/plan/stack";
import { customerState } from "../customers/status";
import { generateRoster } from "./roster-gen";

const [mode, count, kinds] = [process.argv[2], Number(process.argv[3]), process.argv[4]];
const ROOT = path.resolve(__dirname, "..");
const TODAY = new Date("2026-11-22T12:00:00Z");

async function main() {
  const cfg = readStackConfig(ROOT, "dev");
  pulumi.runtime.setAllConfig(cfg.config, cfg.secretKeys);
  const base = settingsFromConfig(cfg.file, "dev", TODAY);
  const settings = kinds ? { ...base, enabledKinds: base.enabledKinds.filter((k) => kinds.split(",").includes(k)) } : base;
  if (mode === "plan") {
    const roster = generateRoster(count, settings);
    const t0 = performance.now();
    const plan = await planProgram(settings, roster);
    const seconds = (performance.now() - t0) / 1000;
    // Custom resources per customer, by what decides their number: tier and status.
    const perCustomer = new Map<string, number>();
    for (const r of plan.resources) if (r.custom && r.customer) perCustomer.set(r.customer, (perCustomer.get(r.customer) ?? 0) + 1);
    const byClass: Record<string, number[]> = {};
    for (const c of roster.customers) {
      const st = customerState(c, settings.asOf).status;
      const cls = st === "active" ? c.tier : st;
      const extra = (c.ecr?.repositories?.length ?? 0) > 0 ? "+repo" : "";
      (byClass[cls + extra] ??= []).push(perCustomer.get(c.id) ?? 0);
    }
    const perClass = Object.fromEntries(Object.entries(byClass).map(([k, v]) => [k, Math.max(...v)]));
    out({ registrations: plan.recorded.length, custom: plan.recorded.filter((r) => r.custom).length, seconds, perClass });
  } else if (mode === "floor") {
    const t0 = performance.now();
    const { resources } = await runUnderMocks(
      () => {
        for (let i = 0; i < count; i++) new ecr.Repository(`repo-${i}`, { name: `floor/repo-${i}` });
      },
      { project: "registry-intake", stack: "dev", cloud: { accountId: settings.aws!.accountId, region: settings.aws!.region } },
    );
    out({ registrations: resources.length, custom: resources.length, seconds: (performance.now() - t0) / 1000 });
  } else {
    throw new Error(`plan-child: unknown mode ${mode}`);
  }
}

function out(o: Record<string, unknown>) {
  process.stdout.write(JSON.stringify({ ...o, maxRssMiB: process.resourceUsage().maxRSS / 1024 }) + "\n");
}

main().catch((e) => {
  process.stderr.write(String(e?.stack ?? e) + "\n");
  process.exit(1);
});
