// The broker's /metrics: counts of real token requests per customer, latency by route, reloads,
// connections, a registry per broker, and no secret or made-up name in any label.
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import * as path from "node:path";
import bcryptjs from "bcryptjs";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { TokenBroker } from "../../../../runtime/broker/broker";
import type { SigningKey } from "../../../../runtime/broker/keys";
import { labelValues, parseExposition, sampleSum, type Sample } from "../../../../testing/prom-text";
import { tempDir } from "../../../../testing/tmp";

const PASSWORDS = { acme: "acme-Robot-Pw-7d1e", globex: "globex-Robot-Pw-2b9a" };
/** What a client tried that must never become a label value. */
const TRIED = { wrongPassword: "acme-Wrong-Pw-51c0", unknownUser: "mallory-Made-Up-Name", unknownPassword: "mallory-Pw-88aa" };

function key(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  return { alg: "ES256", privateKey, publicKey, x5c: [] };
}

const robot = (id: string, pw: string) => ({
  customer: id,
  username: `intake-robot-${id}`,
  passwordHash: bcryptjs.hashSync(pw, 4),
  paths: [`intake/${id}/*`],
  actions: ["pull", "push"],
  enabled: true,
});
const rosterOf = (globexStatus: "active" | "suspended") =>
  stringify({
    customers: [
      { id: "acme", name: "Acme", tier: "enterprise", license: { expires: "2099-12-31" } },
      { id: "globex", name: "Globex", tier: "enterprise", status: globexStatus, license: { expires: "2099-12-31" } },
    ],
  });

/** A broker's files: acme active, globex suspended, one robot each. */
function files(dir: string): { aclFile: string; rosterFile: string } {
  const aclFile = path.join(dir, "acl.json");
  const rosterFile = path.join(dir, "roster.yaml");
  writeFileSync(
    aclFile,
    JSON.stringify({ version: 1, service: "svc", issuer: "iss", entries: [robot("acme", PASSWORDS.acme), robot("globex", PASSWORDS.globex)] }),
  );
  writeFileSync(rosterFile, rosterOf("suspended"));
  return { aclFile, rosterFile };
}

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;

