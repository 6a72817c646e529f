import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import * as path from "node:path";
import bcrypt from "bcrypt";
import { freePort, makeKeyPair } from "../testing/e2e";
import { load, type LoadResult } from "./broker";
import { CHILD_HEAP_MIB, procStat, runChild, runTree, type TreeMeasure } from "./child";
import type { Robot, ScaleChild } from "./scale-child";
import { rosterYaml } from "../testing/roster-gen";
import { K8S_DATA_LIMIT, withStatus } from "../testing/scale-docs";
import type { SuiteOptions } from "./run";

export const about =
  "10,000 / 30,000 / 100,000 customers, ~100 per shard: roster read, shard assignment, what the broker mounts, the broker on plain and Kubernetes-style folders, `intake shards --base`, one shard's plan (--sizes, --per-shard)";

const ROOT = path.resolve(__dirname, "..");
const BIN = path.join(ROOT, "cli", "bin", "intake.js");
/** Every robot's password: the access list holds one bcrypt hash of it for every robot. */
const PASSWORD = "scale-bench-robot-password";
/** random.RandomPassword's bcryptHash uses Go's bcrypt.DefaultCost (as bench/broker.ts says). */
const BCRYPT_COST = 10;
/** The broker looks at every source on one timer, every 250 ms (runtime/broker/store.ts, watchIntervalMs). */
const WATCH_INTERVAL_MS = 250;
const LOOKS_PER_SECOND = 1000 / WATCH_INTERVAL_MS;
const IDLE_SECONDS = 5;
const CONNECTIONS = 8;
const WARM_REQUESTS = 2000;
/** A reload a user waits for should be served within this (the reload rows are checked against it). */
const RELOAD_TARGET_S = 1;
/** How long a reload may take before the row gives up (and says so). */
const RELOAD_LIMIT_MS = 5 * 60_000;
const CHILD_TIMEOUT_MS = 15 * 60_000;
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
/** strace, where installed: the idle rows count the broker's system calls with it. */
const STRACE = (() => {
  try {
    return execFileSync("sh", ["-c", "command -v strace"], { encoding: "utf8" }).trim() || undefined;
  } catch {
    return undefined;
  }
})();

type ReloadKind = "access-list part" | "roster part";

interface Reload {
  /** From the change (the rename that makes it visible) to the first token that shows it. */
  servedSeconds: number;
  /** From the change to the broker's own log line of the reload (the last one). */
  loggedSeconds: number;
  /** The slowest token request while it reloaded: the event loop was busy that long. */
  stallSeconds: number;
  /** Parts the broker logged as reloaded (parsed again) for it: one is the design. */
  partReloads: number;
  /** Broker CPU from the change to the end of the row (the reload and a few idle looks). */
  cpuSeconds: number;
  timedOut: boolean;
}

interface Idle {
  /** CPU with no requests, the timer looking at both folders. */
  cpuPercent: number;
  /** Measured with strace -c -f (undefined without strace): system calls a second, all but the event loop's waits. */
  syscallsPerSecond?: number;
  /** stat-family calls (statx, newfstatat, stat, lstat, fstat) a second, measured. */
  statsPerSecond?: number;
  readlinksPerSecond?: number;
  /** The busiest calls, for the notes. */
  top?: string;
  /** stat-family calls a second the code makes by its reading (runtime/broker/store.ts Parts.look). */
  estimatedStatsPerSecond: number;
}

interface BrokerRun {
  startSeconds: number;
  rssAfterStartKiB: number;
  peakRssKiB: number;
  idle: Idle;
}

interface BrokerMeasure {
  /** acl/ and roster/ as plain folders of files (a part replaced by an atomic rename). */
  files: BrokerRun & { cold: LoadResult; warm: LoadResult; robotReload: Reload; rosterReload: Reload };
  /** acl/ and roster/ as Kubernetes mounts projected volumes (files are links into ..data, an update swaps ..data). */
  kubelet: BrokerRun & { robotSwap: Reload; rosterSwap: Reload };
}

interface CliMeasure {
  seconds: number;
  peakRssKiB: number;
  stacks: string[];
  /** The same command, same shard count, on a 100-customer roster: what the shard count costs alone. */
  smallRosterSeconds: number;
}

interface Row {
  child: ScaleChild & { wallSeconds: number };
  broker: BrokerMeasure;
  shardsCli: CliMeasure;
}

/**
 * Issue 21: what breaks first on the way to 100,000 customers. Per roster size (generated,
 * ~--per-shard customers a shard, shard.count capped at 1000 as the settings schema caps it), in
 * this run, each figure beside the first size's: the roster read, shard assignment, what the
 * program would mount into the broker (against Kubernetes' 1 MiB), the broker as users run it on
 * the access-list and roster folders (start, memory, idle CPU and system calls, token latency,
 * reloads; on plain folders and on folders laid out as Kubernetes mounts projected volumes),
 * `intake shards --base` for one change, and the plan of one shard stack. Bounded: the broker's
 * token rows use 64 robots (each first login is a bcrypt check at cost 10, ~0.1 s on one
 * thread).
 */
