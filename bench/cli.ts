import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { median } from "./child";
import type { SuiteOptions } from "./run";

export const about = "start-up of intake --help, the credential helper's cached get and intake token beside `node -e 0` (--runs=N)";

const ROOT = path.resolve(__dirname, "..");
const TARGET = { helperGet: 1.5, help: 2 };
const HOST = "https://registry.dev.intake.example.com";

/**
 * Wall time of whole processes, as docker and scripts run them: `node -e 0` (the floor every
 * Node program pays, measured in this run), `intake --help`, a repeated
 * `docker-credential-intake get` answered from the credential cache, and `intake token` from the
 * cache; each from the build (`npm run build`, made here if it is not current) and from the
 * sources through tsx. Runs alternate between the commands; the median of --runs (default 15).
 */
export async function run(opts: SuiteOptions = {}): Promise<void> {
  const runs = Number(opts.runs ?? 15);
  if (!Number.isInteger(runs) || runs < 3) throw new Error(`--runs must be a whole number of at least 3 (got ${opts.runs})`);
  const { compiledEntry } = require("../cli/bin/compiled.js") as { compiledEntry: (root: string, rel: string) => string | null };
  if (!compiledEntry(ROOT, "cli/main")) {
    console.log("cli: the build is not current: npm run build");
    const b = spawnSync(process.execPath, [path.join(ROOT, "scripts", "build.js")], { stdio: "inherit" });
    if (b.status !== 0) throw new Error("npm run build failed");
  }
  const dir = mkdtempSync(path.join(tmpdir(), "cli-bench-"));
  try {
    const key = path.join(dir, "broker.key");
    writeFileSync(key, generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }));
    const roster = path.join(dir, "roster.yaml");
    writeFileSync(roster, stringify({ customers: [{ id: "acme", name: "Acme", tier: "enterprise", license: { expires: "2099-12-31" } }] }));
    const cache = path.join(dir, "cache");
    const env = {
      ...process.env,
      INTAKE_CUSTOMER: "acme",
      INTAKE_BROKER_KEY: key,
      INTAKE_PROJECT: ROOT,
      INTAKE_ROSTER: roster,
      INTAKE_CREDENTIAL_CACHE: cache,
    };
    const helper = path.join(ROOT, "cli", "bin", "docker-credential-intake.js");
    const intake = path.join(ROOT, "cli", "bin", "intake.js");
    const tokenArgs = [intake, "token", "--customer", "acme", "--kind", "distribution", "--roster", roster, "--key", key];
    const commands: { name: string; args: string[]; input?: string; env?: NodeJS.ProcessEnv }[] = [
      { name: "node -e 0", args: ["-e", "0"] },
      { name: "docker-credential-intake get (cached)", args: [helper, "get"], input: `${HOST}\n` },
      { name: "intake --help", args: [intake, "--help"] },
      { name: "intake token (cached)", args: tokenArgs },
      { name: "docker-credential-intake get (no cache)", args: [helper, "get"], input: `${HOST}\n`, env: { INTAKE_CREDENTIAL_CACHE: "off" } },
      // The sources through tsx, as every run was before the build.
      { name: "intake --help (sources through tsx)", args: [intake, "--help"], env: { INTAKE_RUN_SOURCES: "1" } },
      { name: "docker-credential-intake get (sources, cached)", args: [helper, "get"], input: `${HOST}\n`, env: { INTAKE_RUN_SOURCES: "1" } },
    ];
    const once = (c: (typeof commands)[number]) => {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, c.args, { input: c.input, encoding: "utf8", env: { ...env, ...c.env }, cwd: ROOT });
      const ms = performance.now() - t0;
      if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${r.stdout}${r.stderr}`);
      return ms;
    };
    // Fill the cache, and warm the file cache, before measuring.
    for (const c of commands) once(c);
    const times = commands.map(() => [] as number[]);
    for (let i = 0; i < runs; i++) commands.forEach((c, j) => times[j].push(once(c)));
    const floor = median(times[0]);
    console.log(`cli suite: wall time of whole processes, median of ${runs} alternated runs, beside \`node -e 0\` in this run (Node ${process.versions.node})`);
    console.log(`  ${"".padEnd(48)} ${"median".padStart(9)} ${"vs node -e 0".padStart(13)}`);
    commands.forEach((c, j) =>
      console.log(`  ${c.name.padEnd(48)} ${`${median(times[j]).toFixed(0)} ms`.padStart(9)} ${`${(median(times[j]) / floor).toFixed(2)}x`.padStart(13)}`),
    );
    const get = median(times[1]) / floor;
    const help = median(times[2]) / floor;
    const ok = (x: boolean) => (x ? "met" : "NOT MET");
    console.log(
      `target: cached get ${get.toFixed(2)}x <= ${TARGET.helperGet}x ${ok(get <= TARGET.helperGet)}; --help ${help.toFixed(2)}x <= ${TARGET.help}x ${ok(help <= TARGET.help)}`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
