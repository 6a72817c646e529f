import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { totalmem } from "node:os";
import * as path from "node:path";

/**
 * Heap limit for bench children: a 5,000-customer roster under the SDK needs more than Node's
 * default (about 4 GiB); three quarters of this machine's memory, at most 16 GiB.
 */
export const CHILD_HEAP_MIB = Math.min(16_384, Math.floor((totalmem() / 2 ** 20) * 0.75));

/** Run a bench script in a fresh Node process (tsx) and parse the last line it prints as JSON. */
export function runChild<T>(script: string, args: string[], timeoutMs = 300_000): T & { wallSeconds: number } {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [`--max-old-space-size=${CHILD_HEAP_MIB}`, "--import", "tsx", path.join(__dirname, script), ...args], {
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  if (r.error) throw new Error(`${script} ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${script} ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  const line = r.stdout.trim().split("\n").pop() ?? "";
  return { ...(JSON.parse(line) as T), wallSeconds };
}

/** The middle value (the upper one of the two middles for an even count). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export interface TreeMeasure {
  wallSeconds: number;
  /** The largest resident memory any one process of the tree reached, KiB (sampled every 50 ms). */
  peakProcessKiB: number;
  /** The largest sum over the tree at one sample, KiB. */
  peakTotalKiB: number;
  /** Processes seen in the tree. */
  processes: number;
  stdout: string;
}

export interface ProcStat {
  /** Process group. */
  pgrp: number;
  /** CPU time in user and kernel mode, clock ticks (CLK_TCK a second), all threads. */
  utime: number;
  stime: number;
  /** Resident set, KiB (4 KiB pages). */
  rssKiB: number;
}

/** One process's /proc/<pid>/stat, or undefined when it has ended. */
export function procStat(pid: number): ProcStat | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined; // the process ended between the listing and the read
  }
  // After the command name: fields[0] is the state (field 3 of proc(5)), so field N is fields[N - 3].
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { pgrp: Number(fields[2]), utime: Number(fields[11]), stime: Number(fields[12]), rssKiB: Number(fields[21]) * 4 };
}

/**
 * Run a command in its own process group and sample the resident memory of every process in
 * the group from /proc until it ends: the peak of the largest process and of the whole tree.
 */
export function runTree(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; onSpawn?: (child: ChildProcess) => void } = {},
): Promise<TreeMeasure> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    opts.onSpawn?.(child);
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const seen = new Set<number>();
    let peakProcessKiB = 0;
    let peakTotalKiB = 0;
    const sample = () => {
      let total = 0;
      for (const name of readdirSync("/proc")) {
        if (!/^\d+$/.test(name)) continue;
        const stat = procStat(Number(name));
        if (!stat || stat.pgrp !== child.pid) continue;
        seen.add(Number(name));
        total += stat.rssKiB;
        peakProcessKiB = Math.max(peakProcessKiB, stat.rssKiB);
      }
      peakTotalKiB = Math.max(peakTotalKiB, total);
    };
    const timer = setInterval(sample, 50);
    const limit = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), opts.timeoutMs ?? 20 * 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearInterval(timer);
      clearTimeout(limit);
      const wallSeconds = (performance.now() - t0) / 1000;
      if (code !== 0) reject(new Error(`${cmd} ${args.join(" ")} exited ${code}:\n${stderr}`));
      else resolve({ wallSeconds, peakProcessKiB, peakTotalKiB, processes: seen.size, stdout });
    });
  });
}
