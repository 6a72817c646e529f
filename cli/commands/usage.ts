import { Command } from "commander";
import * as path from "node:path";
import { idList, InputError, projectDirOf, sinceTime, stackName, type CommandContext } from "../options";

const FORMATS = ["text", "json", "markdown"] as const;
type Format = (typeof FORMATS)[number];

/** `intake usage`: per customer, what the broker's log says it was given and refused. */
export function register(cli: Command, ctx: CommandContext): void {
  cli
    .command("usage")
    .description("per customer from the broker's JSON log: tokens issued, repositories pushed and pulled (granted scopes), denials by reason")
    .requiredOption("--log <file>", "the broker's log (its JSON lines, e.g. kubectl logs deploy/<broker>); '-' for standard input")
    .option(
      "--since <when>",
      "only entries from then on: an ISO date or time (UTC unless it gives an offset) or a duration back from now (90m, 24h, 7d)",
      (v: string) => sinceTime(v),
    )
    .option("--customer <ids>", "only these customers, comma-separated (repeatable; _unknown, _anonymous, _delivery for requests without one)", idList)
    .option(
      "--format <format>",
      `${FORMATS.join(", ")}`,
      (v: string): Format => {
        if (!(FORMATS as readonly string[]).includes(v)) throw new InputError(`--format ${v}: must be ${FORMATS.join(", ")}`);
        return v as Format;
      },
      "text",
    )
    .option("--stack <name>", "also report each product's maxPullsPerDay from this stack's catalogue and roster, against the busiest day", stackName)
    .option("--roster <path>", "with --stack: roster file (default: the stack's roster setting)")
    .option("--project <dir>", "with --stack: project folder holding Pulumi.yaml (default: found from the working folder)")
    .action(async (opts: { log: string; since?: Date; customer?: string[]; format: Format; stack?: string; roster?: string; project?: string }) => {
      const { brokerUsage, renderUsageMarkdown, renderUsageText } = await import("../../runtime/broker/usage.js");
      if (!opts.stack && (opts.roster || opts.project))
        throw new InputError(`${opts.roster ? "--roster" : "--project"} is read with --stack only: add --stack NAME to report pull limits`);
      let limits;
      if (opts.stack) {
        const { loadStackContext } = await import("../../core/stack.js");
        const { pullLimitsOf } = await import("../../runtime/broker/pull-limits.js");
        const { settings, roster } = loadStackContext({
          projectDir: projectDirOf(opts),
          stack: opts.stack,
          rosterPath: opts.roster && path.resolve(opts.roster),
        });
        if (!settings.products)
          throw new InputError(`--stack ${opts.stack}: the stack has no product catalogue (setting products), so no pull limits to report; leave --stack out`);
        // The roster is read: a customer it does not hold is a mistake, not a row of zeros.
        for (const id of opts.customer ?? []) {
          if (!id.startsWith("_") && !roster.customers.some((c) => c.id === id)) throw new InputError(`--customer: ${id} is not in ${roster.source}`);
        }
        limits = pullLimitsOf(roster, settings);
      }
      const report = await brokerUsage(opts.log, { since: opts.since, customers: opts.customer, limits });
      ctx.io.out(
        opts.format === "json" ? JSON.stringify(report, null, 2) : opts.format === "markdown" ? renderUsageMarkdown(report).trimEnd() : renderUsageText(report),
      );
    });
}
