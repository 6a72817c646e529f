import { readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import bcrypt from "bcryptjs";
import { SignJWT } from "jose";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { main } from "../../cli/main";
import { runUnderMocks } from "../../planning/engine";
import { parseRoster } from "../../customers/roster";
import { program } from "../../program";
import type { Acl } from "../../core/acl";
import { mintRobotCredential, TokenBroker } from "../../runtime/broker/broker";
import { loadSigningKey, type SigningKey } from "../../runtime/broker/keys";
import { ACCOUNT, customer, REGION, testSettings, unwrap } from "../../testing/helpers";
import { e2eUnavailable, makeKeyPair, skopeo, startRegistry, type RunningRegistry } from "../../testing/e2e";
import { writeOciImage } from "../../runtime/registry/oci-layout";
import { RegistryClient } from "../../runtime/registry/client";
import { copyArgs, copyImage } from "../../runtime/delivery/copy";
import { parseReference } from "../../core/reference";
import { tempDir } from "../../testing/tmp";
import { renderVerifyText, verify, type VerifyReport } from "../../runtime/verify";
import type { UsageReport } from "../../runtime/broker/usage";
import { parseExposition, sampleSum, type Sample } from "../../testing/prom-text";

const unavailable = e2eUnavailable();
if (unavailable) console.log(`skipping the real-registry tests: ${unavailable}`);

const SERVICE = "registry-intake";
const ISSUER = "registry-intake-broker";
const CUSTOMERS = [
  customer("acme", "enterprise"),
  customer("acme-eu", "enterprise"),
  customer("wayne", "enterprise", { distribution: { access: "pull" } }),
  customer("hooli", "enterprise", { license: { expires: "2026-01-31" } }),
  customer("initech", "standard"),
];

describe.skipIf(!!unavailable)("Distribution registry with the token broker, real skopeo", () => {
  let dir: string;
  let key: SigningKey;
  let broker: TokenBroker;
  let registry: RunningRegistry;
  let rosterFile: string;
  let image: { layout: string; digest: string };
  const passwords: Record<string, string> = {};
  const logLines: string[] = [];
  let host: string;
  let metricsUrl: string;
  /** What the isolation matrix did: the metrics before it, where its log lines start, its refused attempts per robot. */
  let matrix: { before: Sample[]; firstLine: number; attempts: Record<string, number> } | undefined;

  beforeAll(async () => {
    dir = tempDir("intake-e2e-");
    const pair = makeKeyPair(dir);
    key = loadSigningKey(pair.key, pair.cert);

    // The access list and robot passwords come from the program itself, as `pulumi up` would make them.
    const settings = testSettings();
    const roster = parseRoster(stringify({ customers: CUSTOMERS }), "roster.yaml");
    const { result } = await runUnderMocks(() => program(settings, roster), { project: "p", stack: "e2e", cloud: { accountId: ACCOUNT, region: REGION } });
    const acl = JSON.parse(await unwrap(result.distribution!.acl)) as Acl;
    for (const c of result.customers) {
      const secret = c.credentials.distribution?.secret;
      if (secret) passwords[c.customerId] = (await unwrap(secret))!;
    }
    // A hand-added entry for a tier without distribution: the broker must still give it nothing.
    passwords.initech = "initech-robot-password";
    acl.entries.push({
      customer: "initech",
      username: "intake-robot-initech",
      passwordHash: bcrypt.hashSync(passwords.initech, 4),
      paths: ["intake/initech/*"],
      actions: ["pull", "push"],
      enabled: true,
    });
    writeFileSync(path.join(dir, "acl.json"), JSON.stringify(acl));
    rosterFile = path.join(dir, "roster.yaml");
    writeFileSync(rosterFile, stringify({ customers: CUSTOMERS }));

    broker = new TokenBroker({
      aclFile: path.join(dir, "acl.json"),
      rosterFile,
      key,
      service: SERVICE,
      issuer: ISSUER,
      today: () => "2026-11-22",
      logger: pino({ level: "info" }, { write: (s: string) => void logLines.push(s) }),
    });
    const brokerPort = await broker.listen("127.0.0.1", 0);
    metricsUrl = `http://127.0.0.1:${await broker.listenMetrics("127.0.0.1", 0)}/metrics`;
    registry = await startRegistry(dir, { realm: `http://127.0.0.1:${brokerPort}/token`, service: SERVICE, issuer: ISSUER, rootcertbundle: pair.cert });
    host = `127.0.0.1:${registry.port}`;
    image = writeOciImage(path.join(dir, "image"), "v1");
  }, 60_000);

  afterAll(async () => {
    await registry?.stop();
    await broker?.close();
  });

  const robot = (id: string) => `intake-robot-${id}`;
  const push = (as: string, password: string, repo: string) =>
    skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", `${robot(as)}:${password}`, `oci:${image.layout}:v1`, `docker://${host}/${repo}:v1`], dir);
  const pull = (as: string, repo: string) =>
    skopeo(["inspect", "--raw", "--tls-verify=false", "--creds", `${robot(as)}:${passwords[as]}`, `docker://${host}/${repo}:v1`], dir);
  const list = (as: string, repo: string) =>
    skopeo(["list-tags", "--tls-verify=false", "--creds", `${robot(as)}:${passwords[as]}`, `docker://${host}/${repo}`], dir);

  it("each customer pushes to and pulls from its own paths", async () => {
    for (const id of ["acme", "acme-eu"]) {
      const p = await push(id, passwords[id], `intake/${id}/app`);
      expect(p.ok, p.stderr).toBe(true);
      const r = await pull(id, `intake/${id}/app`);
      expect(r.ok, r.stderr).toBe(true);
      expect(JSON.parse(r.stdout).layers).toHaveLength(1);
      const t = await list(id, `intake/${id}/app`);
      expect(JSON.parse(t.stdout).Tags).toEqual(["v1"]);
    }
  });

  const scrape = async () => parseExposition(await (await fetch(metricsUrl)).text());

  it("isolation matrix: no customer pulls, pushes or lists another's paths", async () => {
    const ids = ["acme", "acme-eu", "wayne"];
    matrix = { before: await scrape(), firstLine: logLines.length, attempts: {} };
    for (const a of ids) {
      for (const b of ["acme", "acme-eu"]) {
        if (a === b) continue;
        matrix.attempts[a] = (matrix.attempts[a] ?? 0) + 3;
        const p = await push(a, passwords[a], `intake/${b}/app`);
        expect(p.ok, `${a} pushed to ${b}`).toBe(false);
        expect(p.stderr).toMatch(/unauthorized|denied|authentication required/i);
        expect((await pull(a, `intake/${b}/app`)).ok, `${a} pulled ${b}`).toBe(false);
        expect((await list(a, `intake/${b}/app`)).ok, `${a} listed ${b}`).toBe(false);
      }
    }
  });

  it("after the matrix: /metrics counts its denials per customer, and intake usage over the log reports the pushes and pulls made", async () => {
    expect(matrix, "the isolation matrix ran first").toBeDefined();
    const { before, firstLine, attempts } = matrix!;
    const after = await scrape();
    const during = logLines
      .slice(firstLine)
      .map((l) => JSON.parse(l))
      .filter((l) => l.event === "issue" || l.event === "deny");
    const delta = (name: string, labels: Record<string, string>) => sampleSum(after, name, labels) - sampleSum(before, name, labels);
    for (const [id, n] of Object.entries(attempts)) {
      // Every refused attempt asked for a token at least once, and got nothing: a denial of this customer's, none issued.
      const denied = delta("intake_broker_tokens_denied_total", { customer: id, reason: "nothing_allowed" });
      expect(denied, id).toBeGreaterThanOrEqual(n);
      expect(denied, id).toBe(during.filter((l) => l.event === "deny" && l.customer === id && l.code === "nothing_allowed").length);
      expect(delta("intake_broker_tokens_denied_total", { customer: id }), id).toBe(denied);
      expect(delta("intake_broker_tokens_issued_total", { customer: id }), id).toBe(0);
    }
    expect(attempts).toEqual({ acme: 3, "acme-eu": 3, wayne: 6 });
    // The registry's own requests as counted: one latency observation per answer.
    expect(delta("intake_broker_request_duration_seconds_count", { route: "token" })).toBe(during.length);

    // intake usage over this broker's log so far: the same counts per customer as /metrics, and the repositories used.
    const logFile = path.join(dir, "broker.log");
    writeFileSync(logFile, logLines.join(""));
    const out: string[] = [];
    const err: string[] = [];
    expect(await main(["usage", "--log", logFile, "--format", "json"], { out: (s) => out.push(s), err: (s) => err.push(s) })).toBe(0);
    expect(err).toEqual([]);
    const usage = JSON.parse(out.join("\n")) as UsageReport;
    expect(usage.skipped.count).toBe(0);
    for (const id of ["acme", "acme-eu", "wayne"]) {
      const row = usage.customers.find((c) => c.customer === id)!;
      expect(row.issued, id).toBe(sampleSum(after, "intake_broker_tokens_issued_total", { customer: id, endpoint: "token" }));
      expect(row.denied, id).toBe(sampleSum(after, "intake_broker_tokens_denied_total", { customer: id }));
      expect(row.denials.nothing_allowed, id).toBe(sampleSum(after, "intake_broker_tokens_denied_total", { customer: id, reason: "nothing_allowed" }));
    }
    // The first test pushed, pulled and listed its own repository; the matrix used no other's.
    for (const id of ["acme", "acme-eu"]) {
      const row = usage.customers.find((c) => c.customer === id)!;
      expect(Object.keys(row.pushed), id).toEqual([`intake/${id}/app`]);
      expect(Object.keys(row.pulled), id).toEqual([`intake/${id}/app`]);
      expect(row.pushed[`intake/${id}/app`]).toBeGreaterThanOrEqual(1);
      expect(row.pulled[`intake/${id}/app`]).toBeGreaterThanOrEqual(2); // skopeo inspect, then list-tags
    }
    // wayne has only tried its neighbours' paths so far: every request it made was refused, nothing was granted.
    const wayne = usage.customers.find((c) => c.customer === "wayne")!;
    expect(wayne).toMatchObject({ issued: 0, pushed: {}, pulled: {}, denials: { nothing_allowed: wayne.denied } });
    expect(wayne.denied).toBeGreaterThanOrEqual(attempts.wayne);
    const text: string[] = [];
    expect(await main(["usage", "--log", logFile, "--customer", "acme,acme-eu,wayne"], { out: (s) => text.push(s), err: (s) => err.push(s) })).toBe(0);
    expect(text.join("\n")).toMatch(/^acme {6}pushed {6}intake\/acme\/app \d+\n {10}pulled {6}intake\/acme\/app \d+$/m);
  });

  it("a pull-only robot pulls its own path but cannot push to it", async () => {
    expect((await push("acme", passwords.acme, "intake/wayne/app")).ok).toBe(false);
    const own = await push("wayne", passwords.wayne, "intake/wayne/app");
    expect(own.ok).toBe(false);
    expect(own.stderr).toMatch(/unauthorized|denied|authentication required/i);
  });

  it("a lapsed license, a tier without distribution, a wrong password: nothing", async () => {
    expect((await push("hooli", passwords.hooli, "intake/hooli/app")).ok).toBe(false);
    expect((await push("initech", passwords.initech, "intake/initech/app")).ok).toBe(false);
    expect((await push("acme", "not-the-password", "intake/acme/app")).ok).toBe(false);
    const denials = logLines.map((l) => JSON.parse(l)).filter((l) => l.event === "deny");
    // The program disabled the lapsed customer's robot; the broker says so.
    expect(denials.some((d) => d.customer === "hooli" && d.reason === "robot disabled in the access list")).toBe(true);
    expect(
      denials.some(
        (d) =>
          d.customer === "initech" && d.reason === "customer initech is on tier standard, which allows ghcr, not distribution: tier enterprise includes it",
      ),
    ).toBe(true);
    expect(denials.some((d) => d.user === robot("acme") && d.reason === "wrong password")).toBe(true);
    // The audit log never carries a password.
    for (const p of Object.values(passwords)) expect(logLines.join("\n")).not.toContain(p);
  });

  it("an expired token is refused by the registry; a fresh one for the same access is accepted", async () => {
    const tokenWith = (exp: number) =>
      new SignJWT({ access: [{ type: "repository", name: "intake/acme/app", actions: ["pull"] }] })
        .setProtectedHeader({ alg: key.alg, x5c: key.x5c })
        .setIssuer(ISSUER)
        .setSubject(robot("acme"))
        .setAudience(SERVICE)
        .setIssuedAt(exp - 3600)
        .setNotBefore(exp - 3600)
        .setExpirationTime(exp)
        .sign(key.privateKey);
    const now = Math.floor(Date.now() / 1000);
    const get = async (token: string) =>
      (await fetch(`${registry.url}/v2/intake/acme/app/tags/list`, { headers: { authorization: `Bearer ${token}` } })).status;
    expect(await get(await tokenWith(now - 300))).toBe(401);
    expect(await get(await tokenWith(now + 300))).toBe(200);
  });

  it("the offline 1 h credential works as the robot's password; one signed by another key does not", async () => {
    const cred = await mintRobotCredential(key, { username: robot("acme"), service: SERVICE, issuer: ISSUER });
    expect(cred.expiresAt.getTime() - Date.now()).toBeGreaterThan(3500_000);
    expect((await push("acme", cred.password, "intake/acme/offline")).ok).toBe(true);
    const other = loadSigningKey(...(Object.values(makeKeyPair(tempDir("k-"))) as [string, string]));
    const forged = await mintRobotCredential(other, { username: robot("acme"), service: SERVICE, issuer: ISSUER });
    expect((await push("acme", forged.password, "intake/acme/offline")).ok).toBe(false);
  });

  it("intake verify --all --write: evidence that each credential reaches its own namespace only; denied customers get none", async () => {
    const project = tempDir("verify-");
    writeFileSync(path.join(project, "Pulumi.yaml"), readFileSync(path.resolve(__dirname, "..", "..", "Pulumi.yaml")));
    writeFileSync(
      path.join(project, "Pulumi.e2e.yaml"),
      stringify({
        config: {
          "registry-intake:environment": "dev",
          "registry-intake:enabledKinds": ["distribution"],
          "registry-intake:distribution": { host, service: SERVICE, issuer: ISSUER },
        },
      }),
    );
    const out: string[] = [];
    const err: string[] = [];
    const json = path.join(project, "evidence.json");
    const code = await main(
      [
        "verify",
        "--all",
        "--write",
        "--stack",
        "e2e",
        "--project",
        project,
        "--roster",
        rosterFile,
        "--key",
        path.join(dir, "broker.key"),
        "--json",
        json,
        "--markdown",
        path.join(project, "evidence.md"),
      ],
      {
        out: (s) => out.push(s),
        err: (s) => err.push(s),
      },
    );
    expect(err).toEqual([]);
    const report = JSON.parse(readFileSync(json, "utf8")) as VerifyReport;
    expect(report.results.filter((r) => !r.ok)).toEqual([]);
    expect(code).toBe(0);
    const of = (id: string) => report.results.find((r) => r.customer === id && r.kind === "distribution")!;
    // Own namespace listed, the neighbour's refused by the registry, the probe pushed and deleted.
    expect(of("acme").neighbour).toBe("acme-eu");
    // (its own repository holds an image when the tests above ran first: 200; else 404, allowed but empty)
    expect([200, 404]).toContain(of("acme").probes[0].status);
    expect(of("acme").probes.map((p) => [p.what, p.repository, p.what === "list own" ? "allowed" : p.status])).toEqual([
      ["list own", "intake/acme/app", "allowed"],
      ["list neighbour's", "intake/acme-eu/app", 401],
      ["push probe", "intake/acme/intake-verify-probe", 201],
      ["delete probe", "intake/acme/intake-verify-probe", 401],
    ]);
    // Robots are granted pull and push, never delete: the probe stays, and the report says so.
    expect(of("acme").probes[3]).toMatchObject({ expected: "refused", ok: true });
    expect(of("acme").probes[3].note).toMatch(/^the broker grants robots pull and push only; the probe stays, tagged verify-\d{14}$/);
    // A pull-only robot is refused the push; a lapsed license and a tier without the kind get no credential.
    expect(of("wayne").probes.find((p) => p.what === "push probe")).toMatchObject({ expected: "refused", ok: true });
    expect(of("hooli")).toMatchObject({ minted: false, licensed: false, ok: true });
    expect(of("hooli").reason).toContain("expired on 2026-01-31");
    expect(report.results.find((r) => r.customer === "initech")).toBeUndefined(); // standard tier: distribution is not among its kinds
    // The summary says what the evidence is made of: probes, and credentials refused (hooli's lapsed license).
    expect(out.join("\n")).toMatch(
      /Isolation holds: \d+ customer-kind pair\(s\) checked: \d+ probed at their registry, 1 refused a credential as their license says\./,
    );
    expect(readFileSync(path.join(project, "evidence.md"), "utf8")).toContain(
      "| acme | distribution | list neighbour's | `intake/acme-eu/app` | 401 | refused | ok |",
    );
    // The broker saw the verification's requests as any others.
    expect(logLines.some((l) => l.includes("intake-robot-acme"))).toBe(true);
  });

  it("intake verify fails (exit 1) when a neighbour's namespace answers: a robot granted another customer's path", async () => {
    // A leak at the registry's door: the neighbour's listing answered with 200.
    const leaky: typeof fetch = async (input, init) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url.includes("/v2/intake/acme-eu/app/tags/list")) return new Response(JSON.stringify({ name: "intake/acme-eu/app", tags: ["v1"] }), { status: 200 });
      return fetch(input, init);
    };
    const settings = testSettings({ enabledKinds: ["distribution"], distribution: { host, service: SERVICE, issuer: ISSUER } });
    const roster = parseRoster(readFileSync(rosterFile, "utf8"), rosterFile);
    const report = await verify({ settings, roster, customers: ["acme"], mint: () => ({ signingKey: key }), fetchImpl: leaky });
    expect(report.ok).toBe(false);
    expect(report.results[0].probes.find((p) => p.what === "list neighbour's")).toMatchObject({ status: 200, expected: "refused", ok: false });
    expect(renderVerifyText(report)).toMatch(/FAIL list neighbour's intake\/acme-eu\/app: 200, must be refused/);
  });

  it("cache check: HEAD with every manifest type finds the pushed digest, one token per repository", async () => {
    const client = new RegistryClient({ username: robot("acme"), password: passwords.acme });
    const here = await client.headManifest(parseReference(`${host}/intake/acme/app:v1`));
    expect(here).toMatchObject({ exists: true, digest: image.digest, mediaType: "application/vnd.oci.image.manifest.v1+json" });
    expect(await client.headManifest(parseReference(`${host}/intake/acme/app:v2`))).toEqual({ exists: false });
    expect(await client.headManifest(parseReference(`${host}/intake/acme/app@${image.digest}`))).toMatchObject({ exists: true, digest: image.digest });
    expect(client.tokenRequests).toBe(1); // three checks of one repository, one token
    await client.headManifest(parseReference(`${host}/intake/acme/offline:v1`));
    expect(client.tokenRequests).toBe(2);
    // Another customer's path: the broker grants nothing, the registry refuses.
    await expect(
      new RegistryClient({ username: robot("acme-eu"), password: passwords["acme-eu"] }).headManifest(parseReference(`${host}/intake/acme/app:v1`)),
    ).rejects.toThrow(/not allowed to read .*intake\/acme\/app \(401\)/);
  });

  it("copy registry to registry with skopeo: the same digest, credentials in a private auth file removed after", async () => {
    const { readdirSync } = await import("node:fs");
    const leftovers = () => readdirSync(tmpdir()).filter((f) => f.startsWith("intake-copy-"));
    const before = leftovers();
    const cred = { username: robot("acme"), password: passwords.acme };
    const req = {
      source: parseReference(`${host}/intake/acme/app:v1`),
      target: parseReference(`${host}/intake/acme/release:v1`),
      sourceCredential: cred,
      targetCredential: cred,
    };
    const argv = copyArgs("skopeo", req, "/private/dir", "/private/dir/digest");
    expect(argv.join(" ")).not.toContain(passwords.acme);
    expect(argv).toContain("--multi-arch=all");
    const r = await copyImage("skopeo", req);
    expect(r.digest).toBe(image.digest);
    expect(leftovers()).toEqual(before);
    const client = new RegistryClient(cred);
    expect(await client.headManifest(parseReference(`${host}/intake/acme/release:v1`))).toMatchObject({ exists: true, digest: image.digest });
    // Into another customer's path with this customer's robot: refused, and reported with the tool's words.
    await expect(copyImage("skopeo", { ...req, target: parseReference(`${host}/intake/acme-eu/release:v1`) })).rejects.toThrow(
      /skopeo failed \(1\): .*(unauthorized|denied|authentication required)/i,
    );
    expect(leftovers()).toEqual(before);
  });

  it("the broker reloads the roster without a restart: a suspension takes effect at once", async () => {
    writeFileSync(rosterFile, readFileSync(rosterFile, "utf8").replace(/id: acme-eu\n(\s+)name:/, "id: acme-eu\n$1status: suspended\n$1name:"));
    const deadline = Date.now() + 5000;
    while (!logLines.some((l) => l.includes('"event":"reload"') && logLines.indexOf(l) > 0) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const r = await pull("acme-eu", "intake/acme-eu/app");
    expect(r.ok).toBe(false);
    const denials = logLines.map((l) => JSON.parse(l)).filter((l) => l.event === "deny" && l.customer === "acme-eu");
    expect(denials.map((d) => d.reason)).toContain(`customer acme-eu is suspended: set its status to active in ${rosterFile} to restore access`);
    expect((await pull("acme", "intake/acme/app")).ok).toBe(true);
  });
});

describe.skipIf(!!unavailable)("intake token", () => {
  it("mints a distribution credential offline that the broker accepts; denies with exit 3 and the reason", async () => {
    const dir = tempDir("token-");
    const { key } = makeKeyPair(dir);
    const run = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
      return { code, out: out.join("\n"), err: err.join("\n") };
    };
    const root = path.resolve(__dirname, "..", "..");
    // Licenses far in the future (and one long lapsed), so the test does not age.
    const rosterFile = path.join(dir, "roster.yaml");
    writeFileSync(
      rosterFile,
      stringify({
        customers: [
          customer("acme", "enterprise", { license: { expires: "2099-12-31" } }),
          customer("initech", "standard", { license: { expires: "2099-12-31" } }),
          customer("hooli", "enterprise", { license: { expires: "2026-01-31" } }),
        ],
      }),
    );
    const token = (args: string[]) => run(["token", ...args, "--project", root, "--roster", rosterFile]);
    const ok = await token(["--customer", "acme", "--kind", "distribution", "--key", key]);
    expect(ok.err).toBe("");
    expect(ok.code).toBe(0);
    const cred = JSON.parse(ok.out);
    expect(cred).toMatchObject({
      registry: "registry.dev.intake.example.com",
      namespace: "registry.dev.intake.example.com/intake/acme/",
      username: "intake-robot-acme",
    });
    expect(new Date(cred.expiresAt).getTime() - Date.now()).toBeGreaterThan(3500_000);
    const { jwtVerify } = await import("jose");
    const { createPublicKey } = await import("node:crypto");
    const { payload } = await jwtVerify(cred.password, createPublicKey(readFileSync(key)), {
      audience: "registry-intake#robot-credential",
      subject: "intake-robot-acme",
    });
    expect(payload.iss).toBe("registry-intake-broker");

    const dc = await token(["--customer", "acme", "--kind", "distribution", "--key", key, "--format", "docker-config"]);
    const auths = JSON.parse(dc.out).auths;
    expect(Buffer.from(auths["registry.dev.intake.example.com"].auth, "base64").toString()).toMatch(/^intake-robot-acme:ey/);

    const denied = await token(["--customer", "initech", "--kind", "ecr"]);
    expect(denied).toMatchObject({ code: 3, out: "" });
    expect(denied.err).toBe("denied: customer initech is on tier standard, which allows ghcr, not ecr: tier enterprise includes it");
    const lapsed = await token(["--customer", "hooli", "--kind", "distribution", "--key", key]);
    expect(lapsed.code).toBe(3);
    expect(lapsed.err).toContain("expired on 2026-01-31");
    const badKind = await token(["--customer", "acme", "--kind", "quay"]);
    expect(badKind.code).toBe(2);
    expect(badKind.err).toContain("must be one of ghcr, ecr, acr, gar, distribution");
  });
});

