import { Command } from "commander";
import * as path from "node:path";
import { EXIT } from "../../core/errors";
import { projectDirOf, stackName, writeOut, type CommandContext, outputFile } from "../options";
import { deferSdkClosureModules } from "../../planning/sdk-modules";

/** `intake policy`. */
export function register(cli: Command, ctx: CommandContext): void {
  const policy = cli.command("policy").description("the policy pack outside pulumi preview");
  policy
    .command("audit")
    .description("run the policy pack over the resources of a `pulumi stack export` file")
    .requiredOption("--stack-export <file>", "a `pulumi stack export` file (deployment version 3)")
    .option("--stack <name>", "stack whose settings and roster to judge by (default: the stack in the export's URNs)", stackName)
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--policy-config <file>", "per-rule enforcement levels, as for pulumi preview --policy-pack-config")
    .option("--json <path>", "write the violations as JSON", outputFile)
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .action(async (opts: { stackExport: string; stack?: string; roster?: string; policyConfig?: string; json?: string; project?: string }) => {
      deferSdkClosureModules();
      const { readPolicyConfig } = await import("../files.js");
      const projectDir = projectDirOf(opts);
      const { auditStackExport, renderAudit } = await import("../../policy/audit.js");
      const result = auditStackExport({
        projectDir,
        exportFile: opts.stackExport,
        stack: opts.stack,
        rosterPath: opts.roster && path.resolve(opts.roster),
        policyConfig: readPolicyConfig(opts.policyConfig),
      });
      ctx.io.out(renderAudit(result));
      if (opts.json) writeOut(opts.json, JSON.stringify(result, null, 2) + "\n");
      if (result.violations.some((v) => v.enforcement === "mandatory")) ctx.exit(EXIT.violations);
    });
}
