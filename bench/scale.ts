import { execFileSync, type ChildProcess } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import * as path from "node:path";
import bcrypt from "bcrypt";
import { freePort, makeKeyPair } from "../test/e2e/harness";
import { load, type LoadResult } from "./broker";
import { CHILD_HEAP_MIB, procStat, runChild, runTree, type TreeMeasure } from "./child";
import type { Robot, ScaleChild } from "./scale-child";
import { rosterYaml } from "./roster-gen";
import { K8S_DATA_LIMIT, withStatus } from "./scale-docs";
import type { SuiteOptions } from "./run";

export const about = "10,000 / 30,000 / 100,000 customers, ~100 per shard: roster read, shard assignment, what the broker mounts, the broker, `intake shards --base`, one shard's plan (--sizes, --per-shard)";

const ROOT = path.resolve(__dirname, "..");
const BIN = path.join(ROOT, "cli", "bin", "intake.js");
/** Every robot's password: the access list holds one bcrypt hash of it for every robot. */
const PASSWORD = "scale-bench-robot-password";
/** random.RandomPassword's bcryptHash uses Go's bcrypt.DefaultCost (as bench/broker.ts says). */
const BCRYPT_COST = 10;
/** The broker's file watchers poll every 250 ms (runtime/broker/store.ts, watchIntervalMs). */
const WATCH_INTERVAL_MS = 250;
const IDLE_SECONDS = 5;
const CONNECTIONS = 8;
const WARM_REQUESTS = 2000;
/** How long a reload may take before the row gives up (and says so). */
const RELOAD_LIMIT_MS = 5 * 60_000;
const CHILD_TIMEOUT_MS = 15 * 60_000;
const CLK_TCK = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;

interface Reload {
  /** From the write to the first token that shows the change. */
  servedSeconds: number;
  /** From the write to the broker's own log line of the reload (the last one, for a swap). */
  loggedSeconds: number;
  /** The slowest token request while it reloaded: the event loop was busy that long. */
  stallSeconds: number;
  /** access-list part reloads the broker logged for it. */
  partReloads: number;
  /** Broker CPU from the write to the last reload logged. */
  cpuSeconds: number;
  timedOut: boolean;
}

interface BrokerMeasure {
  startSeconds: number;
  rssAfterStartKiB: number;
  peakRssKiB: number;
  idleCpuPercent: number;
  /** stat() calls a second its watchers make: one per watched file per interval. */
  statsPerSecond: number;
  cold: LoadResult;
  warm: LoadResult;
  robotReload: Reload;
  rosterReload: Reload;
  swap: Reload;
}

interface CliMeasure {
  seconds: number;
  peakRssKiB: number;
  stacks: string[];
  /** The same command, same shard count, on a 100-customer roster: what the shard count alone costs. */
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
 * program would mount into the broker (against Kubernetes' 1 MiB), the broker as users run it
 * (start, memory, idle CPU, token latency, reloads), `intake shards --base` for one change, and
 * the plan of one shard stack. Bounded: the broker's token rows use 64 robots (each first login
 * is a bcrypt check at cost 10, ~0.1 s on one thread), rosterForShard over every shard is timed
 * on 3 shards and multiplied out.
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
      step(`${n} customers: intake broker on ${child.parts} parts`);
      const broker = await measureBroker(dir, child, pair);
      done(`started in ${broker.startSeconds.toFixed(2)} s`);
      step(`${n} customers: intake shards --base`);
      const shardsCli = await measureShardsCli(dir, child);
      done(`${shardsCli.seconds.toFixed(2)} s`);
      rows.push({ child, broker, shardsCli });
      rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const loadAfter = loadavg();
  const built = require(path.join(ROOT, "cli", "bin", "compiled.js")).compiledEntry(ROOT, "cli/main") ? "the compiled build (out/)" : "the sources through tsx (no current `npm run build`)";
  const verdicts = report(rows, perShard, built);
  const suiteSeconds = (performance.now() - started) / 1000;
  console.log(`load average (1, 5, 15 min) before: ${loadBefore.map((x) => x.toFixed(2)).join(", ")}; after: ${loadAfter.map((x) => x.toFixed(2)).join(", ")}; ${cpus().length} cores`);
  console.log(`suite took ${suiteSeconds.toFixed(0)} s`);

