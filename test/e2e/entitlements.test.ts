// A release of a catalogue product delivered by entitlement, on the real Distribution registry
// behind the broker: only the entitled customers get it, each other customer is named with the
// reason, and every robot reaches only the products its customer is entitled to.
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { decodeJwt } from "jose";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { main } from "../../cli/main";
import { runUnderMocks } from "../../planning/engine";
import { parseRoster } from "../../customers/roster";
import { program } from "../../program";
import { TokenBroker } from "../../runtime/broker/broker";
import { loadSigningKey } from "../../runtime/broker/keys";
import { RegistryClient } from "../../runtime/registry/client";
import { parseReference } from "../../core/reference";
import { ACCOUNT, customer, REGION, testSettings, unwrap } from "../../testing/helpers";
import { e2eUnavailable, makeKeyPair, skopeo, startBrokeredRegistries, type RunningRegistry } from "../../testing/e2e";
import { writeMultiArchImage } from "../../testing/oci";
import { tempDir } from "../../testing/tmp";
import type { VerifyReport } from "../../runtime/verify";

const unavailable = e2eUnavailable();
if (unavailable) console.log(`skipping the entitlement delivery tests: ${unavailable}`);

const PRODUCTS = {
  app: { repositories: ["app", "cli"], channels: ["stable", "beta"] },
  worker: { repositories: ["worker"] },
  tools: { repositories: ["tools"] },
};
const TIER_ENTITLEMENTS = { enterprise: [{ product: "app" }] };
const entitled = (x: Record<string, unknown>) =>
  customer(String(x.id), "enterprise", { license: { expires: "2099-12-31" }, registries: ["distribution"], ...x });
const CUSTOMERS = [
  entitled({ id: "acme", entitlements: [{ product: "app", versions: "^2" }, { product: "tools" }] }),
  entitled({ id: "stark" }), // the tier's default: app, any version
  entitled({ id: "globex", entitlements: [{ product: "app", versions: "^1" }] }),
  entitled({ id: "initech", entitlements: [{ product: "app", channel: "beta" }] }),
  entitled({ id: "umbrella", entitlements: [{ product: "app", updatesUntil: "2026-11-30" }] }),
  entitled({ id: "wayne", entitlements: [{ product: "worker" }] }),
  entitled({ id: "hooli", status: "suspended", entitlements: [{ product: "app" }] }),
].map(({ id, ...rest }) => ({ ...rest, id }));