describe("broker metrics over HTTP", () => {
  let broker: TokenBroker;
  let base: string;
  let metricsUrl: string;
  const logs: string[] = [];

  beforeAll(async () => {
    const dir = tempDir("metrics-");
    broker = new TokenBroker({ ...files(dir), key: key(), service: "svc", issuer: "iss", logger: pino({}, { write: (s: string) => void logs.push(s) }) });
    base = `http://127.0.0.1:${await broker.listen("127.0.0.1", 0)}`;
    metricsUrl = `http://127.0.0.1:${await broker.listenMetrics("127.0.0.1", 0)}/metrics`;
  });
  afterAll(() => broker?.close());

  const token = (scopes: string[], auth?: [string, string], service = "svc") =>
    fetch(`${base}/token?service=${service}${scopes.map((s) => `&scope=${s}`).join("")}`, { headers: auth ? { authorization: basic(...auth) } : {} });
  const scrape = async (): Promise<{ text: string; samples: Sample[] }> => {
    const r = await fetch(metricsUrl);
    expect(r.status).toBe(200);
    expect(r.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");
    const text = await r.text();
    return { text, samples: parseExposition(text) };
  };

  it("counts issued and denied tokens per customer and reason, failed logins by reason, and times each answer by route", async () => {
    const statuses: number[] = [];
    const ask = async (...a: Parameters<typeof token>) => statuses.push((await token(...a)).status);
    const acme: [string, string] = ["intake-robot-acme", PASSWORDS.acme];
    await ask(["repository:intake/acme/app:pull,push"], acme);
    await ask(["repository:intake/acme/app:pull"], acme);
    await ask([], acme); // a login: no scope asked, an empty token given
    await ask(["repository:intake/globex/app:pull"], acme); // another customer's path: nothing granted
    await ask(["repository:intake/acme/app:pull"], ["intake-robot-acme", TRIED.wrongPassword]);
    await ask(["repository:intake/acme/app:pull"], [TRIED.unknownUser, TRIED.unknownPassword]);
    await ask([], [PASSWORDS.globex, "intake-robot-globex"]); // user name and password swapped
    await ask(["repository:intake/globex/app:pull"], ["intake-robot-globex", PASSWORDS.globex]); // suspended
    await ask(["repository:intake/acme/app:pull"]); // anonymous
    await ask([], acme, "another-registry");
    expect(statuses).toEqual([200, 200, 200, 200, 401, 401, 401, 200, 200, 400]);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);

    const { samples } = await scrape();
    const issued = (labels: Record<string, string>) => sampleSum(samples, "intake_broker_tokens_issued_total", labels);
    const denied = (labels: Record<string, string>) => sampleSum(samples, "intake_broker_tokens_denied_total", labels);
    expect(issued({ customer: "acme", endpoint: "token" })).toBe(3);
    expect(issued({ customer: "_anonymous" })).toBe(1);
    expect(issued({})).toBe(4);
    expect(denied({ customer: "acme", reason: "nothing_allowed" })).toBe(1);
    expect(denied({ customer: "acme", reason: "wrong_password" })).toBe(1);
    expect(denied({ customer: "globex", reason: "suspended" })).toBe(1);
    expect(denied({ customer: "_unknown", reason: "unknown_user" })).toBe(2);
    expect(denied({ customer: "_unknown", reason: "unknown_service" })).toBe(1);
    expect(denied({})).toBe(6);
    // Every issue or deny line of the log is one count, under the same reason code.
    const lines = logs.map((l) => JSON.parse(l)).filter((l) => l.event === "issue" || l.event === "deny");
    expect(lines.filter((l) => l.event === "issue")).toHaveLength(issued({}));
    expect(
      lines
        .filter((l) => l.event === "deny")
        .map((l) => l.code)
        .sort(),
    ).toEqual(["nothing_allowed", "suspended", "unknown_service", "unknown_user", "unknown_user", "wrong_password"]);
    const failures = (reason: string) => sampleSum(samples, "intake_broker_auth_failures_total", { reason });
    expect([failures("wrong_password"), failures("unknown_user")]).toEqual([1, 2]);
    expect(sampleSum(samples, "intake_broker_auth_failures_total")).toBe(3);

    // Latency: one observation per answer, by route and status class.
    const count = (route: string, status_class: string) => sampleSum(samples, "intake_broker_request_duration_seconds_count", { route, status_class });
    expect(count("token", "2xx")).toBe(statuses.filter((s) => s === 200).length);
    expect(count("token", "4xx")).toBe(statuses.filter((s) => s >= 400).length);
    expect([count("healthz", "2xx"), count("other", "4xx")]).toEqual([1, 1]);
    expect(sampleSum(samples, "intake_broker_request_duration_seconds_sum", { route: "token", status_class: "4xx" })).toBeGreaterThan(0);
    const inf = samples.find(
      (s) =>
        s.name === "intake_broker_request_duration_seconds_bucket" && s.labels.route === "token" && s.labels.status_class === "2xx" && s.labels.le === "+Inf",
    );
    expect(inf?.value).toBe(count("token", "2xx"));
    expect(new Set(samples.filter((s) => s.name === "intake_broker_request_duration_seconds_count").map((s) => s.labels.route))).toEqual(
      new Set(["token", "healthz", "other"]),
    );
    // Process metrics are the CLI's choice (processMetrics); a library broker has only its own.
    expect(samples.filter((s) => !s.name.startsWith("intake_broker_"))).toEqual([]);
  });

  it("no label value is a password, a user name a client made up, or anything but a roster id or a fixed word", async () => {
    const { text, samples } = await scrape();
    const values = labelValues(samples);
    const all = new Set([...values.values()].flatMap((v) => [...v]));
    for (const secret of [...Object.values(PASSWORDS), ...Object.values(TRIED)]) {
      expect(all.has(secret), secret).toBe(false);
      expect(text).not.toContain(secret);
    }
    expect([...values.get("customer")!].sort()).toEqual(["_anonymous", "_unknown", "acme", "globex"]);
    expect(values.get("endpoint")).toEqual(new Set(["token"]));
    for (const r of values.get("reason")!) expect(r).toMatch(/^[a-z_]+$/);
  });

  it("/metrics is served on its own listener only: the public token listener does not have it", async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    expect((await fetch(metricsUrl.replace("/metrics", "/token"))).status).toBe(404);
    expect((await fetch(metricsUrl, { method: "POST" })).status).toBe(405);
  });
});

