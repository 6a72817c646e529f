import { Command, Option } from "commander";
import * as path from "node:path";
import { EXIT } from "../../core/errors";
import { projectDirOf, InputError, positiveInt, stackName, writeOut, type CommandContext, outputFile } from "../options";
import { SLICE_SIZE } from "../../planning/slices";
import { deferSdkClosureModules } from "../../planning/sdk-modules";

/** `intake plan`. */
export function register(cli: Command, ctx: CommandContext): void {
  cli
    .command("plan")
    .description("plan the stack offline under the Pulumi SDK's mock engine: no cloud credentials needed")
    .option("--stack <name>", "stack whose Pulumi.<name>.yaml to read", stackName, "dev")
    .option("--roster <path>", "roster file (default: the stack's roster setting, customers/roster.yaml)")
    .option("--json <path>", "write the plan as JSON", outputFile)
    .option("--markdown <path>", "write a summary fit for a pull-request comment", outputFile)
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .option("--policy-config <file>", "per-rule enforcement levels, as for pulumi preview --policy-pack-config")
    .option("--base <git-ref>", "show only what changed since this git ref (customers added, removed, changed; resources; cost)")
    .option("--kept <file>", "the stack's outputs (`pulumi stack output --json`): show which kept resources the update adopts")
    .addOption(new Option("--retained <file>", "the former name of --kept").hideHelp())
    .option(
      "--workers <n>",
      `worker processes for a roster over ${2 * SLICE_SIZE} customers, each planning slices of ${SLICE_SIZE} (default: one per core; 1: this process only)`,
      positiveInt,
    )
    .action(
      async (opts: {
        stack: string;
        roster?: string;
        json?: string;
        markdown?: string;
        project?: string;
        policyConfig?: string;
        base?: string;
        kept?: string;
        retained?: string;
        workers?: number;
      }) => {
        deferSdkClosureModules();
        const { readKeptFile, readPolicyConfig } = await import("../files.js");
        const projectDir = projectDirOf(opts);
        const policyConfig = readPolicyConfig(opts.policyConfig);
        if (opts.retained && opts.kept) throw new InputError("--retained is the former name of --kept: give --kept alone");
        if (opts.retained) ctx.io.err("warning: --retained is now --kept (the former name is still read)");
        const keptList = readKeptFile(opts.kept ?? opts.retained);
        if (keptList && opts.base) throw new InputError("--kept and --base: pick one (--kept shows adoption in a full plan)");
        if (opts.base) {
          const [{ planDiff }, { renderDiffMarkdown, renderDiffText }] = await Promise.all([import("../../planning/diff.js"), import("../render-diff.js")]);
          const diff = await planDiff({ projectDir, stack: opts.stack, base: opts.base, rosterPath: opts.roster && path.resolve(opts.roster), policyConfig });
          ctx.io.out(renderDiffText(diff));
          if (opts.json) writeOut(opts.json, JSON.stringify(diff, null, 2) + "\n");
          if (opts.markdown) writeOut(opts.markdown, renderDiffMarkdown(diff), "--markdown");
          if (diff.violations.some((v) => v.enforcement === "mandatory")) ctx.exit(EXIT.violations);
          return;
        }
        const { planStack } = await import("../../planning/plan.js");
        const { renderMarkdown, renderText } = await import("../render.js");
        const tty = ctx.io.tty;
        const onProgress = tty && ((done: number, total: number) => tty(`\rplanned ${done} of ${total} customers${done === total ? "\n" : ""}`));
        const { plan } = await planStack({
          projectDir,
          stack: opts.stack,
          rosterPath: opts.roster && path.resolve(opts.roster),
          policyConfig,
          keptList,
          workers: opts.workers,
          onProgress: onProgress || undefined,
        });
        const { recorded: _recorded, ...result } = plan;
        ctx.io.out(renderText(result));
        if (opts.json) writeOut(opts.json, JSON.stringify(result, null, 2) + "\n");
        if (opts.markdown) writeOut(opts.markdown, renderMarkdown(result), "--markdown");
        if (result.violations.some((v) => v.enforcement === "mandatory")) ctx.exit(EXIT.violations);
      },
    );
}
