import type { LoadConfig } from "./broker-load";
import { spawn } from "node:child_process";
import { createServer, request as httpRequest } from "node:http";
import { randomUUID, sign } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import bcrypt from "bcrypt";
import pino from "pino";
import { stringify } from "yaml";
import { TokenBroker } from "../runtime/broker/broker";
import { loadSigningKey } from "../runtime/broker/keys";
import { freePort, makeKeyPair, writeBrokerFixture } from "../testing/e2e";
import type { SuiteOptions } from "./run";

const SECONDS = 5;
/** Concurrent keep-alive connections: latency grows with the queue, so each level is its own row. */
/** Connections per wrk row. */
const WRK_LEVELS = [8, 32];
const TARGET = { vsFloor: 0.7, p99VsFloor: 2, underAttackP99Ms: 50, timingGap: 0.1 };
/** Known robots in the attack fixture, and attacking connections. */
const ROBOTS = 60;
const ATTACKERS = 50;

export const about =
  "tokens/s and p50/p99 with wrk beside an ES256 signing floor and a bare server; legitimate p99 under a password flood; a robot's token while its password is guessed; refused-login timing; options --docker-auth=BINARY, --only=throughput|beside|attack";

export interface LoadResult {
  ok: number;
  errors: number;
  statuses: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
  elapsedMs: number;
}

/** Run the load generator (bench/broker-load.ts) in its own process with this configuration. */
export function load(cfg: LoadConfig): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "broker-load.ts"), JSON.stringify(cfg)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop()!)) : reject(new Error(`load generator exited ${code}`))));
  });
}

/** First-login runs of each server, taken in turn. */
const FIRST_REPS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ok = (x: boolean) => (x ? "met" : "NOT MET");

/**
 * Broker throughput and latency on loopback: the broker in this process (its own core), the
 * load from another process, for a fixed 5 s. Each request authenticates a robot (bcrypt cost
 * 10, as random.RandomPassword hashes, verified once then cached) and signs an ES256 token.
 * Baseline: the same load against a bare HTTP server that answers a fixed JSON body.
 */
