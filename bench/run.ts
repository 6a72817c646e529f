// npm run bench [-- SUITE... [--option[=value]...]]: every suite when none is named; options go to
// the named suites (e.g. `npm run bench -- plan --sizes=100,1000`).
import * as broker from "./broker";
import * as cli from "./cli";
import * as engine from "./engine";
import * as fanout from "./fanout";
import * as onboarding from "./onboarding";
import * as plan from "./plan";
import * as scale from "./scale";
import * as shard from "./shard";
import * as types from "./types";

/** `--name=value` options from the command line; a bare `--name` is "true". */
export type SuiteOptions = Readonly<Record<string, string>>;

interface Suite {
  /** One line for `--help`. */
  readonly about?: string;
  run(opts: SuiteOptions): Promise<void>;
}

const SUITES: Record<string, Suite> = { cli, plan, types, broker, fanout, shard, engine, onboarding, scale };

function parseArgs(argv: string[]): { names: string[]; opts: Record<string, string> } {
  const names: string[] = [];
  const opts: Record<string, string> = {};
  for (const arg of argv) {
    const m = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    if (m) opts[m[1]] = m[2] ?? "true";
    else names.push(arg);
  }
  return { names, opts };
}

async function main() {
  const { names, opts } = parseArgs(process.argv.slice(2));
  if (opts.help) {
    console.log("npm run bench [-- SUITE... [--option[=value]...]]");
    for (const [name, suite] of Object.entries(SUITES)) console.log(`  ${name.padEnd(8)} ${suite.about ?? ""}`);
    return;
  }
  const unknown = names.filter((s) => !(s in SUITES));
  if (unknown.length) {
    console.error(`unknown suite ${unknown.join(", ")}; suites: ${Object.keys(SUITES).join(", ")}`);
    process.exit(2);
  }
  for (const name of names.length ? names : Object.keys(SUITES)) {
    console.log(`== ${name}`);
    await SUITES[name].run(opts);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