export async function run(opts: SuiteOptions = {}): Promise<void> {
  const sizes = (opts.sizes ?? "10000,30000,100000").split(",").map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--sizes: positive integers, comma-separated (got ${opts.sizes})`);
  const perShard = Number(opts["per-shard"] ?? 100);
  if (!(perShard >= 1)) throw new Error(`--per-shard: a positive number (got ${opts["per-shard"]})`);
  const started = performance.now();
  const loadBefore = loadavg();
  const scratch = mkdtempSync(path.join(tmpdir(), "scale-bench-"));
  const rows: Row[] = [];
  try {
    const pair = makeKeyPair(scratch);
    const hash = await bcrypt.hash(PASSWORD, BCRYPT_COST);
    for (const n of sizes) {
      const dir = path.join(scratch, String(n));
      mkdirSync(dir);
      step(`${n} customers: roster, shards, mounted documents, one shard's plan (child process)`);
      const child = runChild<ScaleChild>("scale-child.ts", [String(n), String(perShard), dir, hash], CHILD_TIMEOUT_MS);
      done(`${child.wallSeconds.toFixed(1)} s`);
      // The Kubernetes layout is made from the documents as written, before the plain rows change them.
      const kube = path.join(dir, "kube");
      kubeletLayout(path.join(dir, "acl"), path.join(kube, "acl"));
      kubeletLayout(path.join(dir, "roster"), path.join(kube, "roster"));
      step(`${n} customers: intake broker on acl/ (${child.parts} parts) and roster/ (${child.rosterParts} parts), plain folders`);
      const files = await measureFiles(dir, child, pair);
      done(`started in ${files.startSeconds.toFixed(2)} s`);
      step(`${n} customers: intake broker on the same folders laid out as Kubernetes projected volumes (..data)`);
      const kubelet = await measureKubelet(kube, child, pair);
      done(`started in ${kubelet.startSeconds.toFixed(2)} s`);
      step(`${n} customers: intake shards --base`);
      const shardsCli = await measureShardsCli(dir, child);
      done(`${shardsCli.seconds.toFixed(2)} s`);
      rows.push({ child, broker: { files, kubelet }, shardsCli });
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const loadAfter = loadavg();
  const built = require(path.join(ROOT, "cli", "bin", "compiled.js")).compiledEntry(ROOT, "cli/main")
    ? "the compiled build (out/)"
    : "the sources through tsx (no current `npm run build`)";
  const verdicts = report(rows, perShard, built);
  const suiteSeconds = (performance.now() - started) / 1000;
  console.log(
    `load average (1, 5, 15 min) before: ${loadBefore.map((x) => x.toFixed(2)).join(", ")}; after: ${loadAfter.map((x) => x.toFixed(2)).join(", ")}; ${cpus().length} cores`,
  );
  console.log(`suite took ${suiteSeconds.toFixed(0)} s`);

  const dir = path.join(__dirname, "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "scale.json");
  const env = {
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    childHeapMiB: CHILD_HEAP_MIB,
    loadBefore,
    loadAfter,
    bin: built,
    strace: STRACE ?? null,
  };
  const raw = rows.map((r) => ({ ...r, child: { ...r.child, broker: { ...r.child.broker, pool: r.child.broker.pool.length } } }));
  writeFileSync(file, JSON.stringify({ measuredAt: new Date().toISOString(), env, perShard, suiteSeconds, rows: raw, verdicts }, null, 2) + "\n");
  console.log(`raw figures: ${path.relative(process.cwd(), file)}`);
}

function step(what: string): void {
  process.stderr.write(`  ${what} ...`);
}

function done(what: string): void {
  process.stderr.write(` ${what}\n`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const basic = (user: string) => `Basic ${Buffer.from(`${user}:${PASSWORD}`).toString("base64")}`;

/** The access a token grants (its JWT payload's `access`). */
async function grantedAccess(url: string, auth: string): Promise<unknown[]> {
  const res = await fetch(url, { headers: { authorization: auth }, signal: AbortSignal.timeout(RELOAD_LIMIT_MS) });
  const body = (await res.json()) as { token?: string };
  if (res.status !== 200 || !body.token) throw new Error(`token request answered ${res.status}`);
  return (JSON.parse(Buffer.from(body.token.split(".")[1], "base64url").toString("utf8")) as { access: unknown[] }).access;
}

/** An access-list part with one robot's entry disabled, written as the program writes it (compact JSON). */
function disabled(text: string, username: string): string {
  const acl = JSON.parse(text) as { entries: { username: string; enabled: boolean }[] };
  const entry = acl.entries.find((e) => e.username === username);
  if (!entry) throw new Error(`no robot ${username} in this part`);
  entry.enabled = false;
  return JSON.stringify(acl);
}

/** A roster part with one customer suspended. */
const suspended = (id: string) => (text: string) => withStatus(text, id, "suspended");

/** A change as it becomes visible: `prepare` writes what is needed unseen, `apply` is the one rename that shows it, `cleanup` what follows. */
interface Change {
  prepare: () => void;
  apply: () => void;
  cleanup?: () => void;
}

/** Replace a file by an atomic rename (a hidden temporary name, which the broker's folder listing skips). */
function replaceFile(file: string, edit: (text: string) => string): Change {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  return { prepare: () => writeFileSync(tmp, edit(readFileSync(file, "utf8"))), apply: () => renameSync(tmp, file) };
}

/** A folder of files laid out as kubelet writes a projected volume: the data in `..v1`, `..data` a link to it, each file a link `f -> ..data/f`. */
function kubeletLayout(from: string, to: string): void {
  const files = readdirSync(from);
  mkdirSync(path.join(to, "..v1"), { recursive: true });
  for (const f of files) copyFileSync(path.join(from, f), path.join(to, "..v1", f));
  symlinkSync("..v1", path.join(to, "..data"));
  for (const f of files) symlinkSync(`..data/${f}`, path.join(to, f));
}

/** kubelet's update of a projected volume: a new folder of every file (`file` edited), `..data` swapped to it by a rename, the old folder removed. */
function kubeletSwap(dir: string, file: string, edit: (text: string) => string): Change {
  const from = readlinkSync(path.join(dir, "..data"));
  const to = `..v${Number(from.slice(3)) + 1}`;
  return {
    prepare: () => {
      mkdirSync(path.join(dir, to));
      for (const f of readdirSync(path.join(dir, from))) {
        if (f === file) writeFileSync(path.join(dir, to, f), edit(readFileSync(path.join(dir, from, f), "utf8")));
        else copyFileSync(path.join(dir, from, f), path.join(dir, to, f));
      }
      symlinkSync(to, path.join(dir, "..data_tmp"));
    },
    apply: () => renameSync(path.join(dir, "..data_tmp"), path.join(dir, "..data")),
    cleanup: () => rmSync(path.join(dir, from), { recursive: true, force: true }),
  };
}

function cpuTicks(pid: number): number {
  const s = procStat(pid);
  if (!s) throw new Error(`the broker (pid ${pid}) is gone`);
  return s.utime + s.stime;
}

interface Broker {
  base: string;
  pid: number;
  /** The reloads it logged (pino, one JSON object a line), with its own clock. */
  reloads: { time: number; source: string }[];
  startSeconds: number;
  rssAfterStartKiB: number;
  /** SIGTERM, then the peak resident memory of its process. */
  stop(): Promise<number>;
  kill(): void;
}

/** `intake broker --acl <folder> --roster <folder>` as users run it; resolves once /healthz answers. */
async function startBroker(acl: string, roster: string, c: ScaleChild, pair: { key: string; cert: string }): Promise<Broker> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const reloads: { time: number; source: string }[] = [];
  let pending = "";
  const args = [
    BIN,
    "broker",
    "--acl",
    acl,
    "--roster",
    roster,
    "--listen",
    `127.0.0.1:${port}`,
    "--key",
    pair.key,
    "--cert",
    pair.cert,
    "--service",
    c.broker.service,
    "--issuer",
    c.broker.issuer,
    "--stack",
    "prod",
    "--project",
    ROOT,
  ];
  const t0 = performance.now();
  const tree = runTree(process.execPath, args, {
    cwd: ROOT,
    timeoutMs: 30 * 60_000,
    onSpawn: (ch) => {
      child = ch;
      ch.stdout!.on("data", (d: Buffer) => {
        const lines = (pending + d.toString("utf8")).split("\n");
        pending = lines.pop()!;
        for (const line of lines) {
          if (!line.includes('"event":"reload"')) continue;
          const { time, source } = JSON.parse(line) as { time: number; source: string };
          reloads.push({ time, source });
        }
      });
    },
  });
  let exited: Error | undefined;
  tree.catch((e: Error) => (exited = e));
  const pid = child!.pid!;
  const kill = () => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  try {
    for (;;) {
      if (exited) throw exited;
      if (performance.now() - t0 > RELOAD_LIMIT_MS) throw new Error("the broker did not answer within 5 minutes");
      const ok = await fetch(`${base}/healthz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await sleep(20);
    }
  } catch (e) {
    kill();
    throw e;
  }
  const startSeconds = (performance.now() - t0) / 1000;
  return {
    base,
    pid,
    reloads,
    startSeconds,
    rssAfterStartKiB: procStat(pid)!.rssKiB,
    kill,
    stop: async () => {
      process.kill(-pid, "SIGTERM");
      const stopped = await Promise.race([
        tree.then(
          (m) => m,
          () => undefined,
        ),
        sleep(30_000).then(() => undefined),
      ]);
      return (stopped as TreeMeasure | undefined)?.peakProcessKiB ?? NaN;
    },
  };
}

/**
 * The broker at rest: its CPU over IDLE_SECONDS, then (where strace is installed) its system
 * calls over as long again, counted by `strace -c -f -p` (not during the CPU window: tracing
 * slows it). `estimatedStats`: what the code's looks should cost in stat-family calls a second.
 */
async function measureIdle(pid: number, estimatedStatsPerSecond: number): Promise<Idle> {
  const idle0 = cpuTicks(pid);
  const i0 = performance.now();
  await sleep(IDLE_SECONDS * 1000);
  const cpuPercent = ((cpuTicks(pid) - idle0) / CLK_TCK / ((performance.now() - i0) / 1000)) * 100;
  const calls = STRACE ? await countSyscalls(pid, IDLE_SECONDS) : undefined;
  if (!calls) return { cpuPercent, estimatedStatsPerSecond };
  const per = (names: string[]) => names.reduce((s, n) => s + (calls.counts.get(n) ?? 0), 0) / calls.seconds;
  const waits = ["epoll_wait", "epoll_pwait", "epoll_pwait2", "futex"];
  const all = [...calls.counts.keys()].filter((n) => !waits.includes(n));
  const top = [...calls.counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([n, k]) => `${n} ${(k / calls.seconds).toFixed(0)}/s`)
    .join(", ");
  return {
    cpuPercent,
    syscallsPerSecond: per(all),
    statsPerSecond: per(["statx", "newfstatat", "stat", "lstat", "fstat"]),
    readlinksPerSecond: per(["readlink", "readlinkat"]),
    top,
    estimatedStatsPerSecond,
  };
}

/** `strace -c -f -p PID` for `seconds` (from when it has attached): calls by name, or undefined if it could not attach. */
async function countSyscalls(pid: number, seconds: number): Promise<{ counts: Map<string, number>; seconds: number } | undefined> {
  const out = path.join(tmpdir(), `scale-bench-strace-${pid}-${Date.now()}.txt`);
  const st = spawn(STRACE!, ["-c", "-f", "-o", out, "-p", String(pid)], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  const attached = new Promise<boolean>((resolve) => {
    st.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString("utf8");
      if (/attached/.test(stderr)) resolve(true);
    });
    st.on("exit", () => resolve(false));
    st.on("error", () => resolve(false));
  });
  const exited = new Promise<void>((resolve) => st.on("close", () => resolve()));
  if (!(await Promise.race([attached, sleep(10_000).then(() => false)]))) {
    st.kill("SIGKILL");
    return undefined;
  }
  const t0 = performance.now();
  await sleep(seconds * 1000);
  st.kill("SIGINT");
  const elapsed = (performance.now() - t0) / 1000;
  await Promise.race([exited, sleep(10_000)]);
  let text: string;
  try {
    text = readFileSync(out, "utf8");
  } catch {
    return undefined;
  } finally {
    rmSync(out, { force: true });
  }
  // % time, seconds, usecs/call, calls, [errors,] syscall
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    const t = line.trim().split(/\s+/);
    if (t.length < 5 || !/^\d/.test(t[0]) || t[t.length - 1] === "total") continue;
    counts.set(t[t.length - 1], Number(t[3]));
  }
  return { counts, seconds: elapsed };
}

/** Files in a folder (not hidden): what one look of a plain folder stats. */
const visibleFiles = (dir: string) => readdirSync(dir).filter((f) => !f.startsWith(".")).length;

/**
 * The broker on plain folders (a broker run outside Kubernetes, or a volume without ..data): a
 * look stats the folder and every file of it. Start, memory, idle, tokens, and a reload after one
 * part replaced by an atomic rename: one robot disabled in its access-list part, one customer
 * suspended in its roster part.
 */
async function measureFiles(dir: string, c: ScaleChild, pair: { key: string; cert: string }): Promise<BrokerMeasure["files"]> {
  const acl = path.join(dir, "acl");
  const roster = path.join(dir, "roster");
  const b = await startBroker(acl, roster, c, pair);
  try {
    // A look: per folder, a readlink of ..data (absent), a stat of the folder, a listing, a stat of every file.
    const idle = await measureIdle(b.pid, LOOKS_PER_SECOND * (visibleFiles(acl) + 1 + visibleFiles(roster) + 1));
    // Tokens: each robot's first login is a bcrypt check (one at a time on 2 cores); after
    // that the broker serves it from memory, and a request costs lookups and a signature.
    const targets = c.broker.pool.map((r) => ({ url: `${b.base}${r.path}`, auth: basic(r.username).slice("Basic ".length) }));
    const cold = await load({ url: b.base, connections: CONNECTIONS, seconds: 0, targets, requests: targets.length });
    const warm = await load({ url: b.base, connections: CONNECTIONS, seconds: 0, targets, requests: WARM_REQUESTS });
    if (cold.errors || warm.errors) throw new Error(`token requests failed: ${JSON.stringify({ cold: cold.statuses, warm: warm.statuses })}`);
    const robot = c.broker.robotChange;
    const robotReload = await reloadAfter(
      b,
      robot,
      replaceFile(path.join(acl, robot.file), (t) => disabled(t, robot.username)),
      "access-list part",
    );
    const customer = c.broker.rosterChange;
    const rosterReload = await reloadAfter(b, customer, replaceFile(path.join(roster, customer.rosterFile), suspended(customer.id)), "roster part");
    const peakRssKiB = await b.stop();
    return { startSeconds: b.startSeconds, rssAfterStartKiB: b.rssAfterStartKiB, peakRssKiB, idle, cold, warm, robotReload, rosterReload };
  } finally {
    b.kill();
  }
}

/**
 * The broker on folders laid out as kubelet mounts the Deployment's two projected volumes (acl,
 * roster): a look is a readlink of ..data and a stat of the folder, until ..data moves. An update
 * swaps ..data to a new folder of every file: every file has a new inode and is read again, and
 * only the one whose text changed is parsed. One robot disabled, then one customer suspended.
 */
async function measureKubelet(kube: string, c: ScaleChild, pair: { key: string; cert: string }): Promise<BrokerMeasure["kubelet"]> {
  const acl = path.join(kube, "acl");
  const roster = path.join(kube, "roster");
  const b = await startBroker(acl, roster, c, pair);
  try {
    const idle = await measureIdle(b.pid, LOOKS_PER_SECOND * 2);
    const robot = c.broker.swapChange;
    const robotSwap = await reloadAfter(
      b,
      robot,
      kubeletSwap(acl, robot.file, (t) => disabled(t, robot.username)),
      "access-list part",
    );
    const customer = c.broker.rosterSwapChange;
    const rosterSwap = await reloadAfter(b, customer, kubeletSwap(roster, customer.rosterFile, suspended(customer.id)), "roster part");
    const peakRssKiB = await b.stop();
    return { startSeconds: b.startSeconds, rssAfterStartKiB: b.rssAfterStartKiB, peakRssKiB, idle, robotSwap, rosterSwap };
  } finally {
    b.kill();
  }
}

/**
 * Make a change the robot's next token must show (its access empty): prepared unseen, then made
 * visible by one rename, the clock starting there. A token is polled every 10 ms until it shows
 * the change and the broker has logged a reload of `kind`; then two more looks, to count every
 * part it parsed again for it.
 */
async function reloadAfter(b: Broker, robot: Robot, change: Change, kind: ReloadKind): Promise<Reload> {
  const url = `${b.base}${robot.path}`;
  const auth = basic(robot.username);
  if ((await grantedAccess(url, auth)).length === 0) throw new Error(`${robot.id}: granted nothing before the change`);
  change.prepare();
  await sleep(2 * WATCH_INTERVAL_MS);
  const seen = b.reloads.length;
  const cpu0 = cpuTicks(b.pid);
  const changedAt = Date.now();
  const t0 = performance.now();
  change.apply();
  let servedSeconds = NaN;
  let stall = 0;
  let timedOut = false;
  const mine = () => b.reloads.slice(seen).filter((r) => r.source.startsWith(kind));
  for (;;) {
    if (performance.now() - t0 > RELOAD_LIMIT_MS) {
      timedOut = true;
      break;
    }
    if (Number.isNaN(servedSeconds)) {
      const q = performance.now();
      const access = await grantedAccess(url, auth);
      stall = Math.max(stall, performance.now() - q);
      if (access.length === 0) servedSeconds = (performance.now() - t0) / 1000;
    }
    if (!Number.isNaN(servedSeconds) && mine().length > 0) break;
    await sleep(10);
  }
  await sleep(2 * WATCH_INTERVAL_MS + 100); // any further reload of it, and its log line still in the pipe
  const cpuSeconds = (cpuTicks(b.pid) - cpu0) / CLK_TCK;
  change.cleanup?.();
  const logged = mine();
  const loggedSeconds = logged.length ? (Math.max(...logged.map((r) => r.time)) - changedAt) / 1000 : NaN;
  return { servedSeconds, loggedSeconds, stallSeconds: stall / 1000, partReloads: logged.length, cpuSeconds, timedOut };
}

/** `intake shards --stack prod --base HEAD~1 --json` in a throwaway project where one customer was suspended. */
async function measureShardsCli(dir: string, c: ScaleChild): Promise<CliMeasure> {
  const project = path.join(dir, "project");
  mkdirSync(path.join(project, "customers"), { recursive: true });
  copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
  writeFileSync(
    path.join(project, "Pulumi.prod.yaml"),
    `${readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8").trimEnd()}\n  registry-intake:shard:\n    count: ${c.shards}\n`,
  );
  const rosterFile = path.join(project, "customers", "roster.yaml");
  // The roster as the project's repository holds it (the broker rows changed only their own copies).
  const original = readFileSync(path.join(dir, "project-roster.yaml"), "utf8");
  writeFileSync(rosterFile, original);
  const git = (...a: string[]) =>
    execFileSync("git", ["-c", "user.name=scale bench", "-c", "user.email=bench@example.invalid", "-c", "commit.gpgsign=false", ...a], {
      cwd: project,
      stdio: "pipe",
    });
  git("init", "-q");
  git("add", "-A");
  git("commit", "-q", "-m", "roster");
  writeFileSync(rosterFile, withStatus(original, c.broker.rosterChange.id, "suspended"));
  git("commit", "-q", "-am", `suspend ${c.broker.rosterChange.id}`);
  const shards = async (customer: string) => {
    const m = await runTree(process.execPath, [BIN, "shards", "--stack", "prod", "--base", "HEAD~1", "--json"], { cwd: project, timeoutMs: CHILD_TIMEOUT_MS });
    const out = JSON.parse(m.stdout.trim().split("\n").pop()!) as { stacks: string[]; customers: string[] };
    if (out.customers.join() !== customer) throw new Error(`intake shards --base: expected customer ${customer} changed, got ${JSON.stringify(out)}`);
    return { m, out };
  };
  const { m, out } = await shards(c.broker.rosterChange.id);
  if (!out.stacks.includes(c.plan.stack)) throw new Error(`intake shards --base: expected stack ${c.plan.stack} touched, got ${out.stacks.join(", ")}`);
  // The control: the same shard count, a roster of 100 (cust-00001 is active), one customer suspended.
  writeFileSync(rosterFile, rosterYaml(100));
  git("commit", "-q", "-am", "a small roster");
  writeFileSync(rosterFile, withStatus(rosterYaml(100), "cust-00001", "suspended"));
  git("commit", "-q", "-am", "suspend cust-00001");
  const small = await shards("cust-00001");
  return { seconds: m.wallSeconds, peakRssKiB: m.peakProcessKiB, stacks: out.stacks, smallRosterSeconds: small.m.wallSeconds };
}

// ---------------------------------------------------------------- report

type Expect = "flat" | "linear";

interface Column {
  name: string;
  value: (r: Row) => number;
  format: (v: number) => string;
  /** How it should grow with the roster; growing faster is called out. */
  expect: Expect;
  /** A hard limit it must stay under. */
  limit?: { value: number; what: string };
  /** Which object a row's value is (named in a hard-limit verdict). */
  label?: (r: Row) => string;
  /** Below this at the largest size, growth is not judged (timer and load noise). */
  floor?: number;
}

interface Verdict {
  measure: string;
  column: string;
  kind: "worse than linear" | "grows where it should stay flat" | "hard limit";
  text: string;
}

const int = (v: number) => Math.round(v).toLocaleString("en-US");
const secs = (v: number) => (Number.isNaN(v) ? "n/a" : v < 0.1 ? `${(v * 1000).toFixed(1)} ms` : `${v.toFixed(2)} s`);
const ms = (v: number) => `${v.toFixed(2)} ms`;
const mib = (kib: number) => `${(kib / 1024).toFixed(0)} MiB`;
const pct = (v: number) => `${v.toFixed(1)} %`;

const ratio = (v: number, base: number) => (base > 0 && Number.isFinite(v / base) ? `${(v / base).toFixed(2)}x` : "n/a");

/** log-log slope from the first row to the last: ~1 linear, ~2 quadratic, ~0 flat. */
function exponent(rows: Row[], v: (r: Row) => number): number {
  const a = rows[0];
  const b = rows[rows.length - 1];
  return Math.log(v(b) / v(a)) / Math.log(b.child.customers / a.child.customers);
}

function table(title: string, notes: string[], rows: Row[], columns: Column[], verdicts: Verdict[]): void {
  const base = rows[0];
  console.log(`\n${title}`);
  const header = ["customers", "shards", ...columns.flatMap((c) => [c.name, `vs ${int(base.child.customers)}`])];
  const cells = rows.map((r) => [
    int(r.child.customers),
    int(r.child.shards) + (r.child.capped ? " (cap)" : ""),
    ...columns.flatMap((c) => {
      const v = c.value(r);
      const over = c.limit && v > c.limit.value ? " OVER" : "";
      return [c.format(v) + over, ratio(v, c.value(base))];
    }),
  ]);
  if (rows.length > 1) {
    cells.push([
      "growth ~n^k",
      "",
      ...columns.flatMap((c) => {
        const k = exponent(rows, c.value);
        return [Number.isFinite(k) ? `k=${k.toFixed(2)}` : "", ""];
      }),
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => row[i].length)));
  const line = (cs: string[]) => "  " + cs.map((x, i) => (i === 0 ? x.padEnd(widths[i]) : x.padStart(widths[i]))).join("  ");
  console.log(line(header));
  for (const c of cells) console.log(line(c));
  for (const n of notes) console.log(`  ${n}`);
  for (const c of columns) {
    const k = rows.length > 1 ? exponent(rows, c.value) : NaN;
    const first = c.value(rows[0]);
    const last = c.value(rows[rows.length - 1]);
    const span = `${c.format(first)} at ${int(rows[0].child.customers)} -> ${c.format(last)} at ${int(rows[rows.length - 1].child.customers)} (${(last / first).toFixed(1)}x for ${(rows[rows.length - 1].child.customers / rows[0].child.customers).toFixed(0)}x the customers, k=${k.toFixed(2)})`;
    const judged = c.floor === undefined || last >= c.floor;
    if (judged && Number.isFinite(k) && k > 1.2) verdicts.push({ measure: title, column: c.name, kind: "worse than linear", text: span });
    else if (judged && Number.isFinite(k) && c.expect === "flat" && k > 0.35)
      verdicts.push({ measure: title, column: c.name, kind: "grows where it should stay flat", text: span });
    if (c.limit) {
      const over = rows.filter((r) => c.value(r) > c.limit!.value);
      if (over.length) {
        const perCustomer = c.value(rows[0]) / rows[0].child.customers;
        verdicts.push({
          measure: title,
          column: c.name,
          kind: "hard limit",
          text:
            `${c.limit.what}: ${over.map((r) => `${int(c.value(r))}${c.label ? ` (${c.label(r)})` : ""} at ${int(r.child.customers)} (${(c.value(r) / c.limit!.value).toFixed(1)}x)`).join(", ")}` +
            (c.expect === "linear" ? `; at ${perCustomer.toFixed(0)} bytes a customer it crosses at about ${int(c.limit.value / perCustomer)} customers` : ""),
        });
      }
    }
  }
}

function report(rows: Row[], perShard: number, built: string): Verdict[] {
  const v: Verdict[] = [];
  const b = rows[0];
  console.log(
    `scale suite: generated rosters (testing/roster-gen.ts), ~${perShard} customers a shard (shard.count capped at 1000), prod stack settings; each figure beside the ${int(b.child.customers)} row of this run`,
  );
  table(
    "1. roster read and validated (parseRoster of the generated YAML, after an unmeasured warm-up)",
    [],
    rows,
    [
      { name: "YAML bytes", value: (r) => r.child.rosterBytes, format: int, expect: "linear" },
      { name: "read", value: (r) => r.child.readSeconds, format: secs, expect: "linear", floor: 0.05 },
    ],
    v,
  );
  table(
    "2. shard assignment",
    [
      "every customer: shardBuckets, shardOf once each (one pass); one shard: rosterForShard (what a shard stack's program takes);",
      "every customer is also what listing every shard costs (`intake shards --stack`: shardBuckets, one pass; it was rosterForShard per shard, customers x shards)",
    ],
    rows,
    [
      { name: "every customer", value: (r) => r.child.shardOfSeconds, format: secs, expect: "linear", floor: 0.05 },
      { name: "one shard", value: (r) => r.child.oneShardSeconds, format: secs, expect: "linear", floor: 0.05 },
    ],
    v,
  );
  const objects = (r: Row) => [
    { what: `access-list part ${r.child.largestPart.file}`, bytes: r.child.largestPart.bytes },
    { what: `roster part ${r.child.largestRosterPart.file}`, bytes: r.child.largestRosterPart.bytes },
    { what: "broker Deployment", bytes: r.child.deploymentBytes },
  ];
  const largest = (r: Row) => objects(r).reduce((a, x) => (x.bytes > a.bytes ? x : a));
  const last = rows[rows.length - 1];
  const deploymentPerShard = (last.child.deploymentBytes - b.child.deploymentBytes) / Math.max(1, last.child.shards - b.child.shards);
  const deploymentBase = last.child.deploymentBytes - deploymentPerShard * last.child.shards;
  table(
    "3. what the program mounts into the broker (kinds/distribution/service.ts under the mock engine; every robot's hash is one real cost-10 hash, reused)",
    [
      "sizes are the Secret's stringData / ConfigMap data before base64 (the API server checks the decoded data against 1 MiB; a Secret's base64 in etcd is 4/3 of it)",
      "ACL parts: the platform stack's acl.json and one per shard stack's Secret (the `acl` projected volume); roster parts: one per shard stack's ConfigMap (the `roster` projected volume, --roster /etc/intake/roster), the platform stack declares none",
      "largest object: the largest of the largest ACL part, the largest roster part and the broker Deployment (its two projected volumes list a source per shard), against 1 MiB",
      ...rows.map(
        (r) =>
          `${int(r.child.customers)}: largest object ${largest(r).what} (${int(largest(r).bytes)} B); largest ACL part ${r.child.largestPart.file} (${r.child.largestPart.entries} robots), largest roster part ${r.child.largestRosterPart.file} (${r.child.largestRosterPart.customers} customers)`,
      ),
      ...(rows.length > 1 && deploymentPerShard > 0
        ? [
            `the Deployment grows ~${int(deploymentPerShard)} B a shard: it would pass 1 MiB at about ${int((K8S_DATA_LIMIT - deploymentBase) / deploymentPerShard)} shards (shard.count is capped at 1000)`,
          ]
        : []),
    ],
    rows,
    [
      { name: "ACL parts", value: (r) => r.child.parts, format: int, expect: "linear" },
      { name: "largest ACL part B", value: (r) => r.child.largestPart.bytes, format: int, expect: "flat" },
      { name: "robots", value: (r) => r.child.robots, format: int, expect: "linear" },
      { name: "ACL total B", value: (r) => r.child.aclBytes, format: int, expect: "linear" },
      { name: "roster parts", value: (r) => r.child.rosterParts, format: int, expect: "linear" },
      { name: "largest roster part B", value: (r) => r.child.largestRosterPart.bytes, format: int, expect: "flat" },
      { name: "roster total B", value: (r) => r.child.rosterPartsBytes, format: int, expect: "linear" },
      { name: "Deployment B", value: (r) => r.child.deploymentBytes, format: int, expect: "linear" },
      {
        name: "largest object B",
        value: (r) => largest(r).bytes,
        format: int,
        expect: "linear",
        limit: { value: K8S_DATA_LIMIT, what: "largest object the broker mounts or runs from (ACL part, roster part, Deployment) over Kubernetes' 1 MiB" },
        label: (r) => largest(r).what,
      },
    ],
    v,
  );
  const straced = rows.some((r) => r.broker.files.idle.statsPerSecond !== undefined);
  const measuredNote = straced
    ? `stat/s, readlink/s, calls/s measured with \`strace -c -f -p\` over ${IDLE_SECONDS} s after the CPU window (calls/s: every system call but the event loop's waits, epoll_pwait/futex)`
    : "strace is not installed: stat/s and calls/s are not measured, only estimated from the code (est.)";
  const top = (k: "files" | "kubelet") => rows.filter((r) => r.broker[k].idle.top).map((r) => `${int(r.child.customers)}: ${r.broker[k].idle.top}`);
  const na = (v: number | undefined) => v ?? NaN;
  const rate = (v: number) => (Number.isNaN(v) ? "n/a" : int(v));
  table(
    `4a. intake broker on plain folders (node cli/bin/intake.js broker --acl acl/ --roster roster/, running ${built}): start, memory, idle`,
    [
      `start: spawn until /healthz answers (every ACL part and roster part read and merged); idle: CPU of ${IDLE_SECONDS} s with no requests (/proc/<pid>/stat utime+stime), one timer looking at both folders every ${WATCH_INTERVAL_MS} ms`,
      "est. stat/s (runtime/broker/store.ts Parts.look, no ..data): per look and folder a readlink of ..data (absent), a stat of the folder, a listing (readdir) and a stat of every file",
      measuredNote,
      ...(straced
        ? [
            "looks/s traced: measured stat/s over the stats of one look; strace slows every call it traces, so where a look makes thousands of calls fewer than 4 looks fit in a traced second and stat/s falls below est. (the untraced rate is est.: idle CPU is measured untraced)",
          ]
        : []),
      ...top("files").map((t) => `busiest calls, ${t}`),
    ],
    rows,
    [
      { name: "start", value: (r) => r.broker.files.startSeconds, format: secs, expect: "linear", floor: 0.05 },
      { name: "RSS at start", value: (r) => r.broker.files.rssAfterStartKiB, format: mib, expect: "linear" },
      { name: "peak RSS", value: (r) => r.broker.files.peakRssKiB, format: mib, expect: "linear" },
      { name: "idle CPU", value: (r) => r.broker.files.idle.cpuPercent, format: pct, expect: "linear", floor: 1 },
      { name: "stat/s", value: (r) => na(r.broker.files.idle.statsPerSecond), format: rate, expect: "linear" },
      { name: "est. stat/s", value: (r) => r.broker.files.idle.estimatedStatsPerSecond, format: int, expect: "linear" },
      {
        name: "looks/s traced",
        value: (r) => na(r.broker.files.idle.statsPerSecond) / (r.broker.files.idle.estimatedStatsPerSecond / LOOKS_PER_SECOND),
        format: (v) => (Number.isNaN(v) ? "n/a" : v.toFixed(1)),
        expect: "flat",
      },
      { name: "readlink/s", value: (r) => na(r.broker.files.idle.readlinksPerSecond), format: rate, expect: "flat" },
      { name: "calls/s", value: (r) => na(r.broker.files.idle.syscallsPerSecond), format: rate, expect: "linear" },
    ],
    v,
  );
  table(
    `4b. token latency (plain folders; ${CONNECTIONS} connections; ${b.child.broker.pool.length} robots drawn at random from the whole roster)`,
    [
      `first login: each of the ${b.child.broker.pool.length} robots once, a bcrypt check at cost ${BCRYPT_COST} each, one at a time (the broker keeps a core for tokens on 2 cores): queueing included`,
      `repeat: ${WARM_REQUESTS} requests over the same robots, verified from memory: lookups and a signature. 2,000 first logins would take minutes of bcrypt and measure bcrypt alone: bounded to ${b.child.broker.pool.length}`,
    ],
    rows,
    [
      { name: "first p50", value: (r) => r.broker.files.cold.p50, format: ms, expect: "flat" },
      { name: "first p99", value: (r) => r.broker.files.cold.p99, format: ms, expect: "flat" },
      { name: "repeat p50", value: (r) => r.broker.files.warm.p50, format: ms, expect: "flat" },
      { name: "repeat p99", value: (r) => r.broker.files.warm.p99, format: ms, expect: "flat" },
    ],
    v,
  );
  table(
    "4c. plain folders: reload after one part is replaced (an atomic rename), until a token shows it (a token polled every 10 ms)",
    [
      "served: from the rename to the first token that shows it = waiting for the timer + the look (a stat of every file of both folders) + reading, parsing and merging;",
      "reload: the slowest polled token meanwhile (the look and the reload run on the event loop: every request waits that long);",
      `waiting: the rest, the timer (${WATCH_INTERVAL_MS} ms: ${WATCH_INTERVAL_MS / 2} ms on average, up to ${WATCH_INTERVAL_MS} ms) and the 10 ms poll of the token`,
      "robot: one access-list part replaced, one entry disabled; roster: one roster part (the customer's shard's) replaced, one customer suspended",
      `parsed: parts the broker logged as reloaded for the change (the others' text did not change: 1 is the design)`,
    ],
    rows,
    [
      { name: "robot served", value: (r) => r.broker.files.robotReload.servedSeconds, format: secs, expect: "flat", floor: 0.5 },
      { name: "of it reload", value: (r) => r.broker.files.robotReload.stallSeconds, format: secs, expect: "flat", floor: 0.05 },
      {
        name: "of it waiting",
        value: (r) => r.broker.files.robotReload.servedSeconds - r.broker.files.robotReload.stallSeconds,
        format: secs,
        expect: "flat",
        floor: 0.5,
      },
      { name: "parsed", value: (r) => r.broker.files.robotReload.partReloads, format: int, expect: "flat" },
      { name: "roster served", value: (r) => r.broker.files.rosterReload.servedSeconds, format: secs, expect: "flat", floor: 0.5 },
      { name: "of it reload", value: (r) => r.broker.files.rosterReload.stallSeconds, format: secs, expect: "flat", floor: 0.05 },
      {
        name: "of it waiting",
        value: (r) => r.broker.files.rosterReload.servedSeconds - r.broker.files.rosterReload.stallSeconds,
        format: secs,
        expect: "flat",
        floor: 0.5,
      },
      { name: "parsed", value: (r) => r.broker.files.rosterReload.partReloads, format: int, expect: "flat" },
    ],
    v,
  );
  table(
    "4d. intake broker on both folders laid out as Kubernetes mounts the Deployment's projected volumes (every file a link into ..data): start, memory, idle",
    [
      "est. stat/s (runtime/broker/store.ts Parts.look with ..data): per look and folder one readlink of ..data and one stat of the folder while ..data does not move: 2 stats a look, at any size",
      measuredNote,
      ...top("kubelet").map((t) => `busiest calls, ${t}`),
    ],
    rows,
    [
      { name: "start", value: (r) => r.broker.kubelet.startSeconds, format: secs, expect: "linear", floor: 0.05 },
      { name: "RSS at start", value: (r) => r.broker.kubelet.rssAfterStartKiB, format: mib, expect: "linear" },
      { name: "idle CPU", value: (r) => r.broker.kubelet.idle.cpuPercent, format: pct, expect: "flat", floor: 1 },
      { name: "stat/s", value: (r) => na(r.broker.kubelet.idle.statsPerSecond), format: rate, expect: "flat" },
      { name: "est. stat/s", value: (r) => r.broker.kubelet.idle.estimatedStatsPerSecond, format: int, expect: "flat" },
      { name: "readlink/s", value: (r) => na(r.broker.kubelet.idle.readlinksPerSecond), format: rate, expect: "flat" },
      { name: "calls/s", value: (r) => na(r.broker.kubelet.idle.syscallsPerSecond), format: rate, expect: "flat" },
    ],
    v,
  );
  table(
    "4e. Kubernetes layout: one robot changes in one shard's Secret, then one customer in one shard's ConfigMap, each through a ..data swap (kubelet's update: a new folder of every file, ..data renamed to it)",
    [
      "every file of the folder gets a new inode, so every file is read again (and its sha256 taken); only the one whose text changed is parsed, then one merge",
      "served: from the ..data rename until the changed robot's token shows it; logged: until the broker logged the reload; parsed: parts it logged as reloaded; CPU: the broker's, from the rename to 0.6 s after the reload; stall: the slowest polled token",
    ],
    rows,
    [
      { name: "robot served", value: (r) => r.broker.kubelet.robotSwap.servedSeconds, format: secs, expect: "flat", floor: 0.5 },
      { name: "logged", value: (r) => r.broker.kubelet.robotSwap.loggedSeconds, format: secs, expect: "flat", floor: 0.5 },
      { name: "parsed", value: (r) => r.broker.kubelet.robotSwap.partReloads, format: int, expect: "flat" },
      { name: "CPU", value: (r) => r.broker.kubelet.robotSwap.cpuSeconds, format: secs, expect: "linear", floor: 0.05 },
      { name: "stall", value: (r) => r.broker.kubelet.robotSwap.stallSeconds, format: secs, expect: "linear", floor: 0.05 },
      { name: "roster served", value: (r) => r.broker.kubelet.rosterSwap.servedSeconds, format: secs, expect: "flat", floor: 0.5 },
      { name: "logged", value: (r) => r.broker.kubelet.rosterSwap.loggedSeconds, format: secs, expect: "flat", floor: 0.5 },
      { name: "parsed", value: (r) => r.broker.kubelet.rosterSwap.partReloads, format: int, expect: "flat" },
      { name: "CPU", value: (r) => r.broker.kubelet.rosterSwap.cpuSeconds, format: secs, expect: "linear", floor: 0.05 },
      { name: "stall", value: (r) => r.broker.kubelet.rosterSwap.stallSeconds, format: secs, expect: "linear", floor: 0.05 },
    ],
    v,
  );
  const reloadRows = (r: Row) =>
    [
      ["robot, plain file replaced", r.broker.files.robotReload],
      ["roster part, plain file replaced", r.broker.files.rosterReload],
      ["robot, ..data swap", r.broker.kubelet.robotSwap],
      ["roster part, ..data swap", r.broker.kubelet.rosterSwap],
    ] as const;
  for (const r of rows) {
    for (const [name, x] of reloadRows(r)) {
      if (x.timedOut)
        console.log(`  ${int(r.child.customers)}: the ${name} reload was cut at ${RELOAD_LIMIT_MS / 1000} s (${x.partReloads} part reloads logged by then)`);
    }
  }
  table(
    "5. intake shards --stack prod --base HEAD~1 --json (the bin, a throwaway git project, one customer suspended)",
    [
      `stacks touched: ${rows.map((r) => `${int(r.child.customers)}: ${r.shardsCli.stacks.join(", ")}`).join("; ")}`,
      "100-customer roster: the same project and shard count with a roster of 100, one customer suspended: what the shard count costs alone",
      "(planning/diff.ts affectedStacks: the changed shard stack files from two git processes, whatever the shard count)",
    ],
    rows,
    [
      { name: "time", value: (r) => r.shardsCli.seconds, format: secs, expect: "linear", floor: 0.05 },
      { name: "peak RSS", value: (r) => r.shardsCli.peakRssKiB, format: mib, expect: "linear" },
      { name: "100-customer roster", value: (r) => r.shardsCli.smallRosterSeconds, format: secs, expect: "linear", floor: 0.05 },
    ],
    v,
  );
  table(
    "6. the plan of one shard stack (planProgram under the mock engine, the suspended customer's shard, after an unmeasured warm-up plan)",
    [`the plan's own acl.json and roster ConfigMap for that shard equal the parts measured in 3 (hashes aside): checked every run`],
    rows,
    [
      { name: "program time", value: (r) => r.child.plan.seconds, format: secs, expect: "flat", floor: 0.05 },
      { name: "in shard", value: (r) => r.child.plan.customers, format: int, expect: "flat" },
      { name: "resources", value: (r) => r.child.plan.resources, format: int, expect: "flat" },
    ],
    v,
  );
  for (const r of rows.filter((x) => x.child.capped || x.child.shards >= 1000)) {
    v.push({
      measure: "2. shard assignment",
      column: "shards",
      kind: "hard limit",
      text: `${int(r.child.customers)} customers: ${r.child.capped ? "wanted more than" : "at"} the settings schema's shard.count maximum of 1000 (core/settings.ts): ${int(r.child.customers / r.child.shards)} customers a shard, and every customer added from here makes shards larger`,
    });
  }
  const missed = rows.flatMap((r) =>
    reloadRows(r)
      .filter(([, x]) => !(x.servedSeconds < RELOAD_TARGET_S))
      .map(([name, x]) => `${int(r.child.customers)}: ${name}: served in ${secs(x.servedSeconds)}`),
  );
  console.log("");
  console.log(`RELOAD OVER THE ${RELOAD_TARGET_S} s TARGET: ${missed.length ? "" : "none"}`);
  for (const m of missed) console.log(`  ${m}`);
  if (rows.length < 2) console.log("one size only: no growth to judge");
  for (const kind of ["hard limit", "worse than linear", "grows where it should stay flat"] as const) {
    const these = v.filter((x) => x.kind === kind);
    console.log(
      `${kind === "hard limit" ? "CROSSES A HARD LIMIT" : kind === "worse than linear" ? "WORSE THAN LINEAR" : "GROWS WHERE IT SHOULD STAY FLAT"}: ${these.length ? "" : "none"}`,
    );
    for (const x of these) console.log(`  ${x.measure.split(" (")[0]}: ${x.column}: ${x.text}`);
  }
  return v;
}