export async function run(opts: SuiteOptions = {}): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "broker-bench-"));
  try {
    const only = opts.only;
    if (only !== undefined && !["throughput", "beside", "attack"].includes(only)) throw new Error(`--only must be throughput, beside or attack (got ${only})`);
    if (!only || only === "throughput") await throughput(dir);
    if (!only || only === "beside") await beside(dir, opts["docker-auth"]);
    if (!only || only === "attack") await attack(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The broker beside cesanta/docker_auth with the same users, key and bcrypt hashes: repeat logins
 * of one robot (wrk, tokens/s) and first logins of 100 robots (each once, 8 at a time; both are
 * bcrypt-bound). docker_auth is not on the Go module proxy: pass `--docker-auth=BINARY`, built
 * from its source (`go build` in its auth_server folder); without it this says so and moves on.
 */
async function beside(dir: string, bin: string | undefined): Promise<void> {
  if (!bin || bin === "true" || !existsSync(bin)) {
    console.log(
      "\ndocker_auth: not measured (pass --docker-auth=BINARY, built with `go build` in cesanta/docker_auth's auth_server folder: it is not on the Go module proxy)",
    );
    return;
  }
  const USERS = 100;
  const pair = makeKeyPair(dir);
  const key = loadSigningKey(pair.key, pair.cert);
  const ids = Array.from({ length: USERS }, (_, i) => `da${String(i).padStart(3, "0")}`);
  const hashes = await Promise.all(ids.map((id) => bcrypt.hash(`pw-${id}`, 10)));
  const rosterFile = path.join(dir, "da-roster.yaml");
  const aclFile = path.join(dir, "da-acl.json");
  writeFileSync(rosterFile, stringify({ customers: ids.map((id) => ({ id, name: id, tier: "enterprise", license: { expires: "2099-12-31" } })) }));
  writeFileSync(
    aclFile,
    JSON.stringify({
      version: 1,
      service: "svc",
      issuer: "iss",
      entries: ids.map((id, i) => ({
        customer: id,
        username: `intake-robot-${id}`,
        passwordHash: hashes[i],
        paths: [`intake/${id}/*`],
        actions: ["pull", "push"],
        enabled: true,
      })),
    }),
  );
  const daPort = await freePort();
  const daConfig = path.join(dir, "docker_auth.yml");
  writeFileSync(
    daConfig,
    stringify({
      server: { addr: `127.0.0.1:${daPort}` },
      token: { issuer: "iss", expiration: 300, certificate: pair.cert, key: pair.key },
      users: Object.fromEntries(ids.map((id, i) => [`intake-robot-${id}`, { password: hashes[i] }])),
      acl: ids.map((id) => ({ match: { account: `intake-robot-${id}`, name: `intake/${id}/*` }, actions: ["pull", "push"] })),
    }),
  );
  const da = spawn(bin, [daConfig], { stdio: ["ignore", "ignore", "pipe"], detached: true });
  let daErr = "";
  da.stderr!.on("data", (d) => (daErr += d));
  const made = async (n: number) => {
    // A fresh broker per measure: no password remembered from the one before.
    const broker = new TokenBroker({ aclFile, rosterFile, key, service: "svc", issuer: "iss", logger: pino({ level: "silent" }) });
    return { broker, port: await broker.listen("127.0.0.1", 0), n };
  };
  try {
    const daBase = `http://127.0.0.1:${daPort}/auth?service=svc&scope=repository:intake/${ids[0]}/app:pull,push`;
    for (let t0 = Date.now(); ;) {
      const up = await fetch(`http://127.0.0.1:${daPort}/`)
        .then(() => true)
        .catch(() => false);
      if (up) break;
      if (Date.now() - t0 > 10_000 || da.exitCode !== null) throw new Error(`docker_auth did not start: ${daErr.trim().split("\n").slice(-2).join(" | ")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const auth0 = Buffer.from(`intake-robot-${ids[0]}:pw-${ids[0]}`).toString("base64");
    const check = await fetch(daBase, { headers: { authorization: `Basic ${auth0}` } });
    if (check.status !== 200) throw new Error(`docker_auth answered ${check.status}: ${await check.text()}`);
    const { broker, port } = await made(0);
    const brokerUrl = `http://127.0.0.1:${port}/token?service=svc&scope=repository:intake/${ids[0]}/app:pull,push`;
    await wrk(brokerUrl, 4, 1, auth0); // warm-up, the robot's password verified once
    const repeat: string[] = [];
    for (const c of WRK_LEVELS) {
      const b = await wrk(brokerUrl, c, SECONDS, auth0);
      const d = await wrk(daBase, c, SECONDS, auth0);
      repeat.push(
        `  repeat logins, ${String(c).padStart(2)} connections: broker ${b.rate.toFixed(0)} tokens/s (p99 ${b.p99.toFixed(2)} ms), docker_auth ${d.rate.toFixed(0)} (p99 ${d.p99.toFixed(2)} ms): ${(b.rate / d.rate).toFixed(0)}x`,
      );
    }
    await broker.close();
    /**
     * Each robot logs in once, 8 at a time, from the load generator's own process (as wrk is for
     * docker_auth): logins per second. A fresh broker each time remembers no password.
     */
    const firsts = async (url: (id: string) => string) => {
      const r = await load({
        url: "",
        connections: 8,
        seconds: 0,
        targets: ids.map((id) => ({ url: url(id), auth: Buffer.from(`intake-robot-${id}:pw-${id}`).toString("base64") })),
        requests: ids.length,
      });
      return { rate: r.ok / (r.elapsedMs / 1000), bad: ids.length - r.ok };
    };
    const brokerFirsts = async () => {
      const fresh = await made(0);
      try {
        return await firsts((id) => `http://127.0.0.1:${fresh.port}/token?service=svc&scope=repository:intake/${id}/app:pull`);
      } finally {
        await fresh.broker.close();
      }
    };
    const daFirsts = () => firsts((id) => `http://127.0.0.1:${daPort}/auth?service=svc&scope=repository:intake/${id}/app:pull`);
    // Taken in turn, FIRST_REPS times each: the ratio of each pair, then their median.
    const pairs: { b: { rate: number; bad: number }; d: { rate: number; bad: number } }[] = [];
    for (let i = 0; i < FIRST_REPS; i++) {
      const b = await brokerFirsts();
      pairs.push({ b, d: await daFirsts() });
    }
    const ratios = pairs.map((p) => p.b.rate / p.d.rate);
    const bf = { rate: median(pairs.map((p) => p.b.rate)), bad: pairs.reduce((n, p) => n + p.b.bad, 0) };
    const df = { rate: median(pairs.map((p) => p.d.rate)), bad: pairs.reduce((n, p) => n + p.d.bad, 0) };
    console.log(`\nbeside cesanta/docker_auth (${path.basename(bin)}), the same ${USERS} robots, key and bcrypt hashes (cost 10), wrk ${SECONDS} s per row`);
    for (const l of repeat) console.log(l);
    const r = median(ratios);
    console.log(
      `  first logins, ${USERS} robots once each, 8 at a time, ${FIRST_REPS} runs in turn: broker ${bf.rate.toFixed(1)}/s, docker_auth ${df.rate.toFixed(1)}/s (medians); ` +
        `paired ratio ${r.toFixed(2)}x (range ${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})${bf.bad + df.bad ? ` (refused: broker ${bf.bad}, docker_auth ${df.bad})` : ""}`,
    );
    console.log(`target: first logins >= 1.0x docker_auth: ${ok(r >= 1 && bf.bad === 0)}`);
  } finally {
    if (da.pid && da.exitCode === null) process.kill(-da.pid, "SIGTERM");
  }
}

/** One wrk run: tokens/s and latency percentiles (ms), or undefined when wrk is not on PATH. */
function wrk(url: string, connections: number, seconds: number, auth?: string): Promise<{ rate: number; p50: number; p99: number; errors: number }> {
  return new Promise((resolve, reject) => {
    const args = ["-t", "2", "-c", String(connections), "-d", `${seconds}s`, "--latency", ...(auth ? ["-H", `Authorization: Basic ${auth}`] : []), url];
    const child = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${out}`));
      const ms = (v: string, unit: string) => Number(v) * (unit === "us" ? 0.001 : unit === "s" ? 1000 : 1);
      const pct = (p: string) => {
        const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, "m").exec(out);
        return m ? ms(m[1], m[2]) : NaN;
      };
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      resolve({
        rate: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
        p50: pct("50"),
        p99: pct("99"),
        errors: non2xx + (socket ? socket.slice(1).reduce((n, x) => n + Number(x), 0) : 0),
      });
    });
  });
}

const onPath = (cmd: string) => (process.env.PATH ?? "").split(path.delimiter).some((d) => d && existsSync(path.join(d, cmd)));

/**
 * The least a token service must do per request: decode nothing, check nothing, sign one ES256
 * JWT of the broker's shape (header with x5c, the same claims) with the same key, write the JSON.
 */
function signingFloor(key: ReturnType<typeof loadSigningKey>) {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  const header = b64({ alg: key.alg, typ: "JWT", x5c: key.x5c });
  return createServer((_q, res) => {
    const now = Math.floor(Date.now() / 1000);
    const body = `${header}.${b64({ iss: "iss", sub: "intake-robot-acme", aud: "svc", exp: now + 300, nbf: now, iat: now, jti: randomUUID(), access: [{ type: "repository", name: "intake/acme/app", actions: ["pull", "push"] }] })}`;
    const token = `${body}.${sign("sha256", Buffer.from(body), { key: key.privateKey, dsaEncoding: "ieee-p1363" }).toString("base64url")}`;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }));
  });
}

/**
 * Tokens/s and latency with wrk (Debian's) as the load generator, beside a signing floor (one
 * ES256 signature per request with the same key: what any token service must do) and a bare
 * server answering a fixed body; without wrk, the Node load generator against the bare server.
 */
async function throughput(dir: string): Promise<void> {
  const pair = makeKeyPair(dir);
  const files = writeBrokerFixture(dir, { username: "intake-robot-acme", password: "pw", cost: 10 });
  const key = loadSigningKey(pair.key, pair.cert);
  const broker = new TokenBroker({ ...files, key, service: "svc", issuer: "iss", logger: pino({ level: "warn" }) });
  const port = await broker.listen("127.0.0.1", 0);
  const auth = Buffer.from("intake-robot-acme:pw").toString("base64");
  const url = `http://127.0.0.1:${port}/token?service=svc&scope=repository:intake/acme/app:pull,push`;
  const listen = async (server: ReturnType<typeof createServer>) =>
    new Promise<number>((r) => server.listen(0, "127.0.0.1", () => r((server.address() as { port: number }).port)));
  const floor = signingFloor(key);
  const floorUrl = `http://127.0.0.1:${await listen(floor)}/token`;
  const bare = createServer((_q, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"token":"x"}');
  });
  const bareUrl = `http://127.0.0.1:${await listen(bare)}/`;
  try {
    // One second of warm-up (JIT, bcrypt's first verification) that is not measured.
    await load({ url, auth, connections: 4, seconds: 1 });
    if (!onPath("wrk")) {
      console.log("broker suite: wrk is not on PATH (apt-get install wrk): the Node load generator instead, beside the bare server only");
      for (const c of [8, 32]) {
        const r = await load({ url, auth, connections: c, seconds: SECONDS });
        const b = await load({ url: bareUrl, connections: c, seconds: SECONDS });
        console.log(`  ${c} connections: broker ${(r.ok / SECONDS).toFixed(0)} tokens/s, p99 ${r.p99.toFixed(2)} ms; bare ${(b.ok / SECONDS).toFixed(0)}/s`);
      }
      return;
    }
    const rows: { name: string; connections: number; r: Awaited<ReturnType<typeof wrk>> }[] = [];
    for (const c of WRK_LEVELS) {
      rows.push({ name: "broker", connections: c, r: await wrk(url, c, SECONDS, auth) });
      rows.push({ name: "ES256 floor", connections: c, r: await wrk(floorUrl, c, SECONDS) });
      rows.push({ name: "bare http", connections: c, r: await wrk(bareUrl, c, SECONDS) });
    }
    console.log(`broker suite: wrk (2 threads) for ${SECONDS} s per row, keep-alive, loopback; the floor signs one ES256 JWT per request with the same key`);
    console.log(["", "connections", "tokens/s", "p50 ms", "p99 ms", "errors", "vs floor"].map((h) => h.padStart(13)).join(""));
    const at = (name: string, c: number) => rows.find((x) => x.name === name && x.connections === c)!.r;
    for (const { name, connections, r } of rows) {
      const ratio = name === "ES256 floor" ? "" : `${(r.rate / at("ES256 floor", connections).rate).toFixed(2)}x`;
      console.log(
        [name, String(connections), r.rate.toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), String(r.errors), ratio].map((x) => x.padStart(13)).join(""),
      );
    }
    for (const c of WRK_LEVELS) {
      const b = at("broker", c);
      const f = at("ES256 floor", c);
      const met = b.rate >= TARGET.vsFloor * f.rate && b.p99 <= TARGET.p99VsFloor * f.p99 && b.errors === 0;
      console.log(
        `target at ${c} connections: >= ${TARGET.vsFloor}x the floor's tokens/s (${(b.rate / f.rate).toFixed(2)}x), p99 <= ${TARGET.p99VsFloor}x the floor's (${(b.p99 / f.p99).toFixed(2)}x), no errors: ${ok(met)}`,
      );
    }
  } finally {
    await broker.close();
    floor.close();
    bare.close();
  }
}

/**
 * A password flood: ${ATTACKERS} connections send wrong passwords for the ${ROBOTS} known robots
 * (bcrypt cost 10) while one robot that has logged in before keeps asking for tokens; beside
 * the same legitimate load alone. Then a robot's first token while it is guessed (lockout), and
 * the time a refused login takes by case (timing).
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
    JSON.stringify({
      version: 1,
      service: "svc",
      issuer: "iss",
      entries: ids.map((id, i) => ({
        customer: id,
        username: `intake-robot-${id}`,
        passwordHash: hashes[i],
        paths: [`intake/${id}/*`],
        actions: ["pull", "push"],
        enabled: true,
      })),
    }),
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
    const attackers =
      mode === "alone"
        ? undefined
        : load({ url, connections: ATTACKERS, seconds: SECONDS, attack: { users }, ...(mode === "one source" ? {} : { localAddresses: ATTACKERS }) });
    rows.push({ name: mode === "alone" ? "legitimate alone" : `under attack, ${mode}`, legit: await legit, attackers: await attackers });
    await broker.close();
  }
  console.log(
    `\npassword flood: ${ATTACKERS} connections of wrong passwords for ${ROBOTS} known robots (bcrypt cost 10), ${SECONDS} s, beside one robot's own token requests (2 connections)`,
  );
  console.log(
    ["", "legit p50 ms", "legit p99 ms", "vs alone", "legit tokens", "attack answers"].map((h, i) => (i === 0 ? h.padEnd(28) : h.padStart(15))).join(""),
  );
  const alone = rows[0].legit;
  for (const r of rows) {
    const answers = r.attackers
      ? Object.entries(r.attackers.statuses)
          .map(([s, n]) => `${n} x ${s}`)
          .join(", ")
      : "";
    console.log(
      [
        r.name.padEnd(28),
        r.legit.p50.toFixed(2).padStart(15),
        r.legit.p99.toFixed(2).padStart(15),
        `${(r.legit.p99 / alone.p99).toFixed(2)}x`.padStart(15),
        String(r.legit.ok).padStart(15),
        "  " + answers,
      ].join(""),
    );
  }
  const worst = Math.max(...rows.slice(1).map((r) => r.legit.p99));
  console.log(`target: legitimate p99 under attack ${worst.toFixed(2)} ms < ${TARGET.underAttackP99Ms} ms ${ok(worst < TARGET.underAttackP99Ms)}`);

  await lockout({ aclFile, rosterFile, key });
  await timing(dir, { rosterFile, key, hashes, users });
}

/** One token request from `localAddress`: its status and Retry-After. */
function tokenFrom(url: string, auth: string, localAddress: string): Promise<{ status: number; retryAfter: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { localAddress, headers: { authorization: `Basic ${Buffer.from(auth).toString("base64")}` } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode!, retryAfter: Number(res.headers["retry-after"] ?? 1) }));
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * A robot whose password is no longer remembered (as after 15 min idle) while ${ATTACKERS}
 * sources guess it: the time its right password takes to get a token, following 429's
 * Retry-After as a registry client would, from the address it logged in from before and from
 * one it never used.
 */
async function lockout(o: { aclFile: string; rosterFile: string; key: ReturnType<typeof loadSigningKey> }): Promise<void> {
  const rows: string[] = [];
  let usual = Infinity;
  for (const [name, address] of [
    ["from its usual address", "127.0.0.1"],
    ["from a new address", "127.0.0.200"],
  ] as const) {
    // verifiedTtlMs 1: the verified password is forgotten at once, as after 15 min idle.
    const broker = new TokenBroker({ ...o, service: "svc", issuer: "iss", logger: pino({ level: "silent" }), authLimits: { verifiedTtlMs: 1 } });
    const port = await broker.listen("127.0.0.1", 0);
    const url = `http://127.0.0.1:${port}/token?service=svc&scope=repository:intake/acme/app:pull`;
    if ((await tokenFrom(url, "intake-robot-acme:pw-acme", "127.0.0.1")).status !== 200) throw new Error("the robot's first login failed");
    const guessing = load({ url, connections: ATTACKERS, seconds: 4, attack: { users: ["intake-robot-acme"] }, localAddresses: ATTACKERS });
    await new Promise((r) => setTimeout(r, 2000));
    const t0 = performance.now();
    let tries = 0;
    let status = 0;
    while (status !== 200 && performance.now() - t0 < 30_000) {
      tries++;
      const r = await tokenFrom(url, "intake-robot-acme:pw-acme", address);
      status = r.status;
      if (status === 429) await new Promise((res) => setTimeout(res, r.retryAfter * 1000));
    }
    const ms = performance.now() - t0;
    const attackers = await guessing;
    await broker.close();
    if (address === "127.0.0.1") usual = status === 200 ? ms : Infinity;
    const answers = Object.entries(attackers.statuses)
      .map(([s, n]) => `${n} x ${s}`)
      .join(", ");
    rows.push(`${name.padEnd(28)}${ms.toFixed(0).padStart(10)}${String(tries).padStart(8)}${String(status).padStart(8)}    ${answers}`);
  }
  console.log(
    `\nlockout: ${ATTACKERS} sources guess intake-robot-acme's password for 4 s; after 2 s the robot, its password no longer remembered, asks with it (Retry-After followed)`,
  );
  console.log(`${"".padEnd(28)}${"ms".padStart(10)}${"tries".padStart(8)}${"status".padStart(8)}    guesses answered`);
  for (const r of rows) console.log(r);
  console.log(
    `target: from its usual address, the robot's token within 1000 ms: ${usual.toFixed(0)} ms ${ok(usual < 1000)} (a new address waits for the guessing sources' own first checks)`,
  );
}

/**
 * The time a refused login takes, throttling off so that the checks themselves are timed: a known
 * robot's wrong password, an unknown name, a robot in a rotation's overlap (two hashes), and an
 * offline-credential-shaped password for a known robot; 200 each, taken in turn.
 */
async function timing(dir: string, o: { rosterFile: string; key: ReturnType<typeof loadSigningKey>; hashes: string[]; users: string[] }): Promise<void> {
  const aclFile = path.join(dir, "timing-acl.json");
  const previous = await bcrypt.hash("pw-before", 10);
  const ids = o.users.map((u) => u.replace(/^intake-robot-/, ""));
  writeFileSync(
    aclFile,
    JSON.stringify({
      version: 1,
      service: "svc",
      issuer: "iss",
      entries: ids.map((id, i) => ({
        customer: id,
        username: o.users[i],
        passwordHash: o.hashes[i],
        paths: [`intake/${id}/*`],
        actions: ["pull", "push"],
        enabled: true,
        ...(i === 1 ? { previousPasswordHash: previous, previousUntil: "2099-12-31" } : {}),
      })),
    }),
  );
  const broker = new TokenBroker({
    aclFile,
    rosterFile: o.rosterFile,
    key: o.key,
    service: "svc",
    issuer: "iss",
    logger: pino({ level: "silent" }),
    authLimits: { pairFailures: 1e9, sourceFailures: 1e9, userFailures: 1e9 },
  });
  const port = await broker.listen("127.0.0.1", 0);
  const timeOne = async (user: string, password: string) => {
    const t0 = performance.now();
    await fetch(`http://127.0.0.1:${port}/token?service=svc`, {
      headers: { authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` },
    }).then((r) => r.arrayBuffer());
    return performance.now() - t0;
  };
  const jwtShaped = `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: o.users[0] })).toString("base64url")}.c2ln`;
  const cases = [
    { name: "known robot", user: () => o.users[0], password: () => "wrong" },
    { name: "unknown name", user: (i: number) => `intake-robot-ghost${i}`, password: () => "wrong" },
    { name: "robot in an overlap", user: () => o.users[1], password: () => "wrong" },
    { name: "JWT-shaped password", user: () => o.users[0], password: () => jwtShaped },
  ];
  const times = cases.map(() => [] as number[]);
  const TRIES = 200;
  for (let i = 0; i < TRIES; i++) for (const [c, k] of cases.entries()) times[c].push(await timeOne(k.user(i), k.password()));
  await broker.close();
  const medians = times.map(median);
  const base = medians[0];
  console.log(`
refused login, ${TRIES} each taken in turn (bcrypt cost 10, throttling off): median ms and ratio to a known robot's wrong password`);
  for (const [c, k] of cases.entries())
    console.log(`${k.name.padEnd(28)}${medians[c].toFixed(1).padStart(10)}${`${(medians[c] / base).toFixed(2)}x`.padStart(10)}`);
  const gap = Math.max(...medians.map((m) => Math.abs(m - base) / base));
  console.log(`target: largest timing difference ${(gap * 100).toFixed(1)} % < ${TARGET.timingGap * 100} % ${ok(gap < TARGET.timingGap)}`);
}
