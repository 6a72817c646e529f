import { spawnSync } from "node:child_process";
import * as path from "node:path";

/** Run a bench script in a fresh Node process (tsx) and parse the JSON line it prints. */
export function runChild<T>(script: string, args: string[], timeoutMs = 300_000): T & { wallSeconds: number } {
  const t0 = performance.now();
  // A large roster under the SDK needs more than Node's default 4 GiB heap; this machine has 24 GiB.
  const r = spawnSync(process.execPath, ["--max-old-space-size=16384", "--import", "tsx", path.join(__dirname, script), ...args], {
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  const wallSeconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${script} ${args.join(" ")} failed (${r.status ?? r.signal}):\n${r.stderr}`);
  const line = r.stdout.trim().split("\n").pop()!;
  return { ...(JSON.parse(line) as T), wallSeconds };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}