  const dir = path.join(__dirname, "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, "scale.json");
  const env = { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, cpuModel: cpus()[0]?.model, childHeapMiB: CHILD_HEAP_MIB, loadBefore, loadAfter, bin: built };
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

/** An access-list part with one robot's entry disabled, written as the program writes it. */
function disabled(text: string, username: string): string {
  const acl = JSON.parse(text) as { entries: { username: string; enabled: boolean }[] };
  const entry = acl.entries.find((e) => e.username === username);
  if (!entry) throw new Error(`no robot ${username} in this part`);
  entry.enabled = false;
  return JSON.stringify(acl, null, 2);
}

/** Write a file as an atomic rename (a hidden temporary name, which the broker's folder scan skips). */
function writeAtomic(file: string, text: string): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp`);
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

function cpuTicks(pid: number): number {
  const s = procStat(pid);
  if (!s) throw new Error(`the broker (pid ${pid}) is gone`);
  return s.utime + s.stime;
}

/** `intake broker` as users run it, on the folder of parts and the roster the program would mount. */
async function measureBroker(dir: string, c: ScaleChild, pair: { key: string; cert: string }): Promise<BrokerMeasure> {
  const acl = path.join(dir, "acl");
  const roster = path.join(dir, "roster.yaml");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  // The broker's log (pino, one JSON object a line): the reloads it reports, with its own clock.
  const reloads: { time: number; source: string }[] = [];
  let pending = "";
  const args = [BIN, "broker", "--acl", acl, "--roster", roster, "--listen", `127.0.0.1:${port}`, "--key", pair.key, "--cert", pair.cert, "--service", c.broker.service, "--issuer", c.broker.issuer, "--stack", "prod", "--project", ROOT];
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
  try {
    // Started: it answers on its port.
    for (;;) {
      if (exited) throw exited;
      if (performance.now() - t0 > RELOAD_LIMIT_MS) throw new Error("the broker did not answer within 5 minutes");
      const ok = await fetch(`${base}/healthz`).then((r) => r.ok, () => false);
      if (ok) break;
      await sleep(20);
    }
    const startSeconds = (performance.now() - t0) / 1000;
    const rssAfterStartKiB = procStat(pid)!.rssKiB;

    // Idle: nothing asked, the watchers polling.
    const idle0 = cpuTicks(pid);
    const i0 = performance.now();
    await sleep(IDLE_SECONDS * 1000);
    const idleCpuPercent = ((cpuTicks(pid) - idle0) / CLK_TCK / ((performance.now() - i0) / 1000)) * 100;

    // Tokens: each robot's first login is a bcrypt check (one at a time on 2 cores); after
    // that the broker serves it from memory, and a request costs lookups and a signature.
    const targets = c.broker.pool.map((r) => ({ url: `${base}${r.path}`, auth: basic(r.username).slice("Basic ".length) }));
    const cold = await load({ url: base, connections: CONNECTIONS, seconds: 0, targets, requests: targets.length });
    const warm = await load({ url: base, connections: CONNECTIONS, seconds: 0, targets, requests: WARM_REQUESTS });
    if (cold.errors || warm.errors) throw new Error(`token requests failed: ${JSON.stringify({ cold: cold.statuses, warm: warm.statuses })}`);

    const watch = (robot: Robot, change: () => void, waitForAllParts = false) => reloadAfter(base, pid, robot, change, reloads, waitForAllParts ? c.parts : 0);
    // One robot changes in one part: that part's file is replaced (an atomic rename).
    const robotReload = await watch(c.broker.robotChange, () => {
      const file = path.join(acl, c.broker.robotChange.file);
      writeAtomic(file, disabled(readFileSync(file, "utf8"), c.broker.robotChange.username));
    });
    // One customer suspended in the roster.
    const rosterReload = await watch(c.broker.rosterChange, () => writeAtomic(roster, withStatus(readFileSync(roster, "utf8"), c.broker.rosterChange.id, "suspended")));
    // As Kubernetes updates a projected volume: every file is a symlink into ..data, and an update
    // writes a new folder of every file and swaps ..data, so every part's file changes at once.
    await toKubeletLayout(acl, reloads, c.parts);
    const swap = await watch(c.broker.swapChange, () => kubeletSwap(acl, c.broker.swapChange), true);

    process.kill(-pid, "SIGTERM");
    const stopped = await Promise.race([tree.then((m) => m, () => undefined), sleep(30_000).then(() => undefined)]);
    const peak = (stopped as TreeMeasure | undefined)?.peakProcessKiB ?? NaN;
    return { startSeconds, rssAfterStartKiB, peakRssKiB: peak, idleCpuPercent, statsPerSecond: (c.parts + 2) * (1000 / WATCH_INTERVAL_MS), cold, warm, robotReload, rosterReload, swap };
  } finally {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

/**
 * Make a change the robot's next token must show (its access empty), and poll a token every
 * 10 ms until it does; with `parts`, also wait until the broker has logged that many part reloads.
 */
async function reloadAfter(base: string, pid: number, robot: Robot, change: () => void, reloads: { time: number; source: string }[], parts: number): Promise<Reload> {
  const url = `${base}${robot.path}`;
  const auth = basic(robot.username);
  if ((await grantedAccess(url, auth)).length === 0) throw new Error(`${robot.id}: granted nothing before the change`);
  await sleep(2 * WATCH_INTERVAL_MS);
  const seen = reloads.length;
  const cpu0 = cpuTicks(pid);
  const changedAt = Date.now();
  const t0 = performance.now();
  change();
  let servedSeconds = NaN;
  let stall = 0;
  let timedOut = false;
  const partReloads = () => reloads.slice(seen).filter((r) => r.source.startsWith("access-list part")).length;
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
    if (!Number.isNaN(servedSeconds) && reloads.length > seen && partReloads() >= parts) break;
    await sleep(10);
  }
  await sleep(100); // the broker's log lines of that reload, still in the pipe
  const mine = reloads.slice(seen);
  const loggedSeconds = mine.length ? (Math.max(...mine.map((r) => r.time)) - changedAt) / 1000 : NaN;
  return { servedSeconds, loggedSeconds, stallSeconds: stall / 1000, partReloads: partReloads(), cpuSeconds: (cpuTicks(pid) - cpu0) / CLK_TCK, timedOut };
}

/** Turn a folder of part files into the layout kubelet gives a projected volume, and wait until the broker has reloaded every part. */
async function toKubeletLayout(acl: string, reloads: { source: string }[], parts: number): Promise<void> {
  const files = readdirSync(acl).filter((f) => f.endsWith(".json"));
  mkdirSync(path.join(acl, "..v1"));
  for (const f of files) copyFileSync(path.join(acl, f), path.join(acl, "..v1", f));
  symlinkSync("..v1", path.join(acl, "..data"));
  const seen = reloads.length;
  for (const f of files) {
    symlinkSync(`..data/${f}`, path.join(acl, `.${f}.link`));
    renameSync(path.join(acl, `.${f}.link`), path.join(acl, f));
  }
  const t0 = performance.now();
  while (reloads.slice(seen).filter((r) => r.source.startsWith("access-list part")).length < parts && performance.now() - t0 < RELOAD_LIMIT_MS) await sleep(50);
  await sleep(2 * WATCH_INTERVAL_MS);
}

/** kubelet's update of a projected volume: a new folder with every file (one robot disabled in its part), ..data swapped to it, the old folder removed. */
function kubeletSwap(acl: string, robot: Robot): void {
  const from = readdirSync(acl).find((f) => f.startsWith("..v") && f !== "..data")!;
  const to = `..v${Number(from.slice(3)) + 1}`;
  mkdirSync(path.join(acl, to));
  for (const f of readdirSync(path.join(acl, from))) {
    const text = readFileSync(path.join(acl, from, f), "utf8");
    writeFileSync(path.join(acl, to, f), f === robot.file ? disabled(text, robot.username) : text);
  }
  symlinkSync(to, path.join(acl, "..data_tmp"));
  renameSync(path.join(acl, "..data_tmp"), path.join(acl, "..data"));
  rmSync(path.join(acl, from), { recursive: true, force: true });
}

/** `intake shards --stack prod --base HEAD~1 --json` in a throwaway project where one customer was suspended. */
async function measureShardsCli(dir: string, c: ScaleChild): Promise<CliMeasure> {
  const project = path.join(dir, "project");
  mkdirSync(path.join(project, "customers"), { recursive: true });
  copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
  writeFileSync(path.join(project, "Pulumi.prod.yaml"), `${readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8").trimEnd()}\n  registry-intake:shard:\n    count: ${c.shards}\n`);
  const rosterFile = path.join(project, "customers", "roster.yaml");
  const original = readFileSync(path.join(dir, "roster.yaml"), "utf8");
  // The roster as it was before the broker rows changed it.
  writeFileSync(rosterFile, withStatus(original, c.broker.rosterChange.id, "active"));
  const git = (...a: string[]) => execFileSync("git", ["-c", "user.name=scale bench", "-c", "user.email=bench@example.invalid", "-c", "commit.gpgsign=false", ...a], { cwd: project, stdio: "pipe" });
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
    else if (judged && Number.isFinite(k) && c.expect === "flat" && k > 0.35) verdicts.push({ measure: title, column: c.name, kind: "grows where it should stay flat", text: span });
    if (c.limit) {
      const over = rows.filter((r) => c.value(r) > c.limit!.value);
      if (over.length) {
        const perCustomer = c.value(rows[0]) / rows[0].child.customers;
        verdicts.push({
          measure: title,
          column: c.name,
          kind: "hard limit",
          text:
            `${c.limit.what}: ${over.map((r) => `${int(c.value(r))} at ${int(r.child.customers)} (${(c.value(r) / c.limit!.value).toFixed(1)}x)`).join(", ")}` +
            (c.expect === "linear" ? `; at ${perCustomer.toFixed(0)} bytes a customer it crosses at about ${int(c.limit.value / perCustomer)} customers` : ""),
        });
      }
    }
  }
}

function report(rows: Row[], perShard: number, built: string): Verdict[] {
  const v: Verdict[] = [];
  const b = rows[0];
  console.log(`scale suite: generated rosters (bench/roster-gen.ts), ~${perShard} customers a shard (shard.count capped at 1000), prod stack settings; each figure beside the ${int(b.child.customers)} row of this run`);
  table("1. roster read and validated (parseRoster of the generated YAML, after an unmeasured warm-up)", [], rows, [
    { name: "YAML bytes", value: (r) => r.child.rosterBytes, format: int, expect: "linear" },
    { name: "read", value: (r) => r.child.readSeconds, format: secs, expect: "linear", floor: 0.05 },
  ], v);
  table(
    "2. shard assignment",
    [
      "every customer: shardOf once each (one pass); one shard: rosterForShard (what a shard stack's program takes);",
      `every shard: rosterForShard per shard, as \`intake shards --stack\` lists them (cli/commands/shards.ts:61): N x shards, timed on ${b.child.sampledShards} shards and multiplied out`,
    ],
    rows,
    [
      { name: "every customer", value: (r) => r.child.shardOfSeconds, format: secs, expect: "linear", floor: 0.05 },
      { name: "one shard", value: (r) => r.child.oneShardSeconds, format: secs, expect: "linear", floor: 0.05 },
      { name: "every shard (est.)", value: (r) => r.child.allShardsSeconds, format: secs, expect: "linear", floor: 0.05 },
    ],
    v,
  );
  table(
    "3. what the program mounts into the broker (kinds/distribution/service.ts under the mock engine; every robot's hash is one real cost-10 hash, reused)",
    [
      "sizes are the Secret's stringData / ConfigMap data before base64 (the API server checks the decoded data against 1 MiB; a Secret's base64 in etcd is 4/3 of it)",
      `parts: the platform stack's acl.json and one per shard stack (one projected volume); ACL total: what the broker reads at start`,
    ],
    rows,
    [
      { name: "parts", value: (r) => r.child.parts, format: int, expect: "linear" },
      { name: "largest part B", value: (r) => r.child.largestPart.bytes, format: int, expect: "flat", limit: { value: K8S_DATA_LIMIT, what: "largest access-list Secret over 1 MiB" } },
      { name: "robots", value: (r) => r.child.robots, format: int, expect: "linear" },
      { name: "ACL total B", value: (r) => r.child.aclBytes, format: int, expect: "linear" },
      { name: "roster ConfigMap B", value: (r) => r.child.rosterConfigMapBytes, format: int, expect: "linear", limit: { value: K8S_DATA_LIMIT, what: "roster ConfigMap (one, on the platform stack) over Kubernetes' 1 MiB" } },
      { name: "Deployment B", value: (r) => r.child.deploymentBytes, format: int, expect: "linear" },
    ],
    v,
  );
  table(
    `4a. intake broker (node cli/bin/intake.js broker, running ${built}): start, memory, idle`,
    [
      `start: spawn until /healthz answers; idle: CPU of ${IDLE_SECONDS} s with no requests (/proc/<pid>/stat utime+stime), the watchers polling every ${WATCH_INTERVAL_MS} ms`,
      "stat/s: one stat() per watched file (each part, the folder, the roster) per interval",
    ],
    rows,
    [
      { name: "start", value: (r) => r.broker.startSeconds, format: secs, expect: "linear", floor: 0.05 },
      { name: "RSS at start", value: (r) => r.broker.rssAfterStartKiB, format: mib, expect: "linear" },
      { name: "peak RSS", value: (r) => r.broker.peakRssKiB, format: mib, expect: "linear" },
      { name: "idle CPU", value: (r) => r.broker.idleCpuPercent, format: pct, expect: "linear", floor: 1 },
      { name: "stat/s", value: (r) => r.broker.statsPerSecond, format: int, expect: "linear" },
    ],
    v,
  );
  table(
    `4b. token latency (${CONNECTIONS} connections; ${b.child.broker.pool.length} robots drawn at random from the whole roster)`,
    [
      `first login: each of the ${b.child.broker.pool.length} robots once, a bcrypt check at cost ${BCRYPT_COST} each, one at a time (the broker keeps a core for tokens on 2 cores): queueing included`,
      `repeat: ${WARM_REQUESTS} requests over the same robots, verified from memory: lookups and a signature. 2,000 first logins would take minutes of bcrypt and measure bcrypt alone: bounded to ${b.child.broker.pool.length}`,
    ],
    rows,
    [
      { name: "first p50", value: (r) => r.broker.cold.p50, format: ms, expect: "flat" },
      { name: "first p99", value: (r) => r.broker.cold.p99, format: ms, expect: "flat" },
      { name: "repeat p50", value: (r) => r.broker.warm.p50, format: ms, expect: "flat" },
      { name: "repeat p99", value: (r) => r.broker.warm.p99, format: ms, expect: "flat" },
    ],
    v,
  );
  table(
    "4c. reload after one change, until a token shows it (a token polled every 10 ms)",
    [
      "served: from the write to the first token that shows it = waiting for the watcher + the reload;",
      "reload: the slowest polled token meanwhile (the reload runs on the event loop: every request waits that long);",
      `waiting: the rest, the watcher's poll interval (${WATCH_INTERVAL_MS} ms: ${WATCH_INTERVAL_MS / 2} ms on average, up to ${WATCH_INTERVAL_MS} ms) and the 10 ms poll of the token`,
      "robot: one part file replaced (atomic rename), one entry disabled; roster: the roster file replaced, one customer suspended",
    ],
    rows,
    [
      { name: "robot served", value: (r) => r.broker.robotReload.servedSeconds, format: secs, expect: "flat", floor: 0.5 },
      { name: "of it reload", value: (r) => r.broker.robotReload.stallSeconds, format: secs, expect: "flat", floor: 0.05 },
      { name: "of it waiting", value: (r) => r.broker.robotReload.servedSeconds - r.broker.robotReload.stallSeconds, format: secs, expect: "flat", floor: 0.5 },
      { name: "roster served", value: (r) => r.broker.rosterReload.servedSeconds, format: secs, expect: "linear", floor: 0.5 },
      { name: "of it reload", value: (r) => r.broker.rosterReload.stallSeconds, format: secs, expect: "linear", floor: 0.05 },
      { name: "of it waiting", value: (r) => r.broker.rosterReload.servedSeconds - r.broker.rosterReload.stallSeconds, format: secs, expect: "flat", floor: 0.5 },
    ],
    v,
  );
  table(
    "4d. one robot changes in one shard's Secret, mounted as Kubernetes mounts a projected volume (every file a symlink into ..data; an update swaps ..data)",
    [
      "every part's file changes at once, so every part reloads, and each reload merges every part (runtime/broker/store.ts reloadPart -> merge)",
      "served: until the changed robot's token shows it; all reloaded: until the broker logged its last part reload; CPU: the broker's, meanwhile",
    ],
    rows,
    [
      { name: "served", value: (r) => r.broker.swap.servedSeconds, format: secs, expect: "flat", floor: 0.05 },
      { name: "all reloaded", value: (r) => r.broker.swap.loggedSeconds, format: secs, expect: "flat", floor: 0.05 },
      { name: "part reloads", value: (r) => r.broker.swap.partReloads, format: int, expect: "linear" },
      { name: "CPU", value: (r) => r.broker.swap.cpuSeconds, format: secs, expect: "flat", floor: 0.05 },
      { name: "stall", value: (r) => r.broker.swap.stallSeconds, format: secs, expect: "flat", floor: 0.05 },
    ],
    v,
  );
  for (const r of rows) {
    for (const [name, x] of [["robot", r.broker.robotReload], ["roster", r.broker.rosterReload], ["swap", r.broker.swap]] as const) {
      if (x.timedOut) console.log(`  ${int(r.child.customers)}: the ${name} reload was cut at ${RELOAD_LIMIT_MS / 1000} s (${x.partReloads} part reloads logged by then)`);
    }
  }
  table(
    "5. intake shards --stack prod --base HEAD~1 --json (the bin, a throwaway git project, one customer suspended)",
    [
      `stacks touched: ${rows.map((r) => `${int(r.child.customers)}: ${r.shardsCli.stacks.join(", ")}`).join("; ")}`,
      "100-customer roster: the same project and shard count with a roster of 100, one customer suspended: what the shard count costs alone",
      "(planning/diff.ts affectedStacks asks git for every shard stack's own file at the base: three git processes a shard stack)",
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
    [`the plan's own acl.json for that shard equals the part measured in 3 (hashes aside): checked every run`],
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
  console.log("");
  if (rows.length < 2) console.log("one size only: no growth to judge");
  for (const kind of ["hard limit", "worse than linear", "grows where it should stay flat"] as const) {
    const these = v.filter((x) => x.kind === kind);
    console.log(`${kind === "hard limit" ? "CROSSES A HARD LIMIT" : kind === "worse than linear" ? "WORSE THAN LINEAR" : "GROWS WHERE IT SHOULD STAY FLAT"}: ${these.length ? "" : "none"}`);
    for (const x of these) console.log(`  ${x.measure.split(" (")[0]}: ${x.column}: ${x.text}`);
  }
  return v;
}
