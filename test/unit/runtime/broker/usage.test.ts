// `intake usage` over a log the broker itself wrote: per customer, tokens issued, repositories
// pushed and pulled, denials by reason; --since, --customer, the three formats, and bad input.
import { createHash, generateKeyPairSync } from "node:crypto";
import { appendFileSync, cpSync, createWriteStream, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import bcryptjs from "bcryptjs";
import pino from "pino";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { parse, stringify } from "yaml";
import { main } from "../../../../cli/main";
import { TokenBroker } from "../../../../runtime/broker/broker";
import { brokerUsage, renderUsageMarkdown, renderUsageText, type UsageReport } from "../../../../runtime/broker/usage";
import { tempDir } from "../../../../testing/tmp";

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const ROOT = path.resolve(__dirname, "../../../..");
const PW = { acme: "acme-pw", globex: "globex-pw", delivery: "delivery-pw" };

describe("intake usage", () => {
  let dir: string;
  let log: string;

  /** A day of requests on 2026-11-21 and one on 2026-11-22, as the broker logs them; then lines that are no broker entry. */
  beforeAll(async () => {
    dir = tempDir("usage-");
    const robot = (id: string) => ({
      customer: id,
      username: `intake-robot-${id}`,
      passwordHash: bcryptjs.hashSync(PW[id as "acme"], 4),
      paths: [`intake/${id}/*`],
      actions: ["pull", "push"],
      enabled: true,
    });
    writeFileSync(
      path.join(dir, "acl.json"),
      JSON.stringify({
        version: 1,
        service: "svc",
        issuer: "iss",
        entries: [robot("acme"), robot("globex")],
        delivery: { username: "intake-delivery", passwordHash: bcryptjs.hashSync(PW.delivery, 4), enabled: true },
      }),
    );
    writeFileSync(
      path.join(dir, "roster.yaml"),
      stringify({
        customers: [
          { id: "acme", name: "Acme", tier: "enterprise", license: { expires: "2099-12-31" } },
          { id: "globex", name: "Globex", tier: "enterprise", status: "suspended", license: { expires: "2099-12-31" } },
        ],
      }),
    );
    log = path.join(dir, "broker.log");
    writeFileSync(path.join(dir, "callers"), createHash("sha256").update("caller-token").digest("hex") + "\n");
    const lines: string[] = [];
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(new Date("2026-11-21T10:00:00Z"));
      const broker = new TokenBroker({
        aclFile: path.join(dir, "acl.json"),
        rosterFile: path.join(dir, "roster.yaml"),
        key: { alg: "ES256", privateKey, publicKey, x5c: [] },
        service: "svc",
        issuer: "iss",
        logger: pino({}, { write: (s: string) => void lines.push(s.trimEnd()) }),
        credentials: {
          callerTokensFile: path.join(dir, "callers"),
          mint: async (customer, kind) => ({
            kind,
            registry: "r.example.com",
            namespace: `r.example.com/${customer}/`,
            username: "u",
            password: "minted-secret",
            expiresAt: new Date(Date.now() + 3600_000),
            scope: {},
          }),
        },
      });
      const ask = (user: string, pw: string, ...scopes: string[]) => broker.tokenFor({ username: user, password: pw }, "svc", scopes, "10.0.0.1");
      await ask("intake-robot-acme", PW.acme, "repository:intake/acme/app:pull,push");
      await ask("intake-robot-acme", PW.acme, "repository:intake/acme/base:pull");
      await ask("intake-robot-acme", "not-the-password", "repository:intake/acme/app:pull");
      vi.setSystemTime(new Date("2026-11-22T10:00:00Z"));
      await ask("intake-robot-acme", PW.acme, "repository:intake/acme/app:pull");
      await ask("intake-robot-acme", PW.acme, "repository:intake/globex/app:pull");
      await ask("intake-robot-globex", PW.globex, "repository:intake/globex/app:pull");
      await ask("mallory", "mallory-pw", "repository:intake/acme/app:pull");
      await ask("intake-delivery", PW.delivery, "repository:intake/acme/app:pull,push", "repository:intake/globex/app:pull,push");
      await broker.tokenFor(undefined, "svc", ["repository:intake/acme/app:pull"]);
      // GET /registry/credentials: one minted for acme, one asked for a customer the roster does not have.
      const base = `http://127.0.0.1:${await broker.listen("127.0.0.1", 0)}/registry/credentials`;
      const headers = { authorization: "Bearer caller-token" };
      expect((await fetch(`${base}?customer=acme&kind=ecr`, { headers })).status).toBe(200);
      expect((await fetch(`${base}?customer=nobody-at-all&kind=ecr`, { headers })).status).toBe(403);
      await broker.close();
    } finally {
      vi.useRealTimers();
    }
    // What `kubectl logs` mixes in (the broker's start-up line on stderr), a reload (ignored), and a line cut short.
    const reload = JSON.stringify({ level: 30, time: Date.parse("2026-11-22T10:00:01Z"), event: "reload", source: "roster", msg: "roster reloaded" });
    writeFileSync(log, ["intake broker: listening on http://0.0.0.0:5001/token (service svc)", ...lines, reload, "", lines[0].slice(0, 40)].join("\n") + "\n");
  });

  it("text: per customer, tokens issued and denied with reasons, then the repositories of the granted scopes", async () => {
    const r = await run(["usage", "--log", log]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toBe(
      [
        `11 token decisions in 16 lines of ${log} from 2026-11-21T10:00:00.000Z to 2026-11-22T10:00:00.000Z`,
        "",
        "customer    issued  denied  denials by reason",
        "acme             3       2  nothing_allowed 1, wrong_password 1",
        "globex           0       1  suspended 1",
        "_anonymous       1       0  -",
        "_delivery        1       0  -",
        "_unknown         0       2  no_customer 1, unknown_user 1",
        "",
        "Repositories of the granted scopes (tokens granting each), and credentials minted by /registry/credentials:",
        "acme        pushed      intake/acme/app 1",
        "            pulled      intake/acme/app 1, intake/acme/base 1",
        "            credentials ecr 1",
        "_delivery   pushed      intake/acme/app 1",
        "",
        "skipped 2 lines that are not a broker log entry (first: line 1)",
      ].join("\n"),
    );
    // The made-up user name and the passwords tried are nowhere in the report.
    for (const s of ["mallory", "not-the-password", "nobody-at-all", "minted-secret", ...Object.values(PW)]) expect(r.out).not.toContain(s);
  });

  it("--since (a date, a time, a duration) and --customer narrow it; json is the whole report", async () => {
    const json = async (...args: string[]) => {
      const r = await run(["usage", "--log", log, "--format", "json", ...args]);
      expect([r.code, r.err]).toEqual([0, ""]);
      return JSON.parse(r.out) as UsageReport;
    };
    const all = await json();
    expect(all).toMatchObject({ log, lines: 16, entries: 11, skipped: { count: 2, firstLine: 1 } });
    expect(all.customers.find((c) => c.customer === "acme")).toEqual({
      customer: "acme",
      issued: 3,
      denied: 2,
      denials: { wrong_password: 1, nothing_allowed: 1 },
      pushed: { "intake/acme/app": 1 },
      pulled: { "intake/acme/base": 1, "intake/acme/app": 1 },
      credentials: { ecr: 1 },
      // No product catalogue: repositories directly under the namespace belong to no product.
      products: {},
    });
    const day2 = await json("--since", "2026-11-22");
    expect(day2).toMatchObject({ since: "2026-11-22T00:00:00.000Z", entries: 8, from: "2026-11-22T10:00:00.000Z" });
    expect(day2.customers.find((c) => c.customer === "acme")).toMatchObject({
      issued: 1,
      denied: 1,
      denials: { nothing_allowed: 1 },
      pushed: {},
      pulled: { "intake/acme/app": 1 },
    });
    expect((await json("--since", "2026-11-22T10:00:00.001Z")).entries).toBe(0);
    expect((await json("--since", "2026-11-22T11:00:00+02:00")).entries).toBe(8); // 09:00 UTC
    // A duration counts back from now: this log is in the past.
    expect((await json("--since", "24h")).entries).toBe(Date.now() - Date.parse("2026-11-22T10:00:00Z") < 86_400_000 ? 8 : 0);
    const some = await json("--customer", "acme,nobody", "--customer", "_unknown");
    expect(some.customers.map((c) => [c.customer, c.issued, c.denied])).toEqual([
      ["acme", 3, 2],
      ["nobody", 0, 0],
      ["_unknown", 0, 2],
    ]);
    expect(some.entries).toBe(8);
  });

  it("markdown: a table a ticket can hold", async () => {
    const r = await run(["usage", "--log", log, "--format", "markdown", "--customer", "acme,globex"]);
    expect(r.code).toBe(0);
    expect(r.out.split("\n")).toEqual([
      `### Broker usage: \`${log}\``,
      "",
      "7 token decisions in 16 lines from 2026-11-21T10:00:00.000Z to 2026-11-22T10:00:00.000Z.",
      "",
      "> Skipped 2 lines that are not a broker log entry (first: line 1).",
      "",
      "| customer | issued | denied | denials by reason | pushed | pulled | credentials minted |",
      "| --- | ---: | ---: | --- | --- | --- | --- |",
      "| `acme` | 3 | 2 | nothing_allowed 1, wrong_password 1 | `intake/acme/app` 1 | `intake/acme/app` 1, `intake/acme/base` 1 | ecr 1 |",
      "| `globex` | 0 | 1 | suspended 1 | - | - | - |",
    ]);
  });

  it("a big log is read as a stream and counted exactly", async () => {
    const big = path.join(dir, "big.log");
    const entries = readFileSync(log, "utf8")
      .split("\n")
      .filter((l) => l.startsWith("{") && l.includes('"event":"issue"') && l.includes('"customer":"acme"') && !l.includes('"endpoint":"credentials"'));
    expect(entries).toHaveLength(3);
    const w = createWriteStream(big);
    for (let i = 0; i < 20_000; i++) w.write(entries.join("\n") + "\n");
    await new Promise((resolve) => w.end(resolve));
    appendFileSync(big, "{not json\n");
    const r = await run(["usage", "--log", big, "--format", "json"]);
    const report = JSON.parse(r.out) as UsageReport;
    expect(report).toMatchObject({ lines: 60_001, entries: 60_000, skipped: { count: 1, firstLine: 60_001 } });
    expect(report.customers).toEqual([
      expect.objectContaining({
        customer: "acme",
        issued: 60_000,
        pushed: { "intake/acme/app": 20_000 },
        pulled: { "intake/acme/app": 20_000, "intake/acme/base": 20_000 },
      }),
    ]);
  });

  it.each([
    ["a missing log", ["--log", "/nonexistent/broker.log"], "error: --log /nonexistent/broker.log: cannot read it (ENOENT); name the broker's log file"],
    [
      "a folder for the log",
      ["--log", "/tmp"],
      "error: --log /tmp: is a folder; name the broker's log file (its JSON lines, e.g. kubectl logs deploy/<broker> > broker.log)",
    ],
    [
      "a --since that is no time",
      ["--log", "x.log", "--since", "yesterday"],
      /^error: --since yesterday: must be an ISO date or time \(2026-11-22, .*\) or a duration back from now \(90m, 24h, 7d\)$/,
    ],
    ["a day that does not exist", ["--log", "x.log", "--since", "2026-02-30"], /^error: --since 2026-02-30: must be/],
    ["an unknown --format", ["--log", "x.log", "--format", "csv"], "error: --format csv: must be text, json, markdown"],
  ] as const)("%s: exit 2, one line that names the flag", async (_name, args, message) => {
    const r = await run(["usage", ...args]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    if (typeof message === "string") expect(r.err).toBe(message);
    else expect(r.err).toMatch(message);
  });
});

describe("intake usage by product", () => {
  it("with a catalogue's repositories (<prefix>/<customer>/<product>/…): pull and push tokens per product, each token once per product", async () => {
    const dir = tempDir("usage-products-");
    const log = path.join(dir, "broker.log");
    const issue = (granted: { name: string; actions: string[] }[]) =>
      JSON.stringify({ level: 30, time: 1_795_000_000_000, event: "issue", customer: "acme", user: "intake-robot-acme", granted });
    writeFileSync(
      log,
      [
        issue([{ name: "intake/acme/app/app", actions: ["pull"] }]),
        issue([
          { name: "intake/acme/app/app", actions: ["pull"] },
          { name: "intake/acme/app/cli", actions: ["pull"] },
          { name: "intake/acme/worker/worker", actions: ["pull"] },
        ]),
        issue([{ name: "intake/acme/app/app", actions: ["pull", "push"] }]),
        // Not acme's namespace: no product of acme's.
        issue([{ name: "intake/globex/app/app", actions: ["pull"] }]),
      ].join("\n") + "\n",
    );
    const r = await run(["usage", "--log", log, "--format", "json"]);
    expect(r.code).toBe(0);
    // The push token holds pull too: it is a push, not a pull (as the pulled column counts).
    expect(JSON.parse(r.out).customers[0].products).toEqual({
      app: { pulled: 2, pushed: 1, busiest: { day: "2026-11-18", pulled: 2 } },
      worker: { pulled: 1, pushed: 0, busiest: { day: "2026-11-18", pulled: 1 } },
    });
    const text = await run(["usage", "--log", log]);
    expect(text.out).toMatch(/^ +products +app 2, worker 1 \(pull tokens\)$/m);
  });
});

describe("intake usage --stack: the catalogue's pull limits beside the log", () => {
  it("reads the stack's catalogue and roster; without a catalogue, or --roster without --stack, one line and exit 2", async () => {
    const dir = tempDir("usage-limits-");
    cpSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    cpSync(path.join(ROOT, "customers", "roster.yaml"), path.join(dir, "customers", "roster.yaml"));
    const stack = parse(readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    writeFileSync(path.join(dir, "Pulumi.plain.yaml"), stringify(stack));
    stack.config["registry-intake:products"] = { app: { repositories: ["app"] } };
    stack.config["registry-intake:enabledKinds"] = ["ecr", "distribution"];
    writeFileSync(path.join(dir, "Pulumi.dev.yaml"), stringify(stack));
    const roster = path.join(dir, "roster.yaml");
    writeFileSync(
      roster,
      stringify({
        customers: [
          { id: "acme", name: "Acme", tier: "enterprise", license: { expires: "2099-12-31" }, entitlements: [{ product: "app", maxPullsPerDay: 3 }] },
        ],
      }),
    );
    const log = path.join(dir, "broker.log");
    const pull = (t: string) =>
      JSON.stringify({
        level: 30,
        time: Date.parse(t),
        event: "issue",
        customer: "acme",
        user: "intake-robot-acme",
        granted: [{ name: "intake/acme/app/app", actions: ["pull"] }],
      });
    writeFileSync(log, [pull("2026-12-01T10:00:00Z"), pull("2026-12-02T10:00:00Z"), pull("2026-12-02T11:00:00Z")].join("\n") + "\n");
    const r = await run(["usage", "--log", log, "--stack", "dev", "--project", dir, "--roster", roster]);
    expect(r.err).toBe("");
    expect(r.out).toMatch(
      /^acme +app: 3 a day; busiest 2026-12-02 with 2; not enforced on ecr \(pulls there go to the cloud's registry, not through the broker\)$/m,
    );
    const bad = [
      [["--roster", roster], /^error: --roster is read with --stack only: add --stack NAME to report pull limits$/],
      [
        ["--stack", "plain", "--project", dir],
        /^error: --stack plain: the stack has no product catalogue \(setting products\), so no pull limits to report; leave --stack out$/,
      ],
    ] as const;
    const unknown = await run(["usage", "--log", log, "--stack", "dev", "--project", dir, "--roster", roster, "--customer", "nosuch"]);
    expect([unknown.code, unknown.err]).toEqual([2, expect.stringMatching(/^error: --customer: nosuch is not in .*roster\.yaml$/)]);
    for (const [args, line] of bad) {
      const b = await run(["usage", "--log", log, ...args]);
      expect([b.code, b.out, b.err.split("\n").length], args.join(" ")).toEqual([2, "", 1]);
      expect(b.err).toMatch(line);
    }
  });
});

describe("intake usage of standard input", () => {
  it("names it so, not '-'", () => {
    const r = { log: "-", lines: 0, entries: 0, skipped: { count: 0 }, customers: [] };
    expect(renderUsageText(r)).toBe("0 token decisions in 0 lines of standard input");
    expect(renderUsageMarkdown(r).split("\n").slice(0, 3)).toEqual(["### Broker usage: standard input", "", "0 token decisions in 0 lines."]);
  });
});

describe("intake usage on a crafted or hostile log", () => {
  const issue = (customer: string, repo: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({
      level: 30,
      time: 1_795_000_000_000,
      event: "issue",
      customer,
      user: `intake-robot-${customer}`,
      granted: [{ name: repo, actions: ["pull", "push"] }],
      ...extra,
    });

  it("counts names like constructor, hasOwnProperty and __proto__ as any other; a time no date holds is a skipped line; so is a line too long to hold", async () => {
    const dir = tempDir("usage-crafted-");
    const log = path.join(dir, "broker.log");
    const lines = [
      issue("acme", "constructor"),
      issue("acme", "constructor"),
      issue("acme", "hasOwnProperty"),
      issue("acme", "__proto__"),
      JSON.stringify({ level: 40, time: 1_795_000_000_000, event: "deny", customer: "acme", code: "toString" }),
      issue("acme", "intake/acme/app", { time: 9e15 }),
      issue("acme", "intake/acme/app", { time: -9e15 }),
      issue("acme", "x".repeat(3 * 1024 * 1024)),
      issue("acme", "intake/acme/app"),
    ];
    writeFileSync(log, lines.join("\n") + "\n");
    const r = await brokerUsage(log, { maxLineBytes: 1024 * 1024 });
    const acme = r.customers.find((c) => c.customer === "acme")!;
    expect(Object.entries(acme.pushed).sort()).toEqual([
      ["__proto__", 1],
      ["constructor", 2],
      ["hasOwnProperty", 1],
      ["intake/acme/app", 1],
    ]);
    expect(JSON.parse(JSON.stringify(acme.pushed))).toEqual(JSON.parse('{"constructor":2,"hasOwnProperty":1,"__proto__":1,"intake/acme/app":1}'));
    expect({ ...acme.denials }).toEqual({ toString: 1 });
    expect(r.skipped).toEqual({ count: 3, firstLine: 6 });
    expect(r.lines).toBe(9);
    // The command as users run it: exit 0, the report, no trace.
    const cli = await run(["usage", "--log", log, "--format", "json"]);
    expect(cli.code, cli.err).toBe(0);
    expect((JSON.parse(cli.out) as UsageReport).customers.find((c) => c.customer === "acme")!.pushed.constructor).toBe(2);
  });

  it("reads 10,000 generated hostile lines without an exception: each is counted or skipped", async () => {
    const dir = tempDir("usage-fuzz-");
    const log = path.join(dir, "broker.log");
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)];
    const names = ["constructor", "__proto__", "toString", "valueOf", "hasOwnProperty", "", " ", "\u0000", "🙂", "a".repeat(300), "intake/acme/app"];
    const values: unknown[] = [null, true, 0, -1, 1e308, -1e308, 9e15, "2026-11-21T10:00:00Z", "not a date", [], {}, [[]], { name: 1 }, ...names];
    const out: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const kind = rnd();
      if (kind < 0.1) out.push(String(pick(values)));
      else if (kind < 0.2) out.push(JSON.stringify(pick(values)));
      else if (kind < 0.25) out.push("{".repeat(Math.floor(rnd() * 5000)));
      else {
        const doc: Record<string, unknown> = {
          time: rnd() < 0.8 ? 1_795_000_000_000 + i : pick(values),
          event: pick(["issue", "deny", "reload", ...names]),
          customer: pick([...names, null, 7]),
        };
        if (rnd() < 0.7) doc.granted = rnd() < 0.8 ? [{ name: pick(names), actions: [pick(["push", "pull", "*", ...names])] }] : pick(values);
        if (rnd() < 0.3) doc.code = pick(values);
        if (rnd() < 0.2) doc.endpoint = pick(["credentials", "token", ...names]);
        if (rnd() < 0.2) doc.kind = pick(values);
        if (rnd() < 0.1) doc.role = pick(["delivery", ...names]);
        out.push(JSON.stringify(doc));
      }
    }
    writeFileSync(log, out.join(pick(["\n", "\r\n"])) + "\n");
    const r = await brokerUsage(log);
    expect(r.lines).toBe(10_000);
    expect(r.entries + r.skipped.count).toBeLessThanOrEqual(10_000);
    expect(r.skipped.count).toBeGreaterThan(1000);
    const cli = await run(["usage", "--log", log]);
    expect(cli.code, cli.err).toBe(0);
    const json = await run(["usage", "--log", log, "--format", "json"]);
    expect(json.code, json.err).toBe(0);
    expect((JSON.parse(json.out) as UsageReport).lines).toBe(10_000);
  });
});
