import type { LoadConfig } from "./broker-load";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import bcrypt from "bcrypt";
import pino from "pino";
import { stringify } from "yaml";
import { TokenBroker } from "../runtime/broker/broker";
import { loadSigningKey } from "../runtime/broker/keys";
import { makeKeyPair, writeBrokerFixture } from "../test/e2e/harness";

const SECONDS = 5;
/** Concurrent keep-alive connections: latency grows with the queue, so each level is its own row. */
const LEVELS = [4, 8, 16];
const TARGET = { tokensPerSecond: 2000, p99Ms: 10, underAttackP99Ms: 50, timingGap: 0.1, vsBare: 0.7, vsBareConnections: 8 };
/** Known robots in the attack fixture, and attacking connections. */
const ROBOTS = 60;
const ATTACKERS = 50;

export const about = "tokens/s and p50/p99 beside a bare server; legitimate p99 under a password flood; known/unknown user timing";

export interface LoadResult {
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
}

/** Run the load generator (bench/broker-load.ts) in its own process with this configuration. */
export function load(cfg: LoadConfig): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "broker-load.ts"), JSON.stringify(cfg)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop()!)) : reject(new Error(`load generator exited ${code}`))));
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ok = (x: boolean) => (x ? "met" : "NOT MET");

/**
 * Broker throughput and latency on loopback: the broker in this process (its own core), the
 * load from another process, for a fixed 5 s. Each request authenticates a robot (bcrypt cost
 * 10, as random.RandomPassword hashes, verified once then cached) and signs an ES256 token.
 * Baseline: the same load against a bare HTTP server that answers a fixed JSON body.
 */
export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "broker-bench-"));
  try {
    await throughput(dir);
    await attack(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Tokens/s and latency at several connection counts, beside a bare HTTP server. */
async function throughput(dir: string): Promise<void> {
  const pair = makeKeyPair(dir);
  const files = writeBrokerFixture(dir, { username: "intake-robot-acme", password: "pw", cost: 10 });
  const broker = new TokenBroker({ ...files, key: loadSigningKey(pair.key, pair.cert), service: "svc", issuer: "iss", logger: pino({ level: "warn" }) });
  const port = await broker.listen("127.0.0.1", 0);
  const auth = Buffer.from("intake-robot-acme:pw").toString("base64");
  const url = `http://127.0.0.1:${port}/token?service=svc&scope=repository:intake/acme/app:pull,push`;
  const { createServer } = await import("node:http");
  const bare = createServer((_q, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"token":"x"}');
  });
  const barePort = await new Promise<number>((r) => bare.listen(0, "127.0.0.1", () => r((bare.address() as { port: number }).port)));
  // One second of warm-up (JIT, bcrypt's first verification) that is not measured.
  await load({ url, auth, connections: 4, seconds: 1 });
  const rows: { name: string; connections: number; r: LoadResult }[] = [];
  for (const c of LEVELS) {
    rows.push({ name: "broker", connections: c, r: await load({ url, auth, connections: c, seconds: SECONDS }) });
    rows.push({ name: "bare http", connections: c, r: await load({ url: `http://127.0.0.1:${barePort}/`, connections: c, seconds: SECONDS }) });
  }
  await broker.close();
  bare.close();

  const rate = (x: { ok: number }) => x.ok / SECONDS;
  const bareAt = (connections: number) => rows.find((x) => x.name === "bare http" && x.connections === connections)!.r;
  const vsBare = (connections: number, r: LoadResult) => rate(r) / rate(bareAt(connections));
  console.log(`broker suite: keep-alive connections for ${SECONDS} s each, load from another process, loopback`);
  console.log(["", "connections", "tokens/s", "p50 ms", "p99 ms", "max ms", "errors", "vs bare"].map((h) => h.padStart(13)).join(""));
  for (const { name, connections, r } of rows) {
    const ratio = name === "broker" ? `${vsBare(connections, r).toFixed(2)}x` : "";
    console.log([name, String(connections), rate(r).toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), r.max.toFixed(2), String(r.errors), ratio].map((c) => c.padStart(13)).join(""));
  }
  for (const { connections, r } of rows.filter((x) => x.name === "broker")) {
    console.log(
      `target at ${connections} connections: ${rate(r).toFixed(0)} tokens/s >= ${TARGET.tokensPerSecond} ${ok(rate(r) >= TARGET.tokensPerSecond)}; ` +
        `p99 ${r.p99.toFixed(2)} ms < ${TARGET.p99Ms} ms ${ok(r.p99 < TARGET.p99Ms)} (${vsBare(connections, r).toFixed(2)}x the bare server's rate)`,
    );
  }
  const at = rows.find((x) => x.name === "broker" && x.connections === TARGET.vsBareConnections)!.r;
  const ratio = vsBare(TARGET.vsBareConnections, at);
  console.log(
    `target: >= ${TARGET.vsBare}x the bare server's rate at ${TARGET.vsBareConnections} connections, p99 < ${TARGET.p99Ms} ms: ` +
      `${ratio.toFixed(2)}x, p99 ${at.p99.toFixed(2)} ms ${ok(ratio >= TARGET.vsBare && at.p99 < TARGET.p99Ms)}`,
  );
}

