// npm run bench [-- SUITE...]: every suite when none is named.
import * as broker from "./broker";
import * as plan from "./plan";
import * as types from "./types";

const SUITES: Record<string, { run: () => Promise<void> }> = { plan, types, broker };

async function main() {
  const wanted = process.argv.slice(2);
  const unknown = wanted.filter((s) => !(s in SUITES));
  if (unknown.length) {
    console.error(`unknown suite ${unknown.join(", ")}; suites: ${Object.keys(SUITES).join(", ")}`);
    process.exit(2);
  }
  for (const name of wanted.length ? wanted : Object.keys(SUITES)) {
    console.log(`== ${name}`);
    await SUITES[name].run();
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
