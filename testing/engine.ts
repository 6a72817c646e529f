// The real Pulumi engine, offline: the CLI and language host built by scripts/engine.sh, the
// local provider plugins of tools/providers/bin, a file backend and a passphrase, in a scratch copy of
// the project (so `pulumi stack init` never writes into the working tree).
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { git, withBareRemote } from "./git";

export const ROOT = path.resolve(__dirname, "..");

/**
 * A build script of scripts/ that prints its folder as its last line, run once per process when
 * first asked: `unavailable()` says why it could not build (its last lines of stderr) or is
 * undefined, and then `dir()` is the folder.
 */
export function builtBy(script: string, what: string, timeoutMs: number): { unavailable: () => string | undefined; dir: () => string } {
  let result: { dir?: string; why?: string } | undefined;
  const run = () => {
    if (result) return result;
    const r = spawnSync("bash", [path.join(ROOT, "scripts", script)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: timeoutMs });
    const dir = r.stdout?.trim().split("\n").pop();
    result =
      r.status !== 0 || !dir
        ? { why: `scripts/${script} could not build ${what}: ${(r.stderr || r.error?.message || "").trim().split("\n").slice(-3).join(" | ")}` }
        : { dir };
    return result;
  };
  return {
    unavailable: () => run().why,
    dir: () => {
      const { dir } = run();
      if (!dir) throw new Error(`scripts/${script}: ask unavailable() first`);
      return dir;
    },
  };
}

/** The engine tests' Pulumi engine (scripts/engine.sh): why it cannot run here, or its folder. */
export const { unavailable: engineUnavailable, dir: engineBinDir } = builtBy("engine.sh", "the Pulumi engine", 30 * 60_000);

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Files of the project a stack needs: everything but dependencies, tests, benches and local state. */
const SKIP = new Set(["node_modules", ".git", ".tools", "test", "bench", "out", ".github"]);

/**
 * A scratch copy of the project with its own backend, PULUMI_HOME and fake cloud. `pulumi(...)`
 * runs the real CLI there; `remove()` deletes it all (the caller's afterAll). With a `cluster`,
 * Kubernetes is real: the Pulumi Kubernetes provider built by scripts/kube.sh (ahead of the local
 * stand-in on PATH) against that cluster's API server.
 */
export class EngineProject {
  readonly dir: string;
  readonly env: NodeJS.ProcessEnv;

  constructor(opts: { cluster?: { kubeconfig: string; binDir: string } } = {}) {
    this.dir = mkdtempSync(path.join(tmpdir(), "intake-engine-"));
    cpSync(ROOT, this.dir, { recursive: true, filter: (src) => src === ROOT || !SKIP.has(path.relative(ROOT, src).split(path.sep)[0]) });
    symlinkSync(path.join(ROOT, "node_modules"), path.join(this.dir, "node_modules"));
    const state = path.join(this.dir, ".state");
    mkdirSync(state);
    this.env = {
      ...process.env,
      PATH: [engineBinDir(), ...(opts.cluster ? [opts.cluster.binDir] : []), path.join(ROOT, "tools", "providers", "bin"), process.env.PATH].join(
        path.delimiter,
      ),
      ...(opts.cluster ? { KUBECONFIG: opts.cluster.kubeconfig } : {}),
      PULUMI_BACKEND_URL: `file://${state}`,
      PULUMI_CONFIG_PASSPHRASE: "engine-test-passphrase",
      PULUMI_SKIP_UPDATE_CHECK: "true",
      PULUMI_HOME: path.join(this.dir, ".pulumi-home"),
      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: "true",
      INTAKE_FAKE_CLOUD: path.join(this.dir, ".fake-cloud.json"),
      NO_COLOR: "1",
    };
  }

  file(rel: string): string {
    return path.join(this.dir, rel);
  }

  write(rel: string, text: string): void {
    writeFileSync(this.file(rel), text);
  }

