import { Command } from "commander";
import * as path from "node:path";
import { EXIT } from "../../core/errors";
import { REGISTRY_KINDS, type RegistryKind } from "../../core/tiers";
import { idList, InputError, kindList, projectDirOf, stackName, writeOut, type CommandContext, outputFile } from "../options";

/** `intake verify`: evidence, per customer and kind, that its credential reaches its own namespace and nothing else. */
export function register(cli: Command, ctx: CommandContext): void {
  cli
    .command("verify")
    .description("prove isolation: each customer's credential lists its own namespace and is refused on a neighbour's")
    .option("--customer <ids>", "customer ids, comma-separated (repeatable)", idList)
    .option("--all", "every customer of the roster (denied ones must be refused everywhere)")
    .option("--kind <kinds>", `registry kinds, comma-separated: ${REGISTRY_KINDS.join(", ")} (default: each customer's own)`, kindList)
    .option("--write", "also push and delete a tiny probe image in each customer's own namespace")
    .option("--json <path>", "write the report as JSON to this file ('-' for stdout)", outputFile)
    .option("--markdown <path>", "write the report as markdown to this file ('-' for stdout)", outputFile)
    .option("--stack <name>", "stack whose settings to use", stackName, "dev")
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--key <file>", "distribution: the broker's PEM private key (mints an offline 1 h credential)")
    .option("--subscription <id>", "acr: the Azure subscription of the registry (default AZURE_SUBSCRIPTION_ID)")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .action(
      async (opts: {
        customer?: string[];
        all?: boolean;
        kind?: RegistryKind[];
        write?: boolean;
        json?: string;
        markdown?: string;
        stack: string;
        roster?: string;
        key?: string;
        subscription?: string;
        project?: string;
      }) => {
        const { customerById } = await import("../../core/access.js");
        const { loadStackContext } = await import("../../core/stack.js");
        const { ghcrTokenVariable } = await import("../../kinds/ghcr/mint.js");
        const { loadPrivateSigningKey } = await import("../../runtime/broker/keys.js");
        const { renderVerifyMarkdown, renderVerifyText, verify } = await import("../../runtime/verify.js");
        if (opts.all && opts.customer) throw new InputError("--customer and --all: use one, not both");
        if (!opts.all && !opts.customer) throw new InputError("name the customers: --customer ID[,ID...] or --all");
        const { settings, roster } = loadStackContext({
          projectDir: projectDirOf(opts),
          stack: opts.stack,
          rosterPath: opts.roster && path.resolve(opts.roster),
        });
        for (const id of opts.customer ?? []) if (!customerById(roster, id)) throw new InputError(`--customer: ${id} is not in ${roster.source}`);
        // Evidence that checks nothing is no evidence: every named customer must hold a kind asked for.
        for (const id of opts.customer ?? []) {
          const held = customerById(roster, id)!.registries.filter((k) => settings.enabledKinds.includes(k) && (!opts.kind || opts.kind.includes(k)));
          if (held.length === 0)
            throw new InputError(
              `--customer: ${id} holds ${opts.kind ? `no ${opts.kind.join(", ")}` : "no registry kind"} on stack ${settings.stack}; nothing to verify`,
            );
        }
        const signingKey = opts.key ? loadPrivateSigningKey(opts.key) : undefined;
        const report = await verify({
          settings,
          roster,
          customers: opts.customer ?? roster.customers.map((c) => c.id),
          kinds: opts.kind,
          write: opts.write,
          mint: (customer) => ({
            signingKey,
            ghcrToken: process.env[ghcrTokenVariable(customer)],
            azureSubscriptionId: opts.subscription ?? process.env.AZURE_SUBSCRIPTION_ID,
          }),
          progress: (e) => ctx.io.tty?.(`${e.skipped ? "skip" : e.ok ? "ok  " : "FAIL"} ${e.customer} ${e.kind}\n`),
        });
        // Evidence that checks nothing is none: every pair skipped, or every licensed pair skipped
        // with only refusals left (no registry asked), is the user's to fix.
        const skipped = report.results.filter((r) => r.skipped);
        if (skipped.length && !report.results.some((r) => r.minted)) {
          const reasons = [...new Set(skipped.map((r) => r.reason))];
          throw new InputError(
            `nothing could be verified at a registry: ${skipped.length} licensed pair(s) skipped: ${reasons.slice(0, 3).join("; ")}${reasons.length > 3 ? `; and ${reasons.length - 3} more` : ""}`,
          );
        }
        const emit = (target: string, text: string, flag: string) => (target === "-" ? ctx.io.out(text) : writeOut(target, text, flag));
        if (opts.json) emit(opts.json, JSON.stringify(report, null, 2), "--json");
        if (opts.markdown) emit(opts.markdown, renderVerifyMarkdown(report), "--markdown");
        if (opts.json !== "-" && opts.markdown !== "-") ctx.io.out(renderVerifyText(report));
        ctx.exit(report.unreachable ? EXIT.failed : report.ok ? EXIT.ok : EXIT.violations);
      },
    );
}
