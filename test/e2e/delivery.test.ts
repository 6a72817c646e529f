import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { main } from "../../cli/main";
import { runUnderMocks } from "../../planning/engine";
import type { Settings } from "../../core/settings";
import { parseRoster, type Roster } from "../../customers/roster";
import { program } from "../../program";
import { TokenBroker } from "../../runtime/broker/broker";
import { loadSigningKey } from "../../runtime/broker/keys";
import { deliver, readSource, type DeliveryPlanTarget, type DeliveryRequest, type TargetResult } from "../../runtime/delivery/deliver";
import { RegistryClient } from "../../runtime/registry/client";
import { parseReference } from "../../core/reference";
import type { RetryPolicy } from "../../runtime/delivery/retry";
import { stackDelivery } from "../../runtime/delivery/stack";
import { ACCOUNT, customer, REGION, testSettings, unwrap } from "../../testing/helpers";
import { copyToolsDir, e2eUnavailable, makeKeyPair, skopeo, startRegistry, type RunningRegistry } from "../../testing/e2e";
import { writeMultiArchImage } from "../../testing/oci";
import { RegistryProxy } from "../../testing/proxy";
import { resultLine } from "../../cli/deliver";
import { tempDir } from "../../testing/tmp";

const unavailable = e2eUnavailable();
if (unavailable) console.log(`skipping the delivery tests: ${unavailable}`);

const SERVICE = "registry-intake";
const ISSUER = "registry-intake-broker";
const TODAY = "2026-11-22";
const CUSTOMERS = [
  customer("acme", "enterprise"),
  customer("acme-eu", "enterprise"),
  customer("wayne", "enterprise", { distribution: { access: "pull" } }),
  customer("umbrella", "enterprise"),
  customer("globex", "enterprise"),
  customer("hooli", "enterprise", { license: { expires: "2026-01-31" } }),
  customer("initech", "standard"),
];
const FAST: RetryPolicy = { attempts: 3, baseDelayMs: 50, maxDelayMs: 200 };

