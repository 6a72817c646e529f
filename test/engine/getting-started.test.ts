// docs/getting-started.md, run as a newcomer runs it: every shell block (each carries a
// `<!-- getting-started: NAME -->` marker) in order, in one bash session, in a fresh clone of this
// repository: npm ci and a first plan, intake local-registry, a first pulumi up on the real engine
// with the local provider plugins, the registry, its broker and a first token, a first delivery,
// and the clean-up. The one change made to the blocks: the three loopback addresses the page uses
// (127.0.0.1:5000-5002) become free ports, so that a busy port never fails the run.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { e2eUnavailable, freePort } from "../../testing/e2e";
import { engineBinDir, engineUnavailable, ROOT } from "../../testing/engine";
import { tempDir } from "../../testing/tmp";

const PAGE = path.join(ROOT, "docs", "getting-started.md");

/** The page's shell blocks, by marker, in order. */
function blocks(): { name: string; text: string }[] {
  return [...readFileSync(PAGE, "utf8").matchAll(/<!-- getting-started: ([\w-]+) -->\n```sh\n([\s\S]*?)```/g)].map((m) => ({ name: m[1], text: m[2] }));
}

function missingTool(): string | undefined {
  for (const tool of ["jq", "curl", "git"]) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "pipe" });
    } catch {
      return `${tool} is not installed (apt-get install ${tool}; .ci/run does)`;
    }
  }
  return undefined;
}

const unavailable = engineUnavailable() ?? e2eUnavailable() ?? missingTool();
if (unavailable) console.log(`skipped: ${unavailable}`);

describe("docs/getting-started.md", () => {
  it("marks every shell block, and names each once", () => {
    const page = readFileSync(PAGE, "utf8");
    const shellBlocks = page.match(/^```sh$/gm) ?? [];
    const found = blocks();
    expect(found.length).toBe(shellBlocks.length);
    expect(found.map((b) => b.name)).toEqual(["plan", "local", "engine", "token", "deliver", "clean"]);
  });

  describe.skipIf(!!unavailable)("its blocks, in a fresh clone", () => {
    let pgid: number | undefined;
    afterAll(() => {
      // Whatever a failed run left running (the registries, the broker): its whole process group.
      if (pgid)
        try {
          process.kill(-pgid, "SIGKILL");
        } catch {
          /* gone already */
        }
    });

    it("reach a plan, an up, a broker token and a delivery, and clean up after themselves", async () => {
      const dir = tempDir("intake-getting-started-");
      const clone = path.join(dir, "registry-intake");
      execFileSync("git", ["clone", "--quiet", ROOT, clone]);
      const [registry, broker, source] = [await freePort(), await freePort(), await freePort()];
      let script = "set -euo pipefail\n";
      for (const b of blocks()) script += `echo "=== ${b.name}"\n${b.text}`;
      script = script
        .replace(/127\.0\.0\.1:5000/g, `127.0.0.1:${registry}`)
        .replace(/127\.0\.0\.1:5001/g, `127.0.0.1:${broker}`)
        .replace(/127\.0\.0\.1:5002/g, `127.0.0.1:${source}`)
        .replace(
          /^npx intake local-registry$/m,
          `npx intake local-registry --registry 127.0.0.1:${registry} --broker 127.0.0.1:${broker} --source-registry 127.0.0.1:${source}`,
        );
      writeFileSync(path.join(dir, "getting-started.sh"), script);
      const env = {
        ...process.env,
        // The engine this checkout built (engine.sh in the clone finds it on PATH and builds nothing).
        PATH: `${engineBinDir()}:${process.env.PATH}`,
        PULUMI_HOME: path.join(dir, "pulumi-home"),
        // Node's compile cache would land in the temp folder, which a run must leave empty.
        NODE_DISABLE_COMPILE_CACHE: "1",
        npm_config_cache: path.join(dir, "npm-cache"),
        npm_config_prefer_offline: "true",
        npm_config_audit: "false",
        npm_config_fund: "false",
      };
      const run = await new Promise<{ code: number; out: string }>((resolve) => {
        const child = spawn("bash", [path.join(dir, "getting-started.sh")], { cwd: clone, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
        pgid = child.pid;
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.stderr.on("data", (d) => (out += d));
        child.on("close", (code) => resolve({ code: code ?? -1, out }));
      });
      const section = (name: string) => run.out.split(`=== ${name}\n`)[1]?.split("\n=== ")[0] ?? "";
      expect(run.code, run.out.slice(-4000)).toBe(0);
      // A first plan: every customer of the default roster, offline.
      expect(section("plan")).toMatch(/acme/);
      // A first up on the engine, with the policy pack.
      expect(section("engine")).toMatch(/\+ \d+ created/);
      // The broker's token: pull and push on acme's own repository.
      const access = JSON.parse(section("token")) as { name: string; actions: string[] }[];
      expect(access).toEqual([{ type: "repository", name: "intake/acme/app", actions: ["pull", "push"] }]);
      // The delivery, listed with acme's own credential.
      expect(section("deliver")).toMatch(/1 targets in [\d.]+ s: 1 delivered/);
      const tags = JSON.parse(section("deliver").slice(section("deliver").indexOf("{"))) as { Tags: string[] };
      expect(tags.Tags).toEqual(expect.arrayContaining(["1.0.0", "latest"]));
      // The clean-up removed what the page made, and stopped what it started.
      expect(existsSync(path.join(clone, ".intake-local"))).toBe(false);
      expect(existsSync(path.join(clone, "Pulumi.local.yaml"))).toBe(false);
      expect(execFileSync("git", ["status", "--porcelain"], { cwd: clone, encoding: "utf8" })).toBe("");
    }, 900_000);
  });
});
