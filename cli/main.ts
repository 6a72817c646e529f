import { Command, CommanderError, Help, type Option } from "commander";
import { EXIT, IntakeError } from "../core/errors";
import { register as registerBroker } from "./commands/broker";
import { register as registerDeliver } from "./commands/deliver";
import { register as registerLocalRegistry } from "./commands/local-registry";
import { register as registerOnboard } from "./commands/onboard";
import { register as registerPlan } from "./commands/plan";
import { register as registerPolicy } from "./commands/policy";
import { register as registerRotate } from "./commands/rotate";
import { register as registerServe } from "./commands/serve";
import { register as registerShards } from "./commands/shards";
import { register as registerToken } from "./commands/token";
import { register as registerUsage } from "./commands/usage";
import { register as registerVerify } from "./commands/verify";
import { HELP_AFTER, packageVersion, processIo, type CommandContext, type Io } from "./options";

export { EXIT } from "../core/errors";
export { findProjectDir, type Io } from "./options";

/**
 * The `intake` command: one file per subcommand under cli/commands/, the flag parsers and
 * shared helpers in cli/options.ts. The plan (Pulumi SDK, the program), the broker, the audit and
 * the Automation API load on demand, so `intake token` and `intake deliver` start without them.
 * Resolves to the exit code.
 */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let code: number = EXIT.ok;
  const cli = intakeCommand({ io, exit: (c) => (code = c) });
  try {
    unknownOptionsFirst(cli, argv);
    await cli.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.invalidInput;
    // The one error family: its message, its exit code. Anything else is a defect, shown whole.
    if (e instanceof IntakeError) {
      io.err(`error: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
  return code;
}

/** The whole `intake` command tree (main() runs it; `npm run docs` writes docs/reference/cli.md from its help). */
export function intakeCommand(ctx: CommandContext): Command {
  const { io } = ctx;
  const cli = new Command("intake")
    .description("registry-intake: isolated customer namespaces and scoped credentials on container registries")
    .version(packageVersion(), "-V, --version", "print the version")
    // Program options only before the subcommand: deliver has a --version of its own (the tag).
    .enablePositionalOptions()
    .addHelpText("after", HELP_AFTER)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError("(add --help for usage)")
    // Every command's --help marks the options it cannot run without.
    .configureHelp({
      optionDescription(this: Help, option: Option): string {
        const said = Help.prototype.optionDescription.call(this, option);
        return option.mandatory ? `${said} (required)` : said;
      },
    });

  registerPlan(cli, ctx);
  registerPolicy(cli, ctx);
  registerBroker(cli, ctx);
  registerLocalRegistry(cli, ctx);
  registerUsage(cli, ctx);
  registerToken(cli, ctx);
  registerDeliver(cli, ctx);
  registerShards(cli, ctx);
  registerOnboard(cli, ctx);
  registerVerify(cli, ctx);
  registerRotate(cli, ctx);
  registerServe(cli, ctx);
  return cli;
}

/**
 * Commander reports a missing required option before an unknown one, so `deliver --sorce x` said
 * "--source not specified" and never named the typo. The subcommand's words are looked at first:
 * an option it does not know is reported as commander reports one (with its "Did you mean").
 */
function unknownOptionsFirst(cli: Command, argv: string[]): void {
  let cmd = cli;
  let i = 0;
  for (; i < argv.length; i++) {
    const sub = cmd.commands.find((c) => c.name() === argv[i] || c.aliases().includes(argv[i]));
    if (!sub) break;
    cmd = sub;
  }
  if (cmd === cli) return;
  const known = new Set(cmd.options.flatMap((o) => [o.long, o.short]).filter((f): f is string => !!f));
  for (const word of argv.slice(i)) {
    if (word === "--") return;
    const flag = word.split("=")[0];
    if (!flag.startsWith("-") || flag === "-" || known.has(flag) || flag === "-h" || flag === "--help") continue;
    if (/^-\d/.test(flag)) continue; // a negative number given as a value
    // Commander's own report (its JavaScript API; not in its type declarations).
    (cmd as unknown as { unknownOption(flag: string): never }).unknownOption(flag);
  }
}
