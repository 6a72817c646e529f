import { Command } from "commander";
import { idList, InputError, sinceTime, type CommandContext } from "../options";

const FORMATS = ["text", "json", "markdown"] as const;
type Format = (typeof FORMATS)[number];

/** `intake usage`: per customer, what the broker's log says it was given and refused. */
export function register(cli: Command, ctx: CommandContext): void {
  cli
    .command("usage")
    .description("per customer from the broker's JSON log: tokens issued, repositories pushed and pulled (granted scopes), denials by reason")
    .requiredOption("--log <file>", "the broker's log (its JSON lines, e.g. kubectl logs deploy/<broker>); '-' for standard input")
    .option("--since <when>", "only entries from then on: an ISO date or time (UTC unless it gives an offset) or a duration back from now (90m, 24h, 7d)", (v: string) => sinceTime(v))
    .option("--customer <ids>", "only these customers, comma-separated (repeatable; _unknown, _anonymous, _delivery for requests without one)", idList)
    .option("--format <format>", `${FORMATS.join(", ")}`, (v: string): Format => {
      if (!(FORMATS as readonly string[]).includes(v)) throw new InputError(`--format ${v}: must be ${FORMATS.join(", ")}`);
      return v as Format;
    }, "text")
    .action(async (opts: { log: string; since?: Date; customer?: string[]; format: Format }) => {
      const { brokerUsage, renderUsageMarkdown, renderUsageText } = await import("../../runtime/broker/usage.js");
      const report = await brokerUsage(opts.log, { since: opts.since, customers: opts.customer });
      ctx.io.out(opts.format === "json" ? JSON.stringify(report, null, 2) : opts.format === "markdown" ? renderUsageMarkdown(report).trimEnd() : renderUsageText(report));
    });
}
