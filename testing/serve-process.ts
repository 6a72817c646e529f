// `intake serve` as users start it: the built bin as a process of its own, its port read from the
// line it prints once it listens.
import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");

export interface ServeProcess {
  child: ChildProcess;
  port: number;
  /** Everything it printed on stderr so far (its start line and JSON log). */
  log(): string;
}

/** Starts `intake serve ARGS` (add `--listen 127.0.0.1:0`) and resolves once it listens; `detached` gives it a process group of its own. */
export function serveProcess(args: string[], o: { cwd?: string; env?: NodeJS.ProcessEnv; detached?: boolean } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, "cli/bin/intake.js"), "serve", ...args], {
    cwd: o.cwd,
    env: o.env ?? process.env,
    stdio: ["ignore", "ignore", "pipe"],
    detached: o.detached,
  });
  let log = "";
  return new Promise((resolve, reject) => {
    child.stderr!.on("data", (d) => {
      log += d;
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)\/v1/.exec(log);
      if (m) resolve({ child, port: Number(m[1]), log: () => log });
    });
    child.once("exit", () => reject(new Error(`intake serve exited: ${log}`)));
  });
}