  /** Run the real `pulumi` here; never throws, resolves with the exit code and output. */
  pulumi(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<Run> {
    return this.exec("pulumi", args, opts);
  }

  /** Run `intake` (this project's CLI) with this project's engine environment. */
  intake(args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
    return this.exec(process.execPath, [path.join(ROOT, "cli/bin/intake.js"), ...args], opts);
  }

  /** Run a shell line as a user would type it, here, with this project's engine environment. */
  shell(line: string, opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run> {
    return this.exec("bash", ["-euo", "pipefail", "-c", line], opts);
  }

  private exec(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string }): Promise<Run> {
    return new Promise((resolve) => {
      const child = spawn(cmd, args, { cwd: opts.cwd ?? this.dir, env: { ...this.env, ...opts.env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d) => (stdout += d));
      child.stderr.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => {
        stderr += `\n[killed after ${opts.timeoutMs ?? 300_000} ms]`;
        if (child.pid) process.kill(-child.pid, "SIGKILL");
      }, opts.timeoutMs ?? 300_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
  }

  /** `pulumi stack init` and the secrets an environment sets itself (the stack files hold none). */
  async initStack(stack: string): Promise<void> {
    const steps = [
      ["stack", "init", stack],
      ["config", "set", "--secret", "github:token", "ghp_engine_test_provider_token", "-s", stack],
      ["config", "set", "--secret", "--path", "registry-intake:ghcr.machineUserTokens.acme", "ghp_engine_test_acme_pat", "-s", stack],
    ];
    for (const args of steps) {
      const r = await this.pulumi(args);
      if (r.code !== 0) throw new Error(`pulumi ${args.join(" ")} failed (${r.code}): ${r.stderr}${r.stdout}`);
    }
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Fail with the engine's own words when a command did not succeed. */
export function ok(r: Run, what: string): Run {
  if (r.code === 0) return r;
  // The engine's error lines first: a long output's tail is often the outputs' diff, not the cause.
  const errors = r.stdout
    .split("\n")
    .filter((l) => /\berror\b/.test(l))
    .slice(0, 20);
  throw new Error(`${what} exited ${r.code}:\n${errors.length ? `${errors.join("\n")}\n...\n` : ""}${r.stdout.slice(-4000)}\n${r.stderr.slice(-4000)}`);
}

/**
 * Make the scratch project the roster repository's clone (a bare remote beside it) with git
 * holding the roster (`onboarding.git` on the dev stack); init dev and commit its settings as a
 * user would; CI's first `pulumi up`. Returns the remote's folder.
 */
export async function rosterRepository(p: EngineProject): Promise<string> {
  // Its local state is not the roster's.
  appendFileSync(p.file(".gitignore"), "/node_modules\n/.state/\n/.pulumi-home/\n/.fake-cloud.json\n/.intake/\n");
  appendFileSync(p.file("Pulumi.dev.yaml"), "  registry-intake:onboarding:\n    git: { remote: origin, branch: main }\n    apply: self\n");
  const remote = withBareRemote(p.dir);
  await p.initStack("dev");
  git(p.dir, "add", "-A");
  git(p.dir, "commit", "--quiet", "-m", "stack dev");
  git(p.dir, "push", "--quiet", "origin", "main");
  ok(await p.pulumi(["up", "--yes", "--policy-pack", "policy", "--stack", "dev"]), "CI's first pulumi up");
  return remote;
}

/** `pulumi preview --expect-no-changes` of dev from a fresh clone of the roster branch, as CI's up.yml would start; the clone is removed. */
export async function freshClonePreview(p: EngineProject, remote: string): Promise<Run> {
  const fresh = mkdtempSync(path.join(tmpdir(), "intake-fresh-clone-"));
  try {
    git(fresh, "clone", "--quiet", `file://${remote}`, ".");
    symlinkSync(path.join(ROOT, "node_modules"), path.join(fresh, "node_modules"));
    return await p.pulumi(["preview", "--expect-no-changes", "--policy-pack", "policy", "--stack", "dev"], { cwd: fresh });
  } finally {
    rmSync(fresh, { recursive: true, force: true });
  }
}