describe.skipIf(!!unavailable)("intake deliver: real registries, broker and skopeo", () => {
  let dir: string;
  let broker: TokenBroker;
  let source: RunningRegistry;
  let registry: RunningRegistry;
  let auth: Parameters<typeof startRegistry>[1];
  let proxy: RegistryProxy;
  let settings: Settings;
  let roster: Roster;
  let deliveryPassword: string;
  let host: string;
  const images: Record<string, { digest: string; bytes: number }> = {};

  /** Build an image in an OCI layout and push it to the source registry as builds/app:<version>. */
  async function build(version: string, layerBytes: number) {
    const img = writeMultiArchImage(path.join(dir, `image-${version}`), version, { layers: 2, layerBytes });
    const r = await skopeo(
      [
        "copy",
        "--all",
        "--preserve-digests",
        "--dest-tls-verify=false",
        `oci:${img.layout}:${version}`,
        `docker://127.0.0.1:${source.port}/builds/app:${version}`,
      ],
      dir,
    );
    expect(r.ok, r.stderr).toBe(true);
    const stored = await readSource(new RegistryClient(), parseReference(`127.0.0.1:${source.port}/builds/app:${version}`));
    expect(stored).toMatchObject({ digest: img.digest, bytes: img.bytes });
    images[version] = img;
  }

  const targets = (ids: string[]): DeliveryPlanTarget[] => ids.map((customer) => ({ customer, kind: "distribution" }));
  type Credentials = DeliveryRequest["credentials"];
  /** Deliver `version` to `ids`; `credentials` wraps the stack's own credential function. */
  const run = (
    version: string,
    ids: string[],
    extra: {
      retry?: RetryPolicy;
      concurrency?: number;
      credentials?: (base: Credentials) => Credentials;
      immutableTags?: boolean;
      tool?: "skopeo" | "crane";
    } = {},
  ) => {
    const base = stackDelivery({ settings, roster, deliveryPassword, mint: {}, today: TODAY });
    return deliver({
      source: parseReference(`127.0.0.1:${source.port}/builds/app:${version}`),
      build: "app",
      version,
      targets: targets(ids),
      tool: extra.tool ?? "skopeo",
      concurrency: extra.concurrency ?? 2,
      retry: extra.retry ?? FAST,
      ...base,
      credentials: extra.credentials ? extra.credentials(base.credentials) : base.credentials,
      ...(extra.immutableTags !== undefined ? { immutableTags: () => extra.immutableTags! } : {}),
    });
  };
  const byCustomer = (rs: TargetResult[]) => Object.fromEntries(rs.map((r) => [r.customer, r]));
  /** Straight at the registry, not through the proxy. */
  const direct = () => new RegistryClient({ username: "intake-delivery", password: deliveryPassword });
  const digestAt = async (repo: string, tag: string) => (await direct().headManifest(parseReference(`127.0.0.1:${registry.port}/${repo}:${tag}`))).digest;
  const tagsOf = async (repo: string) => {
    const r = await direct().request(`127.0.0.1:${registry.port}`, `/v2/${repo}/tags/list`, { method: "GET", repository: repo, actions: "pull" });
    return ((await r.json()) as { tags: string[] }).tags.sort();
  };

  beforeAll(async () => {
    dir = tempDir("intake-deliver-");
    const pair = makeKeyPair(dir);
    const key = loadSigningKey(pair.key, pair.cert);
    roster = parseRoster(stringify({ customers: CUSTOMERS }), "roster.yaml");
    const { result } = await runUnderMocks(() => program(testSettings(), roster), {
      project: "p",
      stack: "e2e",
      cloud: { accountId: ACCOUNT, region: REGION },
    });
    writeFileSync(path.join(dir, "acl.json"), await unwrap(result.distribution!.acl));
    deliveryPassword = await unwrap(result.distribution!.deliveryPassword!);
    writeFileSync(path.join(dir, "roster.yaml"), stringify({ customers: CUSTOMERS }));
    broker = new TokenBroker({
      aclFile: path.join(dir, "acl.json"),
      rosterFile: path.join(dir, "roster.yaml"),
      key,
      service: SERVICE,
      issuer: ISSUER,
      today: () => TODAY,
      logger: pino({ level: "silent" }),
    });
    const brokerPort = await broker.listen("127.0.0.1", 0);
    // One host:port serves the registry and its token service (as one ingress does): the proxy
    // in front of the registry passes /token to the broker.
    proxy = new RegistryProxy(0, brokerPort);
    host = `127.0.0.1:${await proxy.listen()}`;
    auth = { realm: `http://${host}/token`, service: SERVICE, issuer: ISSUER, rootcertbundle: pair.cert };
    mkdirSync(path.join(dir, "source"));
    mkdirSync(path.join(dir, "target"));
    source = await startRegistry(path.join(dir, "source"));
    registry = await startRegistry(path.join(dir, "target"), auth);
    proxy.upstreamPort = registry.port;
    settings = testSettings({ distribution: { host } });
    await build("1.0.0", 1024 * 1024);
  }, 60_000);

  afterAll(async () => {
    await proxy?.close();
    await registry?.stop();
    await source?.stop();
    await broker?.close();
  });

  it("delivers to every licensed customer with one copy and blob mounts, tags it, and denies the rest", async () => {
    proxy.bytesIn = 0;
    const rs = byCustomer(await run("1.0.0", ["acme", "acme-eu", "wayne", "initech", "hooli"]));
    expect(Object.fromEntries(Object.entries(rs).map(([id, r]) => [id, r.status]))).toEqual({
      acme: "delivered",
      "acme-eu": "delivered",
      wayne: "delivered",
      initech: "denied",
      hooli: "denied",
    });
    expect(rs.initech.reason).toMatch(/tier standard.*not distribution/);
    expect(rs.hooli.reason).toMatch(/expired on 2026-01-31/);
    expect(rs.acme.via).toBe("copy");
    expect([rs["acme-eu"].via, rs.wayne.via]).toEqual(["mount", "mount"]);
    // A mounted target sends its manifests only.
    expect(rs["acme-eu"].bytes).toBeLessThan(10_000);
    // All three namespaces together cost the registry about one image of uploads.
    expect(proxy.bytesIn).toBeLessThan(images["1.0.0"].bytes * 1.1);
    expect(proxy.bytesIn).toBeGreaterThan(images["1.0.0"].bytes);
    for (const id of ["acme", "acme-eu", "wayne"]) {
      const repo = `intake/${id}/app`;
      expect(rs[id].digest).toBe(images["1.0.0"].digest);
      expect(rs[id].tags).toEqual(["1.0.0-amd64", "1.0.0-arm64v8", "latest"]);
      expect(await tagsOf(repo)).toEqual(["1.0.0", "1.0.0-amd64", "1.0.0-arm64v8", "latest"]);
      expect(await digestAt(repo, "latest")).toBe(images["1.0.0"].digest);
      // A platform tag names that platform's image, not the index.
      const amd64 = await digestAt(repo, "1.0.0-amd64");
      expect(amd64).toMatch(/^sha256:/);
      expect(amd64).not.toBe(images["1.0.0"].digest);
    }
    // Nothing was written where access was denied, and the broker would not let the delivery robot in anyway.
    expect(existsSync(path.join(dir, "target", "registry-data", "docker", "registry", "v2", "repositories", "intake", "initech"))).toBe(false);
    await expect(direct().headManifest(parseReference(`127.0.0.1:${registry.port}/intake/initech/app:1.0.0`))).rejects.toThrow(/not allowed to read .*\(401\)/);
  }, 60_000);

  it("a second run reports every target cached and sends no image bytes", async () => {
    proxy.bytesIn = 0;
    const rs = await run("1.0.0", ["acme", "acme-eu", "wayne"]);
    expect(rs.map((r) => [r.customer, r.status, r.bytes, r.tags])).toEqual([
      ["acme", "cached", 0, []],
      ["acme-eu", "cached", 0, []],
      ["wayne", "cached", 0, []],
    ]);
    // Request lines and headers (bearer tokens) only: the image is 4 MiB.
    expect(proxy.bytesIn).toBeLessThan(64 * 1024);
  }, 30_000);

  it("with a provider tag lookup (ECR's DescribeImages), a cached run sends no HEAD at all", async () => {
    const looked: string[] = [];
    // The lookup answers from the registry itself (not through the proxy), as DescribeImages answers from ECR's API.
    const lookup = async (repo: string) => {
      looked.push(repo);
      const tags = new Map<string, string>();
      for (const t of await tagsOf(repo)) tags.set(t, (await digestAt(repo, t))!);
      return tags;
    };
    const heads: string[] = [];
    proxy.hooks.before = (req) => {
      if (req.method === "HEAD") heads.push(req.url ?? "");
      return "pass";
    };
    try {
      const rs = await run("1.0.0", ["acme", "acme-eu"], {
        credentials: (base) => async (kind, ids) => (await base(kind, ids)).map((g) => ({ ...g, tagLookup: lookup })),
      });
      expect(rs.map((r) => [r.customer, r.status])).toEqual([
        ["acme", "cached"],
        ["acme-eu", "cached"],
      ]);
      expect(looked.sort()).toEqual(["intake/acme-eu/app", "intake/acme/app"]);
      expect(heads).toEqual([]);
    } finally {
      proxy.hooks = {};
    }
  }, 30_000);

  it("a customer whose credential cannot be had fails alone; the others are delivered", async () => {
    const rs = byCustomer(
      await run("1.0.0", ["acme", "acme-eu"], {
        credentials: (base) => async (kind, ids) => [
          ...(await base(
            kind,
            ids.filter((id) => id !== "acme-eu"),
          )),
          { customers: ["acme-eu"], reason: "no PAT stored for acme-eu-bot" },
        ],
      }),
    );
    expect(rs.acme.status).toBe("cached");
    expect(rs["acme-eu"]).toMatchObject({ status: "failed", reason: "no distribution delivery credential: no PAT stored for acme-eu-bot" });
  }, 30_000);

  it("a customer added later is assembled by mounts from one that already holds the build", async () => {
    const rs = byCustomer(await run("1.0.0", ["acme", "umbrella"]));
    expect(rs.acme.status).toBe("cached");
    expect(rs.umbrella).toMatchObject({ status: "delivered", via: "mount", digest: images["1.0.0"].digest });
    expect(rs.umbrella.bytes).toBeLessThan(10_000);
  }, 30_000);

  it("a new customer listed before one that holds the build: the copy begun for it stops, and it is mounted from the other", async () => {
    proxy.bytesIn = 0;
    const steps: string[] = [];
    let copyBegun = () => {};
    const begun = new Promise<void>((r) => (copyBegun = r));
    // The lookup (as ECR's DescribeImages) answers for acme only once globex's copy has begun.
    const lookup = async (repo: string) => {
      if (repo === "intake/acme/app") await begun;
      const tags = new Map<string, string>();
      if (repo === "intake/acme/app") for (const t of await tagsOf(repo)) tags.set(t, (await digestAt(repo, t))!);
      return tags;
    };
    const base = stackDelivery({ settings, roster, deliveryPassword, mint: {}, today: TODAY });
    const rs = byCustomer(
      await deliver({
        source: parseReference(`127.0.0.1:${source.port}/builds/app:1.0.0`),
        build: "app",
        version: "1.0.0",
        targets: targets(["globex", "acme"]),
        tool: "skopeo",
        concurrency: 2,
        retry: FAST,
        ...base,
        credentials: async (kind, ids) => (await base.credentials(kind, ids)).map((g) => ({ ...g, tagLookup: lookup })),
        onEvent: (e) => {
          if (e.type !== "start" || e.customer !== "globex") return;
          steps.push(e.step);
          if (e.step === "copy") copyBegun();
        },
      }),
    );
    expect(rs.acme.status).toBe("cached");
    expect(rs.globex).toMatchObject({ status: "delivered", via: "mount", digest: images["1.0.0"].digest });
    expect(steps).toEqual(["check", "copy", "mount", "tags"]);
    // The copy was stopped before the image crossed again.
    expect(proxy.bytesIn).toBeLessThan(images["1.0.0"].bytes);
    expect(await tagsOf("intake/globex/app")).toEqual(["1.0.0", "1.0.0-amd64", "1.0.0-arm64v8", "latest"]);
  }, 30_000);

  it("the registry killed mid-fan-out: the interrupted targets are retried and every one is delivered", async () => {
    await build("2.0.0", 64 * 1024);
    let killed = false;
    proxy.hooks.before = (req) => {
      if (killed || req.method !== "POST" || !req.url?.includes("/intake/acme-eu/")) return "pass";
      killed = true;
      // The first blob mount of the fan-out: the registry process dies, and comes back on another port.
      void registry.kill().then(async () => {
        await new Promise((r) => setTimeout(r, 500));
        registry = await startRegistry(path.join(dir, "target"), auth);
        proxy.upstreamPort = registry.port;
      });
      return "reset";
    };
    try {
      const rs = byCustomer(await run("2.0.0", ["acme", "acme-eu", "wayne"], { concurrency: 1, retry: { attempts: 8, baseDelayMs: 200, maxDelayMs: 2000 } }));
      expect(killed).toBe(true);
      for (const id of ["acme", "acme-eu", "wayne"]) {
        expect(rs[id], id).toMatchObject({ status: "delivered", digest: images["2.0.0"].digest });
        expect(await digestAt(`intake/${id}/app`, "latest")).toBe(images["2.0.0"].digest);
      }
      expect(rs["acme-eu"].attempts).toBeGreaterThan(1);
    } finally {
      proxy.hooks = {};
    }
  }, 90_000);

  it("one customer failing for good is reported after its retries; another takes over the copy and the rest are delivered", async () => {
    await build("3.0.0", 64 * 1024);
    // Reads answer (the cache check finds nothing); every write to acme-eu dies.
    proxy.hooks.before = (req) => (req.url?.includes("/intake/acme-eu/") && req.method !== "HEAD" ? "reset" : "pass");
    try {
      const rs = byCustomer(await run("3.0.0", ["acme-eu", "acme", "wayne"]));
      expect(rs["acme-eu"]).toMatchObject({ status: "failed", attempts: FAST.attempts, via: "copy" });
      expect(rs["acme-eu"].reason).toMatch(/skopeo/);
      expect(rs.acme).toMatchObject({ status: "delivered", via: "copy" });
      expect(rs.wayne).toMatchObject({ status: "delivered", via: "mount" });
      expect(await digestAt("intake/acme-eu/app", "latest")).toBe(images["2.0.0"].digest);
    } finally {
      proxy.hooks = {};
    }
  }, 60_000);

  it("latest is never moved to a digest the versioned tag did not read back with", async () => {
    await build("4.0.0", 16 * 1024);
    const before = await digestAt("intake/wayne/app", "latest");
    expect(before).toBe(images["3.0.0"].digest);
    proxy.hooks.headers = (req, headers) => {
      if (req.method === "HEAD" && req.url === "/v2/intake/wayne/app/manifests/4.0.0" && headers["docker-content-digest"])
        headers["docker-content-digest"] = `sha256:${"0".repeat(64)}`;
    };
    try {
      const rs = byCustomer(await run("4.0.0", ["acme", "wayne"]));
      expect(rs.acme).toMatchObject({ status: "delivered", digest: images["4.0.0"].digest });
      expect(rs.wayne.status).toBe("failed");
      expect(rs.wayne.reason).toMatch(/reads back as sha256:0{64}, not sha256:.*latest not moved/);
      expect(await digestAt("intake/wayne/app", "latest")).toBe(before);
      expect(await tagsOf("intake/wayne/app")).not.toContain("4.0.0-amd64");
      expect(await digestAt("intake/acme/app", "latest")).toBe(images["4.0.0"].digest);
    } finally {
      proxy.hooks = {};
    }
  }, 60_000);

  it("where tags never move (Artifact Registry's immutable tags), latest is left and reported, not rewritten; new tags are written", async () => {
    await build("5.0.0", 16 * 1024);
    const before = await digestAt("intake/acme/app", "latest");
    expect(before).toBe(images["4.0.0"].digest);
    // The registry refuses to move a tag that exists, as an immutable-tag repository does.
    const refused: string[] = [];
    proxy.hooks.respond = (req) => {
      const m = /^\/v2\/intake\/acme\/app\/manifests\/(latest)$/.exec(req.url ?? "");
      if (req.method !== "PUT" || !m) return undefined;
      refused.push(m[1]);
      return {
        status: 400,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ errors: [{ code: "TAG_INVALID", message: `tag ${m[1]} is immutable` }] }),
      };
    };
    try {
      const [fixed] = await run("5.0.0", ["acme"], { immutableTags: true });
      expect(fixed).toMatchObject({ status: "delivered", digest: images["5.0.0"].digest, kept: [{ tag: "latest", digest: before }] });
      expect(fixed.tags.sort()).toEqual(["5.0.0-amd64", "5.0.0-arm64v8"]);
      expect(refused).toEqual([]);
      expect(await digestAt("intake/acme/app", "latest")).toBe(before);
      expect(resultLine(fixed)).toContain(`tags are immutable here; left as they are: latest (holds ${before!.slice(0, 19)})`);
      // A run that does not know it tries, and the registry's refusal fails the target.
      const [unaware] = await run("5.0.0", ["acme"]);
      expect(refused).toEqual(["latest"]);
      expect(unaware.status).toBe("failed");
      expect(unaware.reason).toMatch(/TAG_INVALID|400/);
    } finally {
      proxy.hooks = {};
    }
  }, 60_000);

  describe("source and targets on one registry", () => {
    /** Deliver `version` from acme's repository on the target registry itself to `ids`. */
    const fromAcme = (version: string, ids: string[], events: string[]) =>
      deliver({
        source: parseReference(`${host}/intake/acme/app:1.0.0`),
        sourceCredential: { username: "intake-delivery", password: deliveryPassword },
        build: "app",
        version,
        targets: targets(ids),
        tool: "skopeo",
        concurrency: 2,
        retry: FAST,
        onEvent: (e) => void (e.type === "retry" && events.push(e.reason)),
        ...stackDelivery({ settings, roster, deliveryPassword, mint: {}, today: TODAY }),
      });

    it("mounts every blob from the source repository: no tool copy, manifests only on the wire", async () => {
      proxy.bytesIn = 0;
      const events: string[] = [];
      const rs = byCustomer(await fromAcme("8.0.0", ["acme-eu", "wayne"], events));
      expect(Object.fromEntries(Object.entries(rs).map(([id, r]) => [id, [r.status, r.via]]))).toEqual({
        "acme-eu": ["delivered", "mount"],
        wayne: ["delivered", "mount"],
      });
      expect(events).toEqual([]);
      for (const id of ["acme-eu", "wayne"]) expect(await digestAt(`intake/${id}/app`, "8.0.0")).toBe(images["1.0.0"].digest);
      // Requests and manifests only: no layer crossed the wire (under 5 % of the image, headers and tokens included).
      expect(proxy.bytesIn).toBeLessThan(0.05 * images["1.0.0"].bytes);
    }, 60_000);

    it("a registry that refuses mounts from the source: one copy, the others mount from it", async () => {
      const events: string[] = [];
      proxy.hooks.respond = (req) =>
        req.method === "POST" && (req.url ?? "").includes(`from=${encodeURIComponent("intake/acme/app")}`)
          ? {
              status: 403,
              headers: { "content-type": "application/json" },
              body: JSON.stringify({ errors: [{ code: "DENIED", message: "no mounts from here" }] }),
            }
          : undefined;
      try {
        const rs = byCustomer(await fromAcme("8.1.0", ["acme-eu", "wayne"], events));
        expect(Object.values(rs).map((r) => r.status)).toEqual(["delivered", "delivered"]);
        expect(
          Object.values(rs)
            .map((r) => r.via)
            .sort(),
        ).toEqual(["copy", "mount"]);
        expect(events.some((e) => /^mount from the source intake\/acme\/app refused \(.*403.*\); one copy, then mounts from it$/.test(e))).toBe(true);
      } finally {
        proxy.hooks = {};
      }
    }, 60_000);
  });

  it("with crane (go-containerregistry, built from the module proxy): every target delivered, the image uploaded once", async (ctx) => {
    const crane = copyToolsDir();
    if (!crane.dir) {
      console.log(`skipping the crane delivery: ${crane.why}`);
      return ctx.skip();
    }
    await build("7.0.0", 1024 * 1024);
    const saved = process.env.PATH;
    process.env.PATH = `${crane.dir}${path.delimiter}${saved}`;
    try {
      proxy.bytesIn = 0;
      const rs = byCustomer(await run("7.0.0", ["acme", "acme-eu", "wayne"], { tool: "crane" }));
      // crane logs to stderr and prints no digest: a copy that succeeded is read back, never reported failed.
      expect(Object.fromEntries(Object.entries(rs).map(([id, r]) => [id, [r.status, r.via, r.reason ?? ""]]))).toEqual({
        acme: ["delivered", "copy", ""],
        "acme-eu": ["delivered", "mount", ""],
        wayne: ["delivered", "mount", ""],
      });
      for (const id of ["acme", "acme-eu", "wayne"]) expect(await digestAt(`intake/${id}/app`, "7.0.0")).toBe(images["7.0.0"].digest);
      // One copy of the image's bytes, then mounts: well under two.
      expect(proxy.bytesIn).toBeLessThan(1.5 * images["7.0.0"].bytes);
    } finally {
      process.env.PATH = saved;
    }
  }, 120_000);

  it("`intake deliver` reports per target, writes JSON, and exits 3 when a target was denied", async () => {
    const project = path.join(dir, "project");
    mkdirSync(project);
    copyFileSync(path.resolve(__dirname, "..", "..", "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    const rosterFile = path.join(project, "roster.yaml");
    writeFileSync(
      rosterFile,
      stringify({
        customers: [
          customer("acme", "enterprise", { license: { expires: "2099-12-31" } }),
          customer("initech", "standard", { license: { expires: "2099-12-31" } }),
        ],
      }),
    );
    writeFileSync(
      path.join(project, "Pulumi.e2e.yaml"),
      stringify({
        config: {
          "registry-intake:environment": "dev",
          "registry-intake:enabledKinds": ["ghcr", "distribution"],
          "registry-intake:ghcr": { owner: "example-org" },
          "registry-intake:distribution": { host },
        },
      }),
    );
    const out: string[] = [];
    const err: string[] = [];
    const cli = (args: string[]) =>
      main(["deliver", ...args, "--stack", "e2e", "--project", project, "--roster", rosterFile, "--tool", "skopeo"], {
        out: (s) => out.push(s),
        err: (s) => err.push(s),
      });
    process.env.INTAKE_DELIVERY_PASSWORD = deliveryPassword;
    try {
      const json = path.join(dir, "deliver.json");
      const code = await cli([
        "--source",
        `127.0.0.1:${source.port}/builds/app:1.0.0`,
        "--build",
        "app",
        "--version",
        "1.0.0",
        "--customer",
        "acme,initech",
        "--kind",
        "distribution",
        "--json",
        json,
      ]);
      expect(code, err.join("\n")).toBe(3);
      expect(out.join("\n")).toMatch(/^cached +distribution +acme +127\.0\.0\.1:\d+\/intake\/acme\/app:1\.0\.0/m);
      expect(out.join("\n")).toMatch(/^denied +distribution +initech .*\n +customer initech is on tier standard/m);
      expect(out.at(-1)).toMatch(/^2 targets in [\d.]+ s: 0 delivered, 1 cached, 1 denied, 0 failed/);
      // Progress went to stderr as plain lines (no terminal here).
      expect(err.join("\n")).toMatch(/^check +distribution +acme/m);
      // Each result is printed once (stdout); CI logs join both streams.
      expect(err.join("\n")).not.toMatch(/^(cached|delivered|denied|failed) /m);
      const doc = JSON.parse(readFileSync(json, "utf8"));
      expect(doc.results.map((r: TargetResult) => [r.customer, r.status])).toEqual([
        ["acme", "cached"],
        ["initech", "denied"],
      ]);
      expect(JSON.stringify(doc)).not.toContain(deliveryPassword);
      expect(err.join("\n")).not.toContain(deliveryPassword);

      // Bad input changes nothing and names the flag.
      err.length = 0;
      expect(await cli(["--source", "Bad Ref", "--build", "app", "--version", "9.9.9", "--customer", "acme"])).toBe(2);
      expect(err.join("\n")).toMatch(/--source: image reference "Bad Ref": may not contain white space/);
      err.length = 0;
      expect(await cli(["--source", `127.0.0.1:${source.port}/builds/app:1.0.0`, "--build", "app", "--version", "1.0.0", "--customer", "acme,nobody"])).toBe(2);
      expect(err.join("\n")).toMatch(/--customer: nobody is not in .*roster\.yaml/);
      err.length = 0;
      expect(await cli(["--source", `127.0.0.1:${source.port}/builds/app:1.0.0`, "--build", "app", "--version", "latest", "--customer", "acme"])).toBe(2);
      expect(err.join("\n")).toMatch(/version "latest"/);
      // Without a catalogue a build names its repository and its customers.
      err.length = 0;
      expect(await cli(["--source", `127.0.0.1:${source.port}/builds/app:1.0.0`, "--version", "1.0.0", "--customer", "acme"])).toBe(2);
      expect(err.join("\n")).toMatch(/--build: required without --product/);
      err.length = 0;
      expect(await cli(["--source", `127.0.0.1:${source.port}/builds/app:1.0.0`, "--build", "app", "--version", "1.0.0"])).toBe(2);
      expect(err.join("\n")).toMatch(/--customer: required without --product/);
      expect(await tagsOf("intake/acme/app")).not.toContain("9.9.9");

      // A wrong delivery password is the user's to fix: exit 2, one line naming the variable, nothing delivered.
      process.env.INTAKE_DELIVERY_PASSWORD = `${deliveryPassword}-wrong`;
      err.length = 0;
      out.length = 0;
      expect(await cli(["--source", `127.0.0.1:${source.port}/builds/app:1.0.0`, "--build", "app", "--version", "9.9.8", "--customer", "acme"])).toBe(2);
      expect(err.filter((l) => l.startsWith("error:"))).toHaveLength(1);
      expect(err.join("\n")).toMatch(/^error: INTAKE_DELIVERY_PASSWORD: .*token endpoint refused intake-delivery.* \(401\).*nothing was delivered/m);
      expect(err.join("\n") + out.join("\n")).not.toContain(deliveryPassword);
      expect(await tagsOf("intake/acme/app")).not.toContain("9.9.8");
    } finally {
      delete process.env.INTAKE_DELIVERY_PASSWORD;
    }
  }, 60_000);
});
