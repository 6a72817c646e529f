import { Command } from "commander";
import * as path from "node:path";
import type { OnboardResult } from "../../automation/onboard";
import { projectDirOf, stackName, type CommandContext } from "../options";
import { deferSdkClosureModules } from "../../planning/sdk-modules";

/** `intake onboard`. */
export function register(cli: Command, ctx: CommandContext): void {
  const printOnboard = (r: OnboardResult) => {
    ctx.io.out(
      `${r.action} ${r.customer} on stack ${r.stack}${r.shard !== undefined ? ` (shard ${r.shard})` : ""}: ${
        Object.entries(r.changes)
          .map(([k, n]) => `${n} ${k}`)
          .join(", ") || "no changes"
      }`,
    );
    for (const [kind, ns] of Object.entries(r.namespaces)) ctx.io.out(`  ${kind.padEnd(12)} ${ns}`);
    for (const c of r.credentials) ctx.io.out(`  credentials: ${c}`);
    if (r.commit) ctx.io.out(`  roster commit: ${r.commit}${r.applied === "ci" ? " (pushed; CI's pulumi up applies it)" : ""}`);
  };

  cli
    .command("onboard")
    .description("add one customer: validate, preview with the policy pack and up its shard stack (Automation API), then write the roster")
    .requiredOption("--file <customer.yaml>", "the customer's roster entry (YAML)")
    .requiredOption("--stack <name>", "the base (platform) stack; with sharding the customer's shard stack is chosen from it", stackName)
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .option(
      "--job <id>",
      "the job's id, the trailer Intake-Job of its roster commit where git holds the roster: run again with the same id after a crash and nothing is committed twice (default: a new one)",
    )
    .option("--json", "print the result as JSON")
    .action(async (opts: { file: string; stack: string; roster?: string; project?: string; json?: boolean; job?: string }) => {
      deferSdkClosureModules();
      const projectDir = projectDirOf(opts);
      const { onboard, readCustomerFile } = await import("../../automation/onboard.js");
      const entry = readCustomerFile(opts.file);
      const r = await onboard(entry, {
        projectDir,
        stack: opts.stack,
        rosterPath: opts.roster && path.resolve(opts.roster),
        job: opts.job,
        onOutput: (l) => ctx.io.err(l.trimEnd()),
      });
      if (opts.json) ctx.io.out(JSON.stringify(r, null, 2));
      else printOnboard(r);
    });

  cli
    .command("offboard")
    .description("offboard one customer (status offboarded: credentials deleted, repositories kept) through its shard stack")
    .requiredOption("--customer <id>", "customer id")
    .requiredOption("--stack <name>", "the base (platform) stack", stackName)
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .option(
      "--job <id>",
      "the job's id, the trailer Intake-Job of its roster commit where git holds the roster: run again with the same id after a crash and nothing is committed twice (default: a new one)",
    )
    .option("--json", "print the result as JSON")
    .action(async (opts: { customer: string; stack: string; roster?: string; project?: string; json?: boolean; job?: string }) => {
      deferSdkClosureModules();
      const projectDir = projectDirOf(opts);
      const { offboard } = await import("../../automation/onboard.js");
      const r = await offboard(opts.customer, {
        projectDir,
        stack: opts.stack,
        rosterPath: opts.roster && path.resolve(opts.roster),
        job: opts.job,
        onOutput: (l) => ctx.io.err(l.trimEnd()),
      });
      if (opts.json) ctx.io.out(JSON.stringify(r, null, 2));
      else printOnboard(r);
    });
}
