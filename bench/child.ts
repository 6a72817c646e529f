import { spawnSync } from "node:child_process";
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
