import { spawnSync } from "node:child_process";
import { mkdirSync, utimesSync, writeFileSync, rmSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../testing/tmp";

const { compiledEntry } = require("../../../cli/bin/compiled.js") as { compiledEntry: (root: string, rel: string) => string | null };

const ROOT = path.resolve(__dirname, "../../..");

describe("which code the bins run", () => {
  it("runs out/ only while no source listed by the build is as new as the build", () => {
    const root = tempDir("build-");
    mkdirSync(path.join(root, "cli"), { recursive: true });
    mkdirSync(path.join(root, "out", "cli"), { recursive: true });
    writeFileSync(path.join(root, "cli", "main.ts"), "");
    writeFileSync(path.join(root, "cli", "options.ts"), "");
    writeFileSync(path.join(root, "out", "cli", "main.js"), "");
    const old = new Date(Date.now() - 60_000);
    for (const f of ["cli/main.ts", "cli/options.ts"]) utimesSync(path.join(root, f), old, old);
    const stamp = (sources: string[], startedAt = Date.now() - 1000) =>
      writeFileSync(path.join(root, "out", "build.json"), JSON.stringify({ startedAt, sources }));
    expect(compiledEntry(root, "cli/main")).toBeNull(); // no build yet
    stamp(["cli/main.ts", "cli/options.ts"]);
    expect(compiledEntry(root, "cli/main")).toBe(path.join(root, "out", "cli", "main.js"));
    expect(compiledEntry(root, "cli/other")).toBeNull(); // nothing compiled for it
    // A source saved after the build began: the sources run instead.
    utimesSync(path.join(root, "cli", "options.ts"), new Date(), new Date());
    expect(compiledEntry(root, "cli/main")).toBeNull();
    stamp(["cli/main.ts", "cli/options.ts"], Date.now() + 1000);
    expect(compiledEntry(root, "cli/main")).not.toBeNull();
    // A source the build compiled is gone: the build no longer matches the tree.
    rmSync(path.join(root, "cli", "options.ts"));
    expect(compiledEntry(root, "cli/main")).toBeNull();
    writeFileSync(path.join(root, "out", "build.json"), "{ half written");
    expect(compiledEntry(root, "cli/main")).toBeNull();
  });

  // `npm test` builds first, so there the build must be current; a bare `vitest run` after an edit may not have one.
  const underNpmTest = process.env.npm_lifecycle_event === "test";
  const current = compiledEntry(ROOT, "cli/main") !== null;
  if (!underNpmTest && !current)
    console.log("skipped: the bins run the sources: out/ is missing or older than the sources (npm test and npm run build make it)");
  it.skipIf(!underNpmTest && !current)("npm test's build is current, and the bins run it without tsx", () => {
    expect(compiledEntry(ROOT, "cli/main")).toBe(path.join(ROOT, "out", "cli", "main.js"));
    expect(compiledEntry(ROOT, "cli/credential-helper")).toBe(path.join(ROOT, "out", "cli", "credential-helper.js"));
    const probe = `
      const Module = require("node:module");
      const seen = [];
      const load = Module._load;
      Module._load = function (request, ...rest) { seen.push(request); return load.call(this, request, ...rest); };
      process.argv = [process.execPath, "intake", "--help"];
      process.exit = (code) => { process.stderr.write("\\nLOADED " + JSON.stringify(seen) + "\\n"); process.reallyExit(code); };
      require(${JSON.stringify(path.join(ROOT, "cli", "bin", "intake.js"))});`;
    const r = spawnSync(process.execPath, ["-e", probe], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Usage: intake");
    const seen = JSON.parse(/LOADED (.*)/.exec(r.stderr)![1]) as string[];
    expect(seen).toContain(path.join(ROOT, "out", "cli", "main.js"));
    // --help loads the commands' declarations only: no TypeScript loader, schema library, YAML parser or SDK.
    expect(seen.filter((m) => /^(tsx|zod|yaml|jose|pino|@aws-sdk|@azure|google-auth-library|@pulumi)/.test(m))).toEqual([]);
  });
});

describe("history", () => {
  // From this commit on, a commit's subject is under 72 characters and its body says why.
  const SINCE = "97f845114c62a005f042b168e4cb7d82fbdbfd35";
  it("every commit subject since the rule is under 72 characters", (ctx) => {
    const known = spawnSync("git", ["cat-file", "-e", `${SINCE}^{commit}`], { cwd: ROOT });
    if (known.status !== 0) {
      console.log(`skipped: ${ROOT} is no git checkout holding ${SINCE} (a shallow clone or an unpacked tarball)`);
      return ctx.skip();
    }
    const subjects = spawnSync("git", ["log", "--format=%s", `${SINCE}^..HEAD`], { cwd: ROOT, encoding: "utf8" })
      .stdout.split("\n")
      .filter(Boolean);
    expect(subjects.length).toBeGreaterThan(0);
    expect(subjects.filter((s) => s.length >= 72)).toEqual([]);
  });
});
