// The broker as an attacker and an operator meet it: malformed requests, password floods,
// revocations that must apply at once, and logs that must hold no secret.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import * as path from "node:path";
import bcryptjs from "bcryptjs";
import { decodeJwt, SignJWT } from "jose";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import bcrypt from "bcrypt";
import { HASH_CHECKS } from "../../../../runtime/broker/auth";
import { stringify } from "yaml";
import { credentialAudience, mintRobotCredential, TokenBroker } from "../../../../runtime/broker/broker";
import { loadSigningKey, type SigningKey } from "../../../../runtime/broker/keys";
import { customer } from "../../../../testing/helpers";
import { e2eUnavailable, freePort, makeKeyPair } from "../../../../testing/e2e";
import { labelValues, parseExposition, sampleSum } from "../../../../testing/prom-text";
import { tempDir } from "../../../../testing/tmp";

const ROOT = path.resolve(__dirname, "../../../..");
const unavailable = e2eUnavailable();
if (unavailable) console.log(`skipping the broker hardening tests: ${unavailable}`);

const scratch = () => tempDir("broker-hard-");

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;
const hash = (pw: string) => bcryptjs.hashSync(pw, 4);
const robot = (id: string, pw: string, over: Record<string, unknown> = {}) => ({
  customer: id,
  username: `intake-robot-${id}`,
  passwordHash: hash(pw),
  paths: [`intake/${id}/*`],
  actions: ["pull", "push"],
  enabled: true,
  ...over,
});
const acl = (entries: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ version: 1, service: "svc", issuer: "iss", entries, ...extra });