describe("broker metrics without a listener", () => {
  it("two brokers in one process count apart", async () => {
    const a = new TokenBroker({ ...files(tempDir("metrics-a-")), key: key(), service: "svc", issuer: "iss", logger: pino({ level: "silent" }) });
    const b = new TokenBroker({ ...files(tempDir("metrics-b-")), key: key(), service: "svc", issuer: "iss", logger: pino({ level: "silent" }) });
    await a.tokenFor({ username: "intake-robot-acme", password: PASSWORDS.acme }, "svc", ["repository:intake/acme/app:pull"]);
    await a.tokenFor({ username: "intake-robot-acme", password: PASSWORDS.acme }, "svc", ["repository:intake/acme/app:pull"]);
    await b.tokenFor({ username: "intake-robot-acme", password: PASSWORDS.acme }, "svc", ["repository:intake/acme/app:pull"]);
    const issued = async (x: TokenBroker) => sampleSum(parseExposition(await x.metrics.text()), "intake_broker_tokens_issued_total", { customer: "acme" });
    expect([await issued(a), await issued(b)]).toEqual([2, 1]);
  });

  it("counts reloads and failed reloads by source", async () => {
    const dir = tempDir("metrics-reload-");
    const f = files(dir);
    const broker = new TokenBroker({ ...f, key: key(), service: "svc", issuer: "iss", logger: pino({ level: "silent" }) });
    const count = async (name: string, source: string) => sampleSum(parseExposition(await broker.metrics.text()), name, { source });
    // Start-up is no reload.
    expect(await count("intake_broker_reloads_total", "roster")).toBe(0);
    writeFileSync(f.rosterFile, rosterOf("active"));
    await broker.reload();
    expect(await count("intake_broker_reloads_total", "roster")).toBe(1);
    expect(await count("intake_broker_reloads_total", "access_list")).toBe(1);
    // The access list half written: that source fails and keeps its last good copy; the roster still reloads.
    writeFileSync(f.aclFile, '{"version":1,"entries":[');
    await broker.reload();
    expect(await count("intake_broker_reload_failures_total", "access_list")).toBe(1);
    expect(await count("intake_broker_reloads_total", "access_list")).toBe(1);
    expect(await count("intake_broker_reloads_total", "roster")).toBe(2);
    const r = await broker.tokenFor({ username: "intake-robot-globex", password: PASSWORDS.globex }, "svc", ["repository:intake/globex/app:pull"]);
    expect(r.status).toBe(200); // the last good access list, and globex active again
    expect(sampleSum(parseExposition(await broker.metrics.text()), "intake_broker_tokens_issued_total", { customer: "globex" })).toBe(1);
  });

  it("a file watcher's reload is counted too", async () => {
    const dir = tempDir("metrics-watch-");
    const f = files(dir);
    const broker = new TokenBroker({ ...f, key: key(), service: "svc", issuer: "iss", watchIntervalMs: 50, logger: pino({ level: "silent" }) });
    await broker.listen("127.0.0.1", 0);
    try {
      writeFileSync(f.rosterFile, rosterOf("active"));
      const deadline = Date.now() + 5000;
      let n = 0;
      while ((n = sampleSum(parseExposition(await broker.metrics.text()), "intake_broker_reloads_total", { source: "roster" })) === 0 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 50));
      expect(n).toBeGreaterThanOrEqual(1);
    } finally {
      await broker.close();
    }
  });

  it("open connections: a gauge of the token listener's client connections", async () => {
    const broker = new TokenBroker({ ...files(tempDir("metrics-conn-")), key: key(), service: "svc", issuer: "iss", logger: pino({ level: "silent" }) });
    const port = await broker.listen("127.0.0.1", 0);
    const open = async () => sampleSum(parseExposition(await broker.metrics.text()), "intake_broker_open_connections");
    const until = async (want: number) => {
      const deadline = Date.now() + 5000;
      while ((await open()) !== want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      return open();
    };
    const sockets: Socket[] = [];
    try {
      expect(await open()).toBe(0);
      for (let i = 0; i < 3; i++)
        sockets.push(
          await new Promise<Socket>((resolve) => {
            const s = connect(port, "127.0.0.1", () => resolve(s));
          }),
        );
      expect(await until(3)).toBe(3);
      sockets.pop()!.destroy();
      expect(await until(2)).toBe(2);
    } finally {
      for (const s of sockets) s.destroy();
      await broker.close();
    }
    expect(await until(0)).toBe(0);
  });
});
