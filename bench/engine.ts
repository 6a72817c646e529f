import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { EngineProject, engineUnavailable, ok } from "../testing/engine";
import { rosterYaml } from "../testing/roster-gen";
import type { SuiteOptions } from "./run";

export const about = "pulumi preview of a 50-customer shard on the real engine beside intake plan of the same roster: wall and peak memory; option --customers";

/** Resident memory (bytes) of a process and all its descendants (plugins start in their own groups), summed. */
export function treeRss(root: number): number {
  const procs = new Map<number, { ppid: number; rss: number }>();
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      procs.set(Number(pid), { ppid: Number(fields[1]), rss: Number(fields[21]) * 4096 });
    } catch {
      /* gone */
    }
  }
  let total = 0;
  const pending = [root];
  while (pending.length) {
    const pid = pending.pop()!;
    total += procs.get(pid)?.rss ?? 0;
    for (const [child, p] of procs) if (p.ppid === pid) pending.push(child);
  }
  return total;
}

/** Run a command; wall seconds and the peak resident memory of its process tree. */
function measured(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv,
): Promise<{ seconds: number; peakBytes: number; code: number; out: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    let peak = 0;
    const timer = setInterval(() => (peak = Math.max(peak, treeRss(child.pid!))), 50);
    child.on("close", (code) => {
      clearInterval(timer);
      resolve({ seconds: (performance.now() - t0) / 1000, peakBytes: peak, code: code ?? -1, out });
    });
  });
}

/**
 * The same roster (a shard's worth of generated customers, every kind) planned two ways, in one
 * run: `intake plan` (the SDK's mock engine, in one process) and `pulumi preview` on the real
 * engine with the local provider plugins (CLI, language host, program, six plugins). Baseline:
 * the intake plan row.
 */
export async function run(opts: SuiteOptions): Promise<void> {
  const why = engineUnavailable();
  if (why) {
    console.log(`engine suite skipped: ${why}`);
    return;
  }
  const n = Number(opts.customers ?? 50);
  const p = new EngineProject();
  try {
    p.write("customers/roster.yaml", rosterYaml(n));
    await p.initStack("dev");
    // Warm-up, not measured: tsx and ts-node caches, the engine's first start.
    ok(await p.pulumi(["preview", "--stack", "dev"]), "warm-up preview");
    const plan = await measured(process.execPath, [`${p.dir}/cli/bin/intake.js`, "plan", "--project", p.dir, "--stack", "dev"], p.dir, p.env);
    const preview = await measured("pulumi", ["preview", "--stack", "dev"], p.dir, p.env);
    const policy = await measured("pulumi", ["preview", "--stack", "dev", "--policy-pack", "policy"], p.dir, p.env);
    for (const [what, r] of [
      ["intake plan", plan],
      ["pulumi preview", preview],
      ["pulumi preview --policy-pack", policy],
    ] as const) {
      if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.out.slice(-2000)}`);
    }
    const resources = /\+ (\d+) to create/.exec(preview.out)?.[1] ?? "?";
    console.log(
      `engine suite: ${n} generated customers (every kind), ${resources} resources, dev stack; peak = resident memory of the process and all its children, summed`,
    );
    console.log(["", "wall s", "vs plan", "peak MiB", "vs plan"].map((h, i) => (i ? h.padStart(10) : h.padEnd(30))).join(""));
    for (const [what, r] of [
      ["intake plan (mock engine)", plan],
      ["pulumi preview", preview],
      ["pulumi preview --policy-pack", policy],
    ] as const) {
      console.log(
        [
          what.padEnd(30),
          r.seconds.toFixed(1).padStart(10),
          `${(r.seconds / plan.seconds).toFixed(2)}x`.padStart(10),
          (r.peakBytes / 2 ** 20).toFixed(0).padStart(10),
          `${(r.peakBytes / plan.peakBytes).toFixed(2)}x`.padStart(10),
        ].join(""),
      );
    }
  } finally {
    p.remove();
  }
}