/** Poll `probe` until it is true; returns the milliseconds it took, or throws past `limitMs`. */
async function within(limitMs: number, probe: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      if (await probe()) return Date.now() - t0;
    } catch (e) {
      last = e; // not yet: e.g. a 401 while a reload is pending
    }
    if (Date.now() - t0 > limitMs) throw new Error(`not within ${limitMs} ms${last ? ` (last: ${(last as Error).message})` : ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** One raw HTTP exchange: `request` bytes as written, the status line answered (or "closed" when the server closed without one). */
function raw(port: number, request: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, "127.0.0.1");
    let got = "";
    const done = (v: string) => {
      s.destroy();
      resolve(v);
    };
    s.setTimeout(10_000, () => done("timeout"));
    s.on("data", (d) => {
      got += d.toString("latin1");
      const line = got.indexOf("\r\n");
      if (line >= 0) done(got.slice(0, line));
    });
    s.on("error", () => done(got ? got.split("\r\n")[0] : "closed"));
    s.on("end", () => done(got ? got.split("\r\n")[0] : "closed"));
    s.write(request);
  });
}

/** A seeded generator of malformed requests: paths, methods, headers, bodies and scopes. */
function* malformed(count: number, seed = 1): Generator<string | Buffer> {
  let x = seed;
  const rnd = (n: number) => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x % n;
  };
  const pick = <T>(a: readonly T[]) => a[rnd(a.length)];
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => rnd(256)));
  const paths = [
    "//",
    "//?x",
    "/\\",
    "//%zz",
    "//x:99999",
    "/token",
    "/token?scope=%",
    "/auth/token?service=svc&scope=repository:intake/acme/app:pull",
    "/%",
    "/..%2f..%2fetc",
    "/token?" + "scope=repository:a:pull&".repeat(80),
    "/registry/credentials?customer=%00&kind=ecr",
    "*",
    "http://evil/token",
    "/healthz#x",
    "/token?service=%E0%A4%A",
    "/" + "a".repeat(9000),
  ];
  const methods = ["GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH", "G\0ET", "CONNECT", "BREW", ""];
  const auths = [
    "Basic",
    "Basic !!!",
    "Basic " + Buffer.from("intake-robot-acme:wrong").toString("base64"),
    "Basic " + Buffer.from(":").toString("base64"),
    "Basic " + Buffer.from("\u0000:\uffff").toString("base64"),
    "Bearer x",
    "Basic " + "QQ==".repeat(1000),
    "Basic " + Buffer.from("intake-robot-acme:eyJ.a.b").toString("base64"),
    "Basic " + Buffer.from("x".repeat(300) + ":y").toString("base64"),
  ];
  const scopes = [
    "repository:intake/acme/app:pull",
    "repository::",
    ":::",
    "repository:intake/../globex/app:pull,push",
    "registry:catalog:*",
    "repository(x:intake/acme/app:pull",
    "%ff%fe",
  ];
  for (let i = 0; i < count; i++) {
    const kind = rnd(6);
    if (kind === 0) {
      yield bytes(1 + rnd(200)); // not HTTP at all
      continue;
    }
    const method = pick(methods);
    const target = kind === 1 ? pick(paths) : `/token?service=${pick(["svc", "other", "%", ""])}&scope=${encodeURIComponent(pick(scopes))}`;
    const headers = [`Host: ${pick(["127.0.0.1", "", "x".repeat(100)])}`];
    if (rnd(2)) headers.push(`Authorization: ${pick(auths)}`);
    let body = "";
    if (method === "POST" || rnd(4) === 0) {
      body = pick([
        "grant_type=password&username=intake-robot-acme&password=x&scope=" + pick(scopes),
        "grant_type=refresh_token",
        "%%%",
        "a=".repeat(5000),
        "grant_type=password&username=&password=",
      ]);
      headers.push(
        rnd(3)
          ? `Content-Length: ${body.length}`
          : pick(["Content-Length: -1", "Content-Length: 99999999", "Transfer-Encoding: chunked", "Content-Length: 1, 2"]),
      );
    }
    if (rnd(5) === 0)
      headers.push(pick(["X: \u0001", "Bad Header", "Content-Type: application/x-www-form-urlencoded; charset=%", "Connection: upgrade\r\nUpgrade: h2c"]));
    yield `${method} ${target} HTTP/1.1\r\n${headers.join("\r\n")}\r\nConnection: close\r\n\r\n${body}`;
  }
}

describe.skipIf(!!unavailable)("the broker process under malformed requests (fuzz)", () => {
  let child: ChildProcess;
  let port: number;
  let metricsPort: number;
  let dir: string;
  let key: SigningKey;
  let stderr = "";

  beforeAll(async () => {
    dir = scratch();
    const pair = makeKeyPair(dir);
    key = loadSigningKey(pair.key, pair.cert);
    writeFileSync(path.join(dir, "roster.yaml"), stringify({ customers: [customer("acme", "enterprise", { license: { expires: "2099-12-31" } })] }));
    writeFileSync(path.join(dir, "acl.json"), acl([robot("acme", "right-password")]));
    port = await freePort();
    metricsPort = await freePort();
    child = spawn(
      process.execPath,
      [
        path.join(ROOT, "cli/bin/intake.js"),
        "broker",
        "--project",
        ROOT,
        "--acl",
        path.join(dir, "acl.json"),
        "--roster",
        path.join(dir, "roster.yaml"),
        "--listen",
        `127.0.0.1:${port}`,
        "--key",
        pair.key,
        "--cert",
        pair.cert,
        "--service",
        "svc",
        "--issuer",
        "iss",
        "--metrics-listen",
        `127.0.0.1:${metricsPort}`,
      ],
      { stdio: ["ignore", "ignore", "pipe"], detached: true },
    );
    child.stderr!.on("data", (d) => (stderr += d));
    await within(
      20_000,
      async () =>
        (await fetch(`http://127.0.0.1:${port}/healthz`)
          .then((r) => r.ok)
          .catch(() => false)) || child.exitCode !== null,
    );
    expect(child.exitCode).toBeNull();
  }, 30_000);

  afterAll(() => {
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, "SIGKILL");
  });

  it("answers each of the requests that used to end the process, then thousands of malformed ones, and still issues correct tokens", async () => {
    // The legitimate robot logs in first, as a running registry client would have.
    const tokenNow = async (pw: string) =>
      fetch(`http://127.0.0.1:${port}/token?service=svc&scope=repository:intake/acme/app:pull,push&scope=repository:intake/globex/app:pull`, {
        headers: { authorization: basic("intake-robot-acme", pw) },
      });
    expect((await tokenNow("right-password")).status).toBe(200);

    for (const target of ["//", "//?x", "/\\", "//%zz", "//x:99999"]) {
      expect(await raw(port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`)).toBe("HTTP/1.1 400 Bad Request");
    }
    const answers = new Map<string, number>();
    const unanswered: string[] = [];
    const gen = malformed(3000);
    const worker = async () => {
      for (let next = gen.next(); !next.done; next = gen.next()) {
        const line = await raw(port, next.value);
        const key = /^HTTP\/1\.1 \d{3}/.test(line) ? line.slice(9, 12) : line;
        answers.set(key, (answers.get(key) ?? 0) + 1);
        if (!/^\d{3}$/.test(key) && unanswered.length < 5) unanswered.push(JSON.stringify(next.value.toString()).slice(0, 300));
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    // Every request got an HTTP answer (a status line), none hung, none met a dead process.
    const total = [...answers.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(3000);
    const statuses = [...answers.keys()];
    expect(unanswered).toEqual([]);
    for (const s of statuses) expect(s).toMatch(/^\d{3}$/);
    expect(statuses).not.toContain("500");
    expect(child.exitCode).toBeNull();
    expect(stderr).not.toMatch(/internal error|Unhandled|TypeError/);

    // Still correct: the robot's own path with its actions, nothing of globex.
    const ok = await tokenNow("right-password");
    expect(ok.status).toBe(200);
    expect(decodeJwt(((await ok.json()) as { token: string }).token).access).toEqual([
      { type: "repository", name: "intake/acme/app", actions: ["pull", "push"] },
    ]);
    const { password } = await mintRobotCredential(key, { username: "intake-robot-acme", service: "svc", issuer: "iss" });
    const viaCredential = await tokenNow(password);
    expect(viaCredential.status).toBe(200);
    expect(decodeJwt(((await viaCredential.json()) as { token: string }).token).access).toEqual([
      { type: "repository", name: "intake/acme/app", actions: ["pull", "push"] },
    ]);
  }, 120_000);

  it("after the fuzz, /metrics (on --metrics-listen only) holds fixed words and the one roster id in its labels, and the process metrics", async () => {
    expect(stderr).toContain(`intake broker: metrics on http://127.0.0.1:${metricsPort}/metrics`);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
    const r = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(r.status).toBe(200);
    const samples = parseExposition(await r.text());
    const values = labelValues(samples);
    // Thousands of made-up names, passwords and paths were sent; none of them is a label value.
    expect([...values.get("customer")!].sort()).toEqual(expect.arrayContaining(["_unknown", "acme"]));
    for (const c of values.get("customer")!) expect(["_unknown", "_anonymous", "_delivery", "acme"]).toContain(c);
    for (const r of values.get("reason")!) expect(r).toMatch(/^[a-z_]+$/);
    expect([...values.get("route")!].every((v) => ["token", "credentials", "healthz", "other"].includes(v))).toBe(true);
    expect(sampleSum(samples, "intake_broker_tokens_issued_total", { customer: "acme" })).toBeGreaterThanOrEqual(3);
    expect(sampleSum(samples, "intake_broker_auth_failures_total", { reason: "wrong_password" })).toBeGreaterThan(0);
    expect(sampleSum(samples, "intake_broker_request_duration_seconds_count", { route: "token", status_class: "4xx" })).toBeGreaterThan(0);
    expect(sampleSum(samples, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
  });
});

describe.skipIf(!!unavailable)("revocation, credentials and logs", () => {
  let dir: string;
  let key: SigningKey;
  let broker: TokenBroker;
  let base: string;
  const logs: string[] = [];
  const rosterOf = (over: Record<string, Record<string, unknown>> = {}) =>
    stringify({ customers: ["acme", "globex", "initech"].map((id) => customer(id, "enterprise", { license: { expires: "2099-12-31" }, ...over[id] })) });
  let parts: string;

  beforeAll(async () => {
    dir = scratch();
    const pair = makeKeyPair(dir);
    key = loadSigningKey(pair.key, pair.cert);
    parts = path.join(dir, "acl");
    mkdirSync(parts);
    writeFileSync(path.join(dir, "roster.yaml"), rosterOf());
    writeFileSync(path.join(parts, "shard-00.json"), acl([robot("acme", "pw-acme")]));
    writeFileSync(path.join(parts, "shard-01.json"), acl([robot("globex", "pw-globex"), robot("initech", "pw-initech")]));
    broker = new TokenBroker({
      aclFile: parts,
      rosterFile: path.join(dir, "roster.yaml"),
      key,
      service: "svc",
      issuer: "iss",
      watchIntervalMs: 50,
      logger: pino({}, { write: (s: string) => void logs.push(s) }),
    });
    base = `http://127.0.0.1:${await broker.listen("127.0.0.1", 0)}`;
  });
  afterAll(() => broker?.close());

  const access = async (user: string, pw: string, scope = `repository:intake/${user.replace("intake-robot-", "")}/app:pull,push`) => {
    const r = await fetch(`${base}/token?service=svc&scope=${scope}`, { headers: { authorization: basic(user, pw) } });
    expect(r.status).toBe(200);
    return decodeJwt(((await r.json()) as { token: string }).token) as { access: { actions: string[] }[]; exp?: number; iat?: number };
  };

  it("a token lives 300 s by default; a lifetime outside 60-3600 s is refused at start", async () => {
    const t = await access("intake-robot-acme", "pw-acme");
    expect(t.exp! - t.iat!).toBe(300);
    const o = { aclFile: parts, rosterFile: path.join(dir, "roster.yaml"), key, service: "svc", issuer: "iss", logger: pino({ level: "silent" }) };
    expect(() => new TokenBroker({ ...o, ttlSeconds: 30 })).toThrow(/--ttl 30: a token lifetime must be 60-3600 seconds/);
    expect(() => new TokenBroker({ ...o, ttlSeconds: 7200 })).toThrow(/60-3600/);
  });

  it("a suspension in the roster applies within 2 s while an access-list part is invalid", async () => {
    expect((await access("intake-robot-globex", "pw-globex")).access).toHaveLength(1);
    writeFileSync(path.join(parts, "shard-00.json"), '{"version": 1, "service": "svc", "entries": [{"customer": "acme", "passwordHash": "$2a$04$hunter2'); // half written
    await within(2000, async () => logs.some((l) => l.includes("reload-failed") && l.includes("shard-00.json")));
    writeFileSync(path.join(dir, "roster.yaml"), rosterOf({ globex: { status: "suspended" } }));
    const ms = await within(2000, async () => (await access("intake-robot-globex", "pw-globex")).access.length === 0);
    expect(ms).toBeLessThan(2000);
    // The part that failed kept its last good copy: acme still logs in and gets its path.
    expect((await access("intake-robot-acme", "pw-acme")).access).toEqual([{ type: "repository", name: "intake/acme/app", actions: ["pull", "push"] }]);
    // The log says which part failed and where, never what it holds.
    const failed = logs.filter((l) => l.includes("reload-failed")).join("\n");
    expect(failed).toMatch(/shard-00\.json: not valid JSON/);
    expect(logs.join("\n")).not.toContain("hunter2");
    writeFileSync(path.join(parts, "shard-00.json"), acl([robot("acme", "pw-acme")]));
    writeFileSync(path.join(dir, "roster.yaml"), rosterOf());
    await within(2000, async () => (await access("intake-robot-globex", "pw-globex")).access.length === 1);
  });

  it("an in-place edit of one part disabling a robot applies within 2 s; the others are untouched", async () => {
    expect((await access("intake-robot-initech", "pw-initech")).access).toHaveLength(1);
    const file = path.join(parts, "shard-01.json");
    const doc = JSON.parse(readFileSync(file, "utf8"));
    doc.entries[1].enabled = false;
    writeFileSync(file, JSON.stringify(doc)); // the same file, rewritten in place
    const ms = await within(2000, async () => (await access("intake-robot-initech", "pw-initech")).access.length === 0);
    expect(ms).toBeLessThan(2000);
    expect((await access("intake-robot-globex", "pw-globex")).access).toHaveLength(1);
    doc.entries[1].enabled = true;
    writeFileSync(file, JSON.stringify(doc));
    await within(2000, async () => (await access("intake-robot-initech", "pw-initech")).access.length === 1);
  });

  it("a part added to the folder is loaded; a robot in two parts is refused, the rest keep working", async () => {
    writeFileSync(path.join(parts, "shard-02.json"), acl([robot("initech", "pw-other")]));
    await within(2000, async () => logs.some((l) => l.includes("reload-conflict") && l.includes("intake-robot-initech")));
    expect(await fetch(`${base}/token?service=svc`, { headers: { authorization: basic("intake-robot-initech", "pw-initech") } }).then((r) => r.status)).toBe(
      401,
    );
    expect((await access("intake-robot-globex", "pw-globex")).access).toHaveLength(1);
    rmSync(path.join(parts, "shard-02.json"));
    await within(2000, async () => (await access("intake-robot-initech", "pw-initech")).access.length === 1);
  });

  it("a FIFO and a part over 64 MiB in the folder, and a broken roster: tokens keep flowing, each failure is logged once, nothing is read whole", async () => {
    const fifo = path.join(parts, "shard-03.json");
    const big = path.join(parts, "shard-04.json");
    execFileSync("mkfifo", [fifo]); // a read of it blocks until a writer comes
    writeFileSync(big, "");
    truncateSync(big, 65 * 1024 * 1024); // sparse: 65 MiB long, nothing on disk
    const rosterText = readFileSync(path.join(dir, "roster.yaml"), "utf8");
    writeFileSync(path.join(dir, "roster.yaml"), "customers: [\n");
    try {
      const failed = (what: string) => logs.filter((l) => l.includes("reload-failed") && l.includes(what));
      await within(3000, async () => failed("shard-03.json").length > 0 && failed("shard-04.json").length > 0 && failed("roster").length > 0);
      // The event loop was never held: tokens are issued while the broken sources stay.
      for (let i = 0; i < 5; i++) expect((await access("intake-robot-acme", "pw-acme")).access).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 1000)); // 20 looks at 50 ms
      expect(failed("shard-03.json").join("\n")).toMatch(/not a regular file/);
      expect(failed("shard-04.json").join("\n")).toMatch(/68157440 bytes, over the 67108864-byte limit/);
      expect([failed("shard-03.json").length, failed("shard-04.json").length, failed('"source":"roster"').length]).toEqual([1, 1, 1]);
    } finally {
      rmSync(fifo);
      rmSync(big);
      writeFileSync(path.join(dir, "roster.yaml"), rosterText);
    }
    await within(2000, async () => logs.some((l) => l.includes('"event":"reload"') && l.includes('"source":"roster"')));
  });

  it("the roster's distribution.access: pull removes push at the next token", async () => {
    writeFileSync(path.join(dir, "roster.yaml"), rosterOf({ acme: { distribution: { access: "pull" } } }));
    await within(
      2000,
      async () =>
        JSON.stringify((await access("intake-robot-acme", "pw-acme")).access) ===
        JSON.stringify([{ type: "repository", name: "intake/acme/app", actions: ["pull"] }]),
    );
    writeFileSync(path.join(dir, "roster.yaml"), rosterOf());
    await within(2000, async () => (await access("intake-robot-acme", "pw-acme")).access[0]?.actions.length === 2);
  });

  it("offline credentials need exp and iat and are refused past 1 h of age", async () => {
    const sign = (claims: { iat?: number; exp?: number }) => {
      const j = new SignJWT({}).setProtectedHeader({ alg: key.alg }).setIssuer("iss").setSubject("intake-robot-acme").setAudience(credentialAudience("svc"));
      if (claims.iat !== undefined) j.setIssuedAt(claims.iat);
      if (claims.exp !== undefined) j.setExpirationTime(claims.exp);
      return j.sign(key.privateKey);
    };
    const now = Math.floor(Date.now() / 1000);
    const status = async (pw: string) => (await fetch(`${base}/token?service=svc`, { headers: { authorization: basic("intake-robot-acme", pw) } })).status;
    expect(await status(await sign({ iat: now, exp: now + 600 }))).toBe(200);
    expect(await status(await sign({ iat: now }))).toBe(401); // no exp: never accepted
    expect(await status(await sign({ exp: now + 600 }))).toBe(401); // no iat
    expect(await status(await sign({ iat: now - 3700, exp: now + 600 }))).toBe(401); // older than 1 h, whatever exp says
    expect(await status(await sign({ iat: now + 3600, exp: now + 7200 }))).toBe(401); // issued in the future
  });

  it("a swapped username and password never reach the log; a known robot is named, an unknown name is not", async () => {
    const secret = "S3cret-Robot-Password-9f2c";
    logs.length = 0;
    expect((await fetch(`${base}/token?service=svc`, { headers: { authorization: basic(secret, "intake-robot-acme") } })).status).toBe(401);
    expect((await fetch(`${base}/token?service=svc`, { headers: { authorization: basic("intake-robot-acme", secret) } })).status).toBe(401);
    const text = logs.join("\n");
    expect(text).not.toContain(secret);
    const denials = logs.map((l) => JSON.parse(l)).filter((l) => l.event === "deny");
    expect(denials.map((d) => [d.user, d.knownUser, d.reason])).toEqual([
      [null, false, "unknown user"],
      ["intake-robot-acme", true, "wrong password"],
    ]);
  });
});

describe.skipIf(!!unavailable)("password floods", () => {
  /** A broker over one robot `acme` (password "pw"); `over` changes its access-list entry. */
  const brokerWith = (authLimits: Record<string, number>, over: Record<string, unknown> = {}, now?: () => number) => {
    const dir = scratch();
    const pair = makeKeyPair(dir);
    writeFileSync(path.join(dir, "roster.yaml"), stringify({ customers: [customer("acme", "enterprise", { license: { expires: "2099-12-31" } })] }));
    writeFileSync(path.join(dir, "acl.json"), acl([robot("acme", "pw", over)]));
    const key = loadSigningKey(pair.key, pair.cert);
    const broker = new TokenBroker({
      aclFile: path.join(dir, "acl.json"),
      rosterFile: path.join(dir, "roster.yaml"),
      key,
      service: "svc",
      issuer: "iss",
      logger: pino({ level: "silent" }),
      authLimits,
      authClock: now,
    });
    const status = async (u: string, p: string, remote = "10.0.0.9") => (await broker.tokenFor({ username: u, password: p }, "svc", [], remote)).status;
    return { broker, key, status };
  };

  it("throttles a (name, source) after repeated failures without bcrypt, keeps serving the robot that already logged in, and treats unknown names alike", async () => {
    const { broker, status } = brokerWith({ pairFailures: 3, sourceFailures: 1000, backoffMs: 60_000 });
    try {
      expect(await status("intake-robot-acme", "pw")).toBe(200);
      const known = [];
      const unknown = [];
      for (let i = 0; i < 5; i++) {
        known.push(await status("intake-robot-acme", `wrong-${i}`));
        unknown.push(await status("intake-robot-nobody", `wrong-${i}`));
      }
      // Three refusals, then throttled: the same for a robot that exists and one that does not.
      expect(known).toEqual([401, 401, 401, 429, 429]);
      expect(unknown).toEqual(known);
      const throttled = await broker.tokenFor({ username: "intake-robot-acme", password: "again" }, "svc", [], "10.0.0.9");
      expect(throttled.headers?.["retry-after"]).toMatch(/^\d+$/);
      // The robot's own verified password still works: a flood on its name does not lock it out.
      expect(await status("intake-robot-acme", "pw")).toBe(200);
    } finally {
      await broker.close();
    }
  });

  it("an offline-credential-shaped password that does not verify counts toward throttling like any wrong password", async () => {
    const { broker, key, status } = brokerWith({ pairFailures: 3, sourceFailures: 1000, backoffMs: 60_000 });
    try {
      const forged = `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: "intake-robot-acme" })).toString("base64url")}.c2ln`;
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await status("intake-robot-acme", forged));
      expect(answers).toEqual([401, 401, 401, 429]);
      // A credential the broker's key signed still passes, throttled source or not.
      const { password } = await mintRobotCredential(key, { username: "intake-robot-acme", service: "svc", issuer: "iss" });
      expect(await status("intake-robot-acme", password)).toBe(200);
    } finally {
      await broker.close();
    }
  });

  it("every refusal costs the same bcrypt work: known robot, unknown name, robot in an overlap, offline-credential-shaped password", async () => {
    const { broker } = brokerWith(
      { pairFailures: 1e9, sourceFailures: 1e9, userFailures: 1e9 },
      { previousPasswordHash: hash("old-pw"), previousUntil: "2099-12-31" },
    );
    const compare = vi.spyOn(bcrypt, "compare");
    try {
      const checks = async (u: string, p: string) => {
        compare.mockClear();
        const r = await broker.tokenFor({ username: u, password: p }, "svc", [], "10.7.0.1");
        return [r.status, compare.mock.calls.length];
      };
      const forged = `eyJhbGciOiJFUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: "intake-robot-acme" })).toString("base64url")}.c2ln`;
      expect(await checks("intake-robot-acme", "wrong")).toEqual([401, HASH_CHECKS]); // in an overlap: current, previous
      expect(await checks("intake-robot-nobody", "wrong")).toEqual([401, HASH_CHECKS]);
      expect(await checks("intake-robot-acme", forged)).toEqual([401, HASH_CHECKS]);
      expect(await checks("intake-robot-nobody", forged)).toEqual([401, HASH_CHECKS]);
      // The previous password works through the overlap.
      expect((await checks("intake-robot-acme", "old-pw"))[0]).toBe(200);
    } finally {
      compare.mockRestore();
      await broker.close();
    }
    const single = brokerWith({ pairFailures: 1e9, sourceFailures: 1e9, userFailures: 1e9 });
    const spy = vi.spyOn(bcrypt, "compare");
    try {
      expect((await single.broker.tokenFor({ username: "intake-robot-acme", password: "wrong" }, "svc", [], "10.7.0.1")).status).toBe(401);
      expect(spy.mock.calls.length).toBe(HASH_CHECKS); // no overlap: current, then a dummy
    } finally {
      spy.mockRestore();
      await single.broker.close();
    }
  });

  it("a robot idle for 15 min, guessed wrong from 50 sources, gets its token with the right password at once; the guessing sources are rationed", async () => {
    let clock = Date.parse("2026-12-05T10:00:00Z");
    const { broker, status } = brokerWith({ sourceFailures: 1000 }, {}, () => clock);
    try {
      expect(await status("intake-robot-acme", "pw", "10.0.1.1")).toBe(200);
      clock += 16 * 60_000; // the verified password is forgotten after 15 min
      const guesses: Record<number, number> = {};
      const legit: number[] = [];
      for (let round = 0; round < 6; round++) {
        for (let s = 0; s < 50; s++) {
          clock += 10; // 100 guesses a second
          const code = await status("intake-robot-acme", `guess-${round}-${s}`, `10.9.0.${s}`);
          guesses[code] = (guesses[code] ?? 0) + 1;
        }
        // The robot itself, in the middle of the guessing, from the address it always uses.
        if (round === 3) legit.push(await status("intake-robot-acme", "pw", "10.0.1.1"));
      }
      expect(legit).toEqual([200]);
      // 20 before the ration, each source's first, then 5 a second: the rest wait.
      expect(guesses[401]).toBeLessThanOrEqual(20 + 50 + 5 * 3 + 1);
      expect(guesses[429]).toBeGreaterThanOrEqual(200);
    } finally {
      await broker.close();
    }
  });

  it("past 20 failures from anywhere, sources that failed for the name share a ration; a right password from one waits its turn", async () => {
    let clock = Date.parse("2026-12-05T10:00:00Z");
    const { broker, status } = brokerWith({ sourceFailures: 1000, userChecksPerSecond: 5 }, {}, () => clock);
    try {
      for (let s = 0; s < 20; s++) expect(await status("intake-robot-acme", "wrong", `10.8.0.${s}`)).toBe(401);
      // The ration's first check goes, the one right after it waits.
      expect(await status("intake-robot-acme", "wrong", "10.8.0.1")).toBe(401);
      const waited = await broker.tokenFor({ username: "intake-robot-acme", password: "pw" }, "svc", [], "10.8.0.2");
      expect(waited.status).toBe(429);
      expect(waited.headers?.["retry-after"]).toBe("1");
      clock += 200;
      expect(await status("intake-robot-acme", "pw", "10.8.0.2")).toBe(200);
      // A success clears the name's count: no ration any more.
      expect(await status("intake-robot-acme", "wrong", "10.8.0.3")).toBe(401);
      expect(await status("intake-robot-acme", "wrong", "10.8.0.4")).toBe(401);
    } finally {
      await broker.close();
    }
  });
});