describe.skipIf(!!unavailable)("docker-credential-intake", () => {
  it("get answers the docker protocol with a minted credential; other hosts are not found", async () => {
    const { spawnSync } = await import("node:child_process");
    const dir = tempDir("helper-");
    const { key } = makeKeyPair(dir);
    const root = path.resolve(__dirname, "..", "..");
    const helper = (action: string, input: string, env: Record<string, string>) =>
      spawnSync(process.execPath, [path.join(root, "cli", "bin", "docker-credential-intake.js"), action], {
        input,
        encoding: "utf8",
        env: { ...process.env, ...env },
        timeout: 60_000,
      });
    const rosterFile = path.join(dir, "roster.yaml");
    writeFileSync(rosterFile, stringify({ customers: [customer("acme", "enterprise", { license: { expires: "2099-12-31" } })] }));
    const env = { INTAKE_CUSTOMER: "acme", INTAKE_BROKER_KEY: key, INTAKE_PROJECT: root, INTAKE_ROSTER: rosterFile };
    const got = helper("get", "https://registry.dev.intake.example.com\n", env);
    expect(got.stderr).toBe("");
    expect(got.status).toBe(0);
    const answer = JSON.parse(got.stdout);
    expect(answer).toMatchObject({ ServerURL: "https://registry.dev.intake.example.com", Username: "intake-robot-acme" });
    expect(answer.Secret).toMatch(/^ey[\w-]+\.[\w-]+\.[\w-]+$/);
    const other = helper("get", "docker.io\n", env);
    expect(other.status).toBe(1);
    expect(other.stdout.trim()).toBe("credentials not found in native keychain");
    expect(helper("list", "", env).stdout.trim()).toBe("{}");
    // intake's exit table: 2 invalid input (an action it refuses, a stack that does not exist), 3 denied.
    expect(helper("store", "{}", env).status).toBe(2);
    // Refusals go to stdout, the one stream docker relays from a helper.
    const badStack = helper("get", "https://registry.dev.intake.example.com\n", { ...env, INTAKE_STACK: "nope" });
    expect([badStack.status, badStack.stdout.trim().split("\n").length, badStack.stderr]).toEqual([2, 1, ""]);
    expect(badStack.stdout).toMatch(/Pulumi\.nope\.yaml: no such stack file/);
    const nobody = helper("get", "https://registry.dev.intake.example.com\n", { ...env, INTAKE_CUSTOMER: "nobody" });
    expect([nobody.status, nobody.stdout]).toEqual([2, expect.stringMatching(/INTAKE_CUSTOMER: nobody is not in /)]);
    writeFileSync(rosterFile, stringify({ customers: [customer("acme", "enterprise", { license: { expires: "2020-01-31" } })] }));
    const lapsed = helper("get", "https://registry.dev.intake.example.com\n", env);
    expect([lapsed.status, lapsed.stdout]).toEqual([3, expect.stringMatching(/denied: .*expired/)]);
    expect(helper("version", "", {}).stdout).toMatch(/^docker-credential-intake \(registry-intake\) \d+\.\d+\.\d+\n$/);
    const help = helper("--help", "", {});
    expect([help.status, help.stdout]).toEqual([0, expect.stringContaining("INTAKE_CUSTOMER")]);
  });
});