/**
 * A password flood: ${ATTACKERS} connections send wrong passwords for the ${ROBOTS} known robots
 * (bcrypt cost 10) while one robot that has logged in before keeps asking for tokens; beside
 * the same legitimate load alone. Then the time a wrong password takes for a known and an
 * unknown user name, alternated, with throttling off so that bcrypt itself is what is timed.
 */
async function attack(dir: string): Promise<void> {
  const pair = makeKeyPair(dir);
  const key = loadSigningKey(pair.key, pair.cert);
  const ids = Array.from({ length: ROBOTS }, (_, i) => (i === 0 ? "acme" : `cust${String(i).padStart(3, "0")}`));
  const rosterFile = path.join(dir, "attack-roster.yaml");
  const aclFile = path.join(dir, "attack-acl.json");
  writeFileSync(rosterFile, stringify({ customers: ids.map((id) => ({ id, name: id, tier: "enterprise", license: { expires: "2099-12-31" } })) }));
  const hashes = await Promise.all(ids.map((id) => bcrypt.hash(`pw-${id}`, 10)));
  writeFileSync(
    aclFile,
    JSON.stringify({ version: 1, service: "svc", issuer: "iss", entries: ids.map((id, i) => ({ customer: id, username: `intake-robot-${id}`, passwordHash: hashes[i], paths: [`intake/${id}/*`], actions: ["pull", "push"], enabled: true })) }),
  );
  const users = ids.map((id) => `intake-robot-${id}`);
  const legitAuth = Buffer.from("intake-robot-acme:pw-acme").toString("base64");
  const rows: { name: string; legit: LoadResult; attackers?: LoadResult }[] = [];
  for (const mode of ["alone", "one source", `${ATTACKERS} sources`] as const) {
    // A fresh broker per row: no throttling state carried from one row to the next.
    const broker = new TokenBroker({ aclFile, rosterFile, key, service: "svc", issuer: "iss", logger: pino({ level: "silent" }) });
    const port = await broker.listen("127.0.0.1", 0);
    const url = `http://127.0.0.1:${port}/token?service=svc&scope=repository:intake/acme/app:pull,push`;
    await load({ url, auth: legitAuth, connections: 1, seconds: 0.5 }); // the robot has logged in before
    const legit = load({ url, auth: legitAuth, connections: 2, seconds: SECONDS });
    const attackers = mode === "alone" ? undefined : load({ url, connections: ATTACKERS, seconds: SECONDS, attack: { users }, ...(mode === "one source" ? {} : { localAddresses: ATTACKERS }) });
    rows.push({ name: mode === "alone" ? "legitimate alone" : `under attack, ${mode}`, legit: await legit, attackers: await attackers });
    await broker.close();
  }
  console.log(`\npassword flood: ${ATTACKERS} connections of wrong passwords for ${ROBOTS} known robots (bcrypt cost 10), ${SECONDS} s, beside one robot's own token requests (2 connections)`);
  console.log(["", "legit p50 ms", "legit p99 ms", "vs alone", "legit tokens", "attack answers"].map((h, i) => (i === 0 ? h.padEnd(28) : h.padStart(15))).join(""));
  const alone = rows[0].legit;
  for (const r of rows) {
    const answers = r.attackers ? Object.entries(r.attackers.statuses).map(([s, n]) => `${n} x ${s}`).join(", ") : "";
    console.log([r.name.padEnd(28), r.legit.p50.toFixed(2).padStart(15), r.legit.p99.toFixed(2).padStart(15), `${(r.legit.p99 / alone.p99).toFixed(2)}x`.padStart(15), String(r.legit.ok).padStart(15), "  " + answers].join(""));
  }
  const worst = Math.max(...rows.slice(1).map((r) => r.legit.p99));
  console.log(`target: legitimate p99 under attack ${worst.toFixed(2)} ms < ${TARGET.underAttackP99Ms} ms ${ok(worst < TARGET.underAttackP99Ms)}`);

  const broker = new TokenBroker({ aclFile, rosterFile, key, service: "svc", issuer: "iss", logger: pino({ level: "silent" }), authLimits: { userFailures: 1e9, sourceFailures: 1e9 } });
  const port = await broker.listen("127.0.0.1", 0);
  const timeOne = async (user: string) => {
    const t0 = performance.now();
    await fetch(`http://127.0.0.1:${port}/token?service=svc`, { headers: { authorization: `Basic ${Buffer.from(`${user}:wrong`).toString("base64")}` } }).then((r) => r.arrayBuffer());
    return performance.now() - t0;
  };
  const known: number[] = [];
  const unknown: number[] = [];
  for (let i = 0; i < 40; i++) {
    known.push(await timeOne(users[i % users.length]));
    unknown.push(await timeOne(`intake-robot-ghost${i}`));
  }
  await broker.close();
  const gap = Math.abs(median(unknown) - median(known)) / median(known);
  console.log(`\nwrong password, 40 each alternated: known user median ${median(known).toFixed(1)} ms, unknown user ${median(unknown).toFixed(1)} ms (unknown/known ${(median(unknown) / median(known)).toFixed(2)}x)`);
  console.log(`target: timing difference ${(gap * 100).toFixed(1)} % < ${TARGET.timingGap * 100} % ${ok(gap < TARGET.timingGap)}`);
}
