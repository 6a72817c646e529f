// A real PostgreSQL for the tests: Debian's server, started on a free loopback port with a
// temporary data folder, stopped by process group.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import * as path from "node:path";
import pg from "pg";
import { freePort } from "./e2e";
import { tempDir } from "./tmp";

/** The server's bin folder (the newest of /usr/lib/postgresql/<version>/bin), or why there is none. */
export function postgresBin(): { bin?: string; why?: string } {
  const root = "/usr/lib/postgresql";
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(path.join(root, v, "bin", "postgres")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) return { why: "PostgreSQL is not installed (apt-get install postgresql; .ci/run does)" };
  if (process.getuid?.() === 0 && spawnSync("id", ["postgres"]).status !== 0) return { why: "running as root with no postgres user to run the server as" };
  return { bin: path.join(root, versions[0], "bin") };
}

export interface RunningPostgres {
  url: (db: string) => string;
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
}

/** initdb into a temp folder, then the server on 127.0.0.1:<free port>, its own process group; trust auth for user intake. */
export async function startPostgres(): Promise<RunningPostgres> {
  const { bin, why } = postgresBin();
  if (!bin) throw new Error(why);
  // The server refuses to run as root: as root, it runs as the postgres user, in a folder it can
  // reach (the test run's own temp folder is private to root), removed when the server stops.
  const asRoot = process.getuid?.() === 0;
  const dir = asRoot ? mkdtempSync("/tmp/intake-pg-") : tempDir("pg-");
  if (asRoot) chmodSync(dir, 0o777);
  const cleanup = () => asRoot && rmSync(dir, { recursive: true, force: true });
  const cmd = (exe: string, args: string[]): [string, string[]] =>
    asRoot ? ["setpriv", ["--reuid=postgres", "--regid=postgres", "--clear-groups", path.join(bin, exe), ...args]] : [path.join(bin, exe), args];
  const data = path.join(dir, "data");
  const [initdb, initArgs] = cmd("initdb", ["-D", data, "-A", "trust", "-U", "intake", "--no-sync", "-E", "UTF8"]);
  const init = spawnSync(initdb, initArgs, { encoding: "utf8" });
  if (init.status !== 0) {
    cleanup();
    throw new Error(`initdb failed: ${init.stderr}`);
  }
  const port = await freePort();
  const [exe, args] = cmd("postgres", ["-D", data, "-h", "127.0.0.1", "-p", String(port), "-k", dir, "-c", "fsync=off", "-c", "max_connections=60"]);
  const child: ChildProcess = spawn(exe, args, { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const url = (db: string) => `postgres://intake@127.0.0.1:${port}/${db}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const c = new pg.Client({ connectionString: url("postgres") });
    try {
      await c.connect();
      await c.end();
      break;
    } catch {
      await c.end().catch(() => {});
      if (child.exitCode !== null || Date.now() > deadline) {
        try {
          process.kill(-child.pid!, "SIGKILL");
        } catch {
          /* gone */
        }
        cleanup();
        throw new Error(`postgres did not start on port ${port}: ${stderr.slice(-2000)}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: url("postgres") });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name}"`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        const done = () => {
          cleanup();
          resolve();
        };
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once("exit", done);
        // Fast shutdown of the whole group (the server and its workers).
        process.kill(-child.pid!, "SIGINT");
        setTimeout(() => {
          try {
            process.kill(-child.pid!, "SIGKILL");
          } catch {
            /* gone */
          }
        }, 5000).unref();
      }),
  };
}