describe.skipIf(!!unavailable)("intake deliver --product: entitlements decide who gets a release (real registry and broker)", () => {
  let dir: string;
  let project: string;
  let broker: TokenBroker;
  let source: RunningRegistry;
  let registry: RunningRegistry;
  let registries: Awaited<ReturnType<typeof startBrokeredRegistries>> | undefined;
  let host: string;
  let deliveryPassword: string;
  const robots: Record<string, { username: string; password: string }> = {};
  let digest: string;
  let keyFile: string;

  beforeAll(async () => {
    dir = tempDir("intake-entitled-");
    const pair = makeKeyPair(dir);
    keyFile = pair.key;
    const over = { enabledKinds: ["distribution"], products: PRODUCTS, tierEntitlements: TIER_ENTITLEMENTS };
    const settings = testSettings(over);
    const roster = parseRoster(stringify({ customers: CUSTOMERS }), "roster.yaml", { tierTable: settings.tierTable, products: settings.products });
    const { result } = await runUnderMocks(() => program(settings, roster), { project: "p", stack: "e2e", cloud: { accountId: ACCOUNT, region: REGION } });
    writeFileSync(path.join(dir, "acl.json"), await unwrap(result.distribution!.acl));
    deliveryPassword = await unwrap(result.distribution!.deliveryPassword!);
    for (const c of result.customers) {
      const cred = c.credentials.distribution;
      if (cred?.id && cred.secret) robots[c.customerId] = { username: (await unwrap(cred.id))!, password: (await unwrap(cred.secret))! };
    }
    writeFileSync(path.join(dir, "roster.yaml"), stringify({ customers: CUSTOMERS }));
    broker = new TokenBroker({
      aclFile: path.join(dir, "acl.json"),
      rosterFile: path.join(dir, "roster.yaml"),
      key: loadSigningKey(pair.key, pair.cert),
      service: "registry-intake",
      issuer: "registry-intake-broker",
      products: settings.products,
      tierEntitlements: settings.tierEntitlements,
      logger: pino({ level: "silent" }),
    });
    registries = await startBrokeredRegistries(dir, broker, { service: "registry-intake", issuer: "registry-intake-broker", rootcertbundle: pair.cert });
    ({ host, source, registry } = registries);
    const img = writeMultiArchImage(path.join(dir, "image"), "2.0.0", { layers: 1, layerBytes: 64 * 1024 });
    const pushed = await skopeo(
      ["copy", "--all", "--preserve-digests", "--dest-tls-verify=false", `oci:${img.layout}:2.0.0`, `docker://127.0.0.1:${source.port}/builds/app:2.0.0`],
      dir,
    );
    expect(pushed.ok, pushed.stderr).toBe(true);
    digest = img.digest;
    // The stack as users keep it: its settings file and roster in a project folder.
    project = path.join(dir, "project");
    mkdirSync(project);
    copyFileSync(path.resolve(__dirname, "..", "..", "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    writeFileSync(path.join(project, "roster.yaml"), stringify({ customers: CUSTOMERS }));
    const config = Object.fromEntries(Object.entries({ environment: "dev", ...over, distribution: { host } }).map(([k, v]) => [`registry-intake:${k}`, v]));
    writeFileSync(path.join(project, "Pulumi.e2e.yaml"), stringify({ config }));
  }, 60_000);

  afterAll(async () => registries?.close());

  const cli = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["deliver", ...args, "--stack", "e2e", "--project", project, "--roster", path.join(project, "roster.yaml"), "--tool", "skopeo"], {
      out: (s) => out.push(s),
      err: (s) => err.push(s),
    });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };
  /** What a robot's token grants on `repository` (pull), through the broker in front of the registry. */
  const reach = async (id: string, repository: string) => {
    const r = robots[id];
    const res = await fetch(`http://${host}/token?service=registry-intake&scope=repository:${repository}:pull`, {
      headers: { authorization: `Basic ${Buffer.from(`${r.username}:${r.password}`).toString("base64")}` },
    });
    const { token } = (await res.json()) as { token: string };
    return ((decodeJwt(token).access ?? []) as { actions: string[] }[]).flatMap((a) => a.actions).join(",") || "nothing";
  };

  it("app 2.0.0 on stable reaches exactly the entitled customers; the JSON names each other one with its reason", async () => {
    const json = path.join(dir, "deliver.json");
    process.env.INTAKE_DELIVERY_PASSWORD = deliveryPassword;
    let r;
    try {
      r = await cli([
        "--source",
        `127.0.0.1:${source.port}/builds/app:2.0.0`,
        "--product",
        "app",
        "--version",
        "2.0.0",
        "--released",
        "2026-12-01",
        "--json",
        json,
      ]);
    } finally {
      delete process.env.INTAKE_DELIVERY_PASSWORD;
    }
    expect(r.code, r.err).toBe(0);
    const doc = JSON.parse(readFileSync(json, "utf8"));
    expect(doc).toMatchObject({ product: "app", channel: "stable", released: "2026-12-01", build: "app", version: "2.0.0" });
    expect(doc.results.map((x: { customer: string; status: string; target: string }) => [x.customer, x.status, x.target.replace(/^[^/]+\//, "")])).toEqual([
      ["acme", "delivered", "intake/acme/app/app:2.0.0"],
      ["stark", "delivered", "intake/stark/app/app:2.0.0"],
    ]);
    expect(doc.notReached.map((n: { customer: string; status: string; code: string; reason: string }) => [n.customer, n.status, n.code, n.reason])).toEqual([
      ["globex", "not-entitled", "outside-range", "2.0.0 is outside the entitled versions ^1"],
      ["initech", "not-entitled", "other-channel", "entitled to app on beta, not stable"],
      ["umbrella", "not-entitled", "updates-ended", "updates ended on 2026-11-30 (released 2026-12-01)"],
      ["wayne", "not-entitled", "no-product", "not entitled to app"],
      ["hooli", "inactive", "suspended", "status is suspended"],
    ]);
    expect(r.out).toMatch(/^not-entitled +globex +2\.0\.0 is outside the entitled versions \^1$/m);
    expect(r.out.split("\n").at(-1)).toMatch(
      /^2 targets in [\d.]+ s: 2 delivered, 0 cached, 0 denied, 0 failed; .* sent; 4 customers not-entitled; 1 customer inactive$/,
    );
    // In the registry, by digest, for the entitled ones only.
    const direct = new RegistryClient({ username: "intake-delivery", password: deliveryPassword });
    for (const id of ["acme", "stark"])
      expect((await direct.headManifest(parseReference(`127.0.0.1:${registry.port}/intake/${id}/app/app:2.0.0`))).digest).toBe(digest);
  }, 120_000);

  it("every robot reaches only its customer's entitled products; the delivery robot cannot write outside them", async () => {
    expect(await reach("acme", "intake/acme/app/app")).toBe("pull");
    expect(await reach("acme", "intake/acme/tools/tools")).toBe("pull");
    expect(await reach("acme", "intake/acme/worker/worker")).toBe("nothing");
    expect(await reach("wayne", "intake/wayne/app/app")).toBe("nothing");
    expect(await reach("wayne", "intake/wayne/worker/worker")).toBe("pull");
    expect(await reach("stark", "intake/stark/app/cli")).toBe("pull");
    // A delivery by name to a customer not entitled: the CLI reports it and writes nothing.
    process.env.INTAKE_DELIVERY_PASSWORD = deliveryPassword;
    try {
      const r = await cli(["--source", `127.0.0.1:${source.port}/builds/app:2.0.0`, "--product", "app", "--version", "2.0.0", "--customer", "wayne"]);
      expect(r.code, r.err).toBe(0);
      expect(r.out).toMatch(/^not-entitled +wayne +not entitled to app$/m);
      expect(r.out.split("\n").at(-1)).toMatch(/^0 targets in/);
    } finally {
      delete process.env.INTAKE_DELIVERY_PASSWORD;
    }
  }, 60_000);

  it("intake verify --write: each robot lists its own product, is refused a product it is not entitled to and the neighbour's", async () => {
    const json = path.join(dir, "evidence.json");
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(
      ["verify", "--all", "--write", "--stack", "e2e", "--project", project, "--roster", path.join(project, "roster.yaml"), "--key", keyFile, "--json", json],
      { out: (s) => out.push(s), err: (s) => err.push(s) },
    );
    expect(err).toEqual([]);
    const report = JSON.parse(readFileSync(json, "utf8")) as VerifyReport;
    expect(report.results.filter((r) => !r.ok)).toEqual([]);
    expect(code).toBe(0);
    const of = (id: string) => report.results.find((r) => r.customer === id)!;
    const seen = (id: string) => of(id).probes.map((p) => [p.what, p.repository, p.what === "list own" ? "allowed" : p.status]);
    expect(seen("acme")).toEqual([
      ["list own", "intake/acme/app/app", "allowed"],
      ["list not entitled", "intake/acme/worker/worker", 401],
      ["list neighbour's", "intake/globex/app/app", 401],
      ["push probe", "intake/acme/app/intake-verify-probe", 201],
      ["delete probe", "intake/acme/app/intake-verify-probe", 401],
    ]);
    expect(seen("wayne").slice(0, 2)).toEqual([
      ["list own", "intake/wayne/worker/worker", "allowed"],
      ["list not entitled", "intake/wayne/app/app", 401],
    ]);
    expect(of("hooli")).toMatchObject({ minted: false, licensed: false, ok: true });
  }, 120_000);

  it("bad input names the flag and changes nothing", async () => {
    const bad = async (args: string[]) => {
      const r = await cli(["--source", `127.0.0.1:${source.port}/builds/app:2.0.0`, ...args]);
      expect(r.code).toBe(2);
      expect(r.err.split("\n").filter((l) => l.startsWith("error:"))).toHaveLength(1);
      return r.err;
    };
    expect(await bad(["--product", "ap", "--version", "2.0.0"])).toMatch(/--product: "ap" is not in the stack's products \(app, worker, tools\)/);
    expect(await bad(["--product", "app", "--channel", "nightly", "--version", "2.0.0"])).toMatch(
      /--channel: "nightly" is not a channel of app \(stable, beta\)/,
    );
    expect(await bad(["--product", "app", "--version", "build-7"])).toMatch(/--version: "build-7" is not a semver version/);
    expect(await bad(["--product", "app", "--build", "worker", "--version", "2.0.0"])).toMatch(/--build: "worker" is not a repository of app \(app, cli\)/);
    expect(await bad(["--product", "app", "--version", "2.0.0", "--released", "2026-13-01"])).toMatch(/--released: "2026-13-01" must be a real calendar date/);
    // With a catalogue, every build is a product's release.
    expect(await bad(["--build", "app", "--version", "2.0.0", "--customer", "acme"])).toMatch(
      /--product: required while stack e2e has a product catalogue \(app, worker, tools\)/,
    );
  }, 60_000);
});