describe.skipIf(!!unavailable)("started by npm (npx intake broker)", () => {
  it("stops when its npm launcher is gone, which passes no SIGTERM on", async () => {
    const dir = scratch();
    const pair = makeKeyPair(dir);
    writeFileSync(path.join(dir, "roster.yaml"), stringify({ customers: [customer("acme", "enterprise", { license: { expires: "2099-12-31" } })] }));
    writeFileSync(path.join(dir, "acl.json"), acl([robot("acme", "pw")]));
    const port = await freePort();
    const args = [
      path.join(ROOT, "cli/bin/intake.js"),
      "broker",
      "--project",
      ROOT,
      "--acl",
      path.join(dir, "acl.json"),
      "--roster",
      path.join(dir, "roster.yaml"),
      "--listen",
      `127.0.0.1:${port}`,
      "--key",
      pair.key,
      "--cert",
      pair.cert,
      "--service",
      "svc",
      "--issuer",
      "iss",
    ];
    // The launcher as npm exec is: a parent that starts the command with npm_command set, and dies on SIGTERM without passing it on.
    const launcher = spawn(
      process.execPath,
      [
        "-e",
        `const c = require("node:child_process").spawn(process.execPath, ${JSON.stringify(args)}, { stdio: ["ignore", "ignore", "inherit"], env: { ...process.env, npm_command: "exec" } }); console.log(c.pid); setInterval(() => {}, 1000);`,
      ],
      { stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    let stderr = "";
    launcher.stderr!.on("data", (d) => (stderr += d));
    const pid = await new Promise<number>((resolve) => launcher.stdout!.once("data", (d) => resolve(Number(String(d).trim()))));
    const alive = () => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    try {
      await within(
        20_000,
        async () =>
          await fetch(`http://127.0.0.1:${port}/healthz`)
            .then((r) => r.ok)
            .catch(() => false),
      );
      process.kill(launcher.pid!, "SIGKILL");
      await within(5_000, async () => !alive());
      expect(stderr).toMatch(/intake broker: its npm launcher exited: stopping/);
    } finally {
      if (alive()) process.kill(pid, "SIGKILL");
      if (launcher.exitCode === null && launcher.signalCode === null) process.kill(-launcher.pid!, "SIGKILL");
    }
  }, 40_000);
});

describe.skipIf(!!unavailable)("ordinary mistakes at the command line: one line, exit 2, nothing started", () => {
  const run = async (args: string[], env: Record<string, string | undefined> = {}) => {
    const { main } = await import("../../../../cli/main.js");
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    for (const [k, v] of Object.entries(env))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    const err: string[] = [];
    try {
      const code = await main(args, { out: () => undefined, err: (s: string) => err.push(s) });
      return { code, err: err.join("\n") };
    } finally {
      for (const [k, v] of Object.entries(saved))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  };

  it.each([
    ["token: distribution without --key", ["token", "--customer", "acme", "--kind", "distribution"], {}, /--key KEY\.pem/],
    [
      "token: acr without a subscription",
      ["token", "--customer", "acme", "--kind", "acr"],
      { AZURE_SUBSCRIPTION_ID: undefined },
      /--subscription ID or set AZURE_SUBSCRIPTION_ID/,
    ],
    [
      "token: ghcr without the PAT variable",
      ["token", "--customer", "acme", "--kind", "ghcr"],
      { INTAKE_GHCR_TOKEN_ACME: undefined },
      /no PAT for acme-ci-bot in INTAKE_GHCR_TOKEN_ACME/,
    ],
  ] as const)("%s", async (_name, args, env, message) => {
    const r = await run([...args, "--project", ROOT], env);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(r.err.split("\n")).toHaveLength(1);
  });

  it("plan: a --project without Pulumi.yaml", async () => {
    const { main } = await import("../../../../cli/main.js");
    const err: string[] = [];
    const code = await main(["plan", "--project", "/nonexistent-project"], { out: () => undefined, err: (s: string) => err.push(s) });
    expect(code).toBe(2);
    expect(err.join("\n")).toMatch(
      /\/nonexistent-project: is not a Pulumi project folder \(no Pulumi\.yaml\): pass --project with the folder that holds Pulumi\.yaml/s,
    );
    expect(err.join("\n")).not.toMatch(/\n\s+at /);
  });

  it("broker: a missing access list, one that is not JSON, another service's, a --ttl out of bounds", async () => {
    const dir = scratch();
    const pair = makeKeyPair(dir);
    writeFileSync(path.join(dir, "roster.yaml"), stringify({ customers: [customer("acme", "enterprise")] }));
    writeFileSync(path.join(dir, "bad.json"), '{"version":1,"entries":[{"passwordHash":"hunter2"');
    writeFileSync(path.join(dir, "other.json"), JSON.stringify({ version: 1, service: "elsewhere", issuer: "iss", entries: [] }));
    const broker = (aclFile: string, ...more: string[]) =>
      run([
        "broker",
        "--project",
        ROOT,
        "--acl",
        aclFile,
        "--roster",
        path.join(dir, "roster.yaml"),
        "--listen",
        "127.0.0.1:0",
        "--key",
        pair.key,
        "--cert",
        pair.cert,
        "--service",
        "svc",
        "--issuer",
        "iss",
        ...more,
      ]);
    const cases: [Awaited<ReturnType<typeof run>>, RegExp][] = [
      [await broker(path.join(dir, "missing.json")), /missing\.json: no such access-list file or folder \(ENOENT\)/],
      [await broker(path.join(dir, "bad.json")), /bad\.json: not valid JSON at line 1, column 50$/],
      [await broker(path.join(dir, "other.json")), /other\.json: access list is for service elsewhere \/ issuer iss, the broker for svc \/ iss/],
      [await broker(path.join(dir, "other.json"), "--ttl", "10"), /--ttl.*from 60 to 3600/],
      [await broker(path.join(dir, "other.json"), "--metrics-listen", "127.0.0.1:0:1"), /--metrics-listen.*must be host:port/],
      [
        await broker(path.join(dir, "other.json"), "--listen", "127.0.0.1:5999", "--metrics-listen", "127.0.0.1:5999"),
        /^error: --metrics-listen 127\.0\.0\.1:5999: the same address as --listen; the metrics need a listener of their own/,
      ],
    ];
    for (const [r, message] of cases) {
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err).not.toMatch(/hunter2|\n\s+at /);
    }
    // A metrics address already taken: one line, and the token listener it had opened is closed again.
    writeFileSync(path.join(dir, "acl.json"), acl([robot("acme", "pw")]));
    const taken = createServer();
    const busy = await new Promise<number>((resolve) => taken.listen(0, "127.0.0.1", () => resolve((taken.address() as { port: number }).port)));
    try {
      const r = await broker(path.join(dir, "acl.json"), "--metrics-listen", `127.0.0.1:${busy}`);
      expect([r.code, r.err]).toEqual([2, `error: --metrics-listen 127.0.0.1:${busy}: cannot listen there (EADDRINUSE)`]);
    } finally {
      taken.close();
    }
  });
});
