// Products and entitlements: the judge of a release, the roster's and the settings' refusals, the
// access list a catalogue gives each robot, and the broker's grants by entitlement.
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { judgeRelease, entitledProducts, type Entitlement } from "../../../customers/entitlements";
import { releaseAudience } from "../../../customers/audience";
import { parseRoster, RosterError } from "../../../customers/roster";
import { parseSettings } from "../../../core/settings";
import { BASE_SETTINGS, customer, PRODUCTS, testRoster, testSettings, TODAY } from "../../../testing/helpers";
import { robotGrant, deliveryGrant } from "../../../runtime/broker/grant";
import { runUnderMocks } from "../../../planning/engine";
import { program } from "../../../program";
import type { AclEntry } from "../../../core/acl";
import { DEFAULT_TIER_TABLE, REGISTRY_KINDS } from "../../../core/tiers";
import { planProgram, fromRecorded } from "../../../planning/plan";
import { evaluate, policyContext } from "../../../policy/evaluate";
import { ecrSessionPolicy } from "../../../kinds/ecr/mint";
import { rosterDocument } from "../../../kinds/distribution/service";
import { decodeJwt } from "jose";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import pino from "pino";
import { TokenBroker } from "../../../runtime/broker/broker";
import { brokerUsage, renderUsageMarkdown, renderUsageText } from "../../../runtime/broker/usage";
import { pullLimitsOf } from "../../../runtime/broker/pull-limits";
import { loadSigningKey } from "../../../runtime/broker/keys";
import { makeKeyPair } from "../../../testing/e2e";
import { tempDir } from "../../../testing/tmp";
import { unwrap } from "../../../testing/helpers";
import { mintFor } from "../../../runtime/mint";
import { customerNamespace } from "../../../kinds";
import { verify } from "../../../runtime/verify";
import { policyAllows, startFakeEcr } from "../../../testing/fake-ecr";

const DAY = TODAY.toISOString().slice(0, 10);
const e = (x: Partial<Entitlement> & { product: string }): Entitlement => ({ channel: "stable", versions: "*", ...x });

describe("a release judged by entitlements", () => {
  const release = { product: "app", channel: "stable", version: "2.0.0", released: "2026-12-01" };
  it.each([
    [[e({ product: "worker" })], "no-product", "not entitled to app"],
    [[e({ product: "app", channel: "beta" })], "other-channel", "entitled to app on beta, not stable"],
    [
      [e({ product: "app", versions: "^1" }), e({ product: "app", versions: "<2.0.0" })],
      "outside-range",
      "2.0.0 is outside the entitled versions ^1 or <2.0.0",
    ],
    [[e({ product: "app", updatesUntil: "2026-11-30" })], "updates-ended", "updates ended on 2026-11-30 (released 2026-12-01)"],
  ])("%j: %s", (list, code, reason) => {
    expect(judgeRelease(list, release)).toEqual({ entitled: false, code, reason });
  });
  it("the entitlement that covers it: the range holds and the release is within the update period (the day itself included)", () => {
    const ok = e({ product: "app", versions: ">=1.4 <3", updatesUntil: "2026-12-01" });
    expect(judgeRelease([e({ product: "app", versions: "^1" }), ok], release)).toEqual({ entitled: true, entitlement: ok });
    // A pre-release reaches a beta channel's range, never a stable one's.
    expect(judgeRelease([e({ product: "app", channel: "beta", versions: "^2" })], { ...release, channel: "beta", version: "2.1.0-rc.1" }).entitled).toBe(true);
    expect(judgeRelease([e({ product: "app", versions: "^2" })], { ...release, version: "2.1.0-rc.1" })).toMatchObject({
      entitled: false,
      reason: "2.1.0-rc.1 is a pre-release: the stable channel takes none (release it on another channel)",
    });
  });
  it("who a release goes to: entitled and active; the others named with the reason; offboarded not asked; a named list narrows", () => {
    const settings = testSettings({ products: PRODUCTS, tierEntitlements: { enterprise: [{ product: "app" }] } });
    const roster = testRoster(
      [
        customer("acme", "enterprise", { entitlements: [{ product: "app", versions: "^2" }] }),
        customer("globex", "enterprise", { entitlements: [{ product: "app", versions: "^1" }] }),
        customer("stark", "enterprise"),
        customer("hooli", "enterprise", { status: "suspended", entitlements: [{ product: "app" }] }),
        customer("oldco", "enterprise", { status: "offboarded" }),
        customer("initech", "standard"),
      ],
      settings,
    );
    const a = releaseAudience(roster.customers, release, settings.tierEntitlements, DAY);
    expect(a.to).toEqual(["acme", "stark"]);
    expect(a.notReached.map((n) => [n.customer, n.status, n.reason])).toEqual([
      ["globex", "not-entitled", "2.0.0 is outside the entitled versions ^1"],
      ["hooli", "inactive", "status is suspended"],
      ["initech", "not-entitled", "not entitled to app"],
    ]);
    expect(releaseAudience(roster.customers, release, settings.tierEntitlements, DAY, ["globex", "hooli"]).to).toEqual(["hooli"]);
    expect(entitledProducts(roster.customers[2], settings.products!, settings.tierEntitlements)).toEqual(["app"]);
  });
});

describe("entitlements in the roster and the catalogue in the settings", () => {
  const settings = () => testSettings({ products: PRODUCTS });
  const problems = (entry: Record<string, unknown>, products: typeof PRODUCTS | null = PRODUCTS) => {
    const text = stringify({ customers: [customer("acme", "enterprise", entry)] });
    try {
      parseRoster(text, "customers/roster.yaml", { tierTable: settings().tierTable, products: products ? settings().products : undefined });
      return [];
    } catch (err) {
      return (err as RosterError).problems.map((p) => `${p.file}:${p.line} ${p.field}: ${p.message}`);
    }
  };
  it("an unknown product or channel, a range that is not one, an offboarded customer's, one without a catalogue: one line each with file:line", () => {
    expect(problems({ entitlements: [{ product: "ap" }] })).toEqual([
      expect.stringMatching(/^customers\/roster\.yaml:\d+ entitlements\.0\.product: "ap" is not in the stack's products \(app, worker, tools\)$/),
    ]);
    expect(problems({ entitlements: [{ product: "worker", channel: "beta" }] })).toEqual([
      expect.stringMatching(/entitlements\.0\.channel: "beta" is not a channel of worker \(stable\)$/),
    ]);
    expect(problems({ entitlements: [{ product: "app", versions: "two" }] })).toEqual([
      expect.stringMatching(/entitlements\.0\.versions: "two" must be a semver range/),
    ]);
    // YAML reads 2 as a number (and 1.10 as 1.1): the message says to quote it.
    expect(problems({ entitlements: [{ product: "app", versions: 2 }] })).toEqual([
      expect.stringMatching(/entitlements\.0\.versions: must be a string, got number 2: write it in quotes \(YAML reads it as a number\)$/),
    ]);
    expect(problems({ entitlements: [{ product: "app", updatesUntil: "2026-02-30" }] })).toEqual([
      expect.stringMatching(/entitlements\.0\.updatesUntil: "2026-02-30" must be a real calendar date/),
    ]);
    expect(problems({ status: "offboarded", entitlements: [{ product: "app" }] })).toEqual([
      expect.stringMatching(/entitlements: an offboarded customer has no entitlements/),
    ]);
    expect(problems({ status: "suspended", entitlements: [{ product: "app" }] })).toEqual([]);
    expect(problems({ entitlements: [{ product: "app" }] }, null)).toEqual([
      expect.stringMatching(/entitlements\.0\.product: needs a product catalogue: add the stack setting registry-intake:products/),
    ]);
  });
  it("the settings: a product's repositories, a tier's entitlement of an unknown product, a release a delivery names", () => {
    const bad = (over: Record<string, unknown>) => {
      try {
        parseSettings({ ...BASE_SETTINGS, ...over }, "dev", "Pulumi.dev.yaml", TODAY);
        return "";
      } catch (err) {
        return (err as Error).message;
      }
    };
    expect(bad({ products: { app: { repositories: ["Bad Name"] } } })).toMatch(/products\.app\.repositories\.0.*not a valid repository name/);
    expect(bad({ products: PRODUCTS, tierEntitlements: { enterprise: [{ product: "nope" }] } })).toMatch(
      /tierEntitlements\.enterprise\.0\.product.*"nope" is not in the stack's products/,
    );
    const delivery = {
      source: `build.example.com/app@sha256:${"a".repeat(64)}`,
      build: "app",
      version: "2.0.0",
      product: "app",
      released: "2026-12-01",
      kinds: ["distribution"],
    };
    expect(bad({ products: PRODUCTS, deliveries: [delivery] })).toBe("");
    // A release's day is fixed in the setting; with a catalogue a build is always a product's.
    expect(bad({ products: PRODUCTS, deliveries: [{ ...delivery, released: undefined }] })).toMatch(
      /deliveries\.0\.released: is required for a release of a product/,
    );
    expect(bad({ products: PRODUCTS, deliveries: [{ ...delivery, product: undefined }] })).toMatch(
      /deliveries\.0\.product: is required while the stack has a product catalogue \(app, worker, tools\)/,
    );
    expect(bad({ products: PRODUCTS, deliveries: [{ ...delivery, kinds: ["distribution", "ghcr"] }] })).toBe("");
    expect(bad({ products: PRODUCTS, deliveries: [{ ...delivery, kinds: undefined }] })).toBe("");
    expect(bad({ products: PRODUCTS, deliveries: [{ ...delivery, version: "release-7" }] })).toMatch(
      /deliveries\.0\.version.*"release-7" is not a semver version/,
    );
    expect(bad({ products: PRODUCTS, deliveries: [{ ...delivery, build: "worker" }] })).toMatch(
      /deliveries\.0\.build.*"worker" is not a repository of app \(app, cli\)/,
    );
    expect(bad({ products: PRODUCTS, deliveries: [{ ...delivery, channel: "nightly" }] })).toMatch(/deliveries\.0\.channel.*"nightly" is not a channel of app/);
  });
});

describe("what a catalogue gives each robot", () => {
  const settings = testSettings({ products: PRODUCTS, tierEntitlements: { enterprise: [{ product: "tools" }] } });
  const roster = testRoster(
    [
      customer("acme", "enterprise", { license: { expires: "2099-12-31" }, entitlements: [{ product: "app" }, { product: "worker", channel: "stable" }] }),
      customer("stark", "enterprise", { license: { expires: "2099-12-31" } }),
    ],
    settings,
  );
  const ctx = {
    tierTable: DEFAULT_TIER_TABLE,
    asOf: DAY,
    enabledKinds: REGISTRY_KINDS,
    repoPrefix: "intake",
    products: settings.products,
    tierEntitlements: settings.tierEntitlements,
  };
  const pull = (name: string) => [{ type: "repository" as const, name, actions: ["pull" as const] }];

  it("the access list names one path per entitled product; the broker grants within them only, by the roster's entitlements of now", async () => {
    const { result } = await runUnderMocks(() => program(settings, roster), {
      project: "p",
      stack: "test",
      cloud: { accountId: "111122223333", region: "eu-west-1" },
    });
    const acl = JSON.parse(await new Promise<string>((r) => (result.distribution!.acl as unknown as { apply: (f: (v: string) => void) => void }).apply(r))) as {
      entries: AclEntry[];
    };
    const paths = Object.fromEntries(acl.entries.map((x) => [x.customer, x.paths]));
    expect(paths).toEqual({ acme: ["intake/acme/app/*", "intake/acme/worker/*"], stark: ["intake/stark/tools/*"] });
    const acme = acl.entries.find((x) => x.customer === "acme")!;
    expect(robotGrant(roster, acme, pull("intake/acme/app/cli"), ctx).granted).toEqual(pull("intake/acme/app/cli"));
    expect(robotGrant(roster, acme, pull("intake/acme/tools/tools"), ctx).granted).toEqual([]);
    // An access list written before the catalogue (the whole namespace) still reaches only the entitled products.
    expect(robotGrant(roster, { ...acme, paths: ["intake/acme/*"] }, pull("intake/acme/tools/tools"), ctx).granted).toEqual([]);
    expect(robotGrant(roster, { ...acme, paths: ["intake/acme/*"] }, pull("intake/acme/worker/worker"), ctx).granted).toEqual(
      pull("intake/acme/worker/worker"),
    );
    // The roster drops worker: gone at the next token, before any `pulumi up` rewrites the access list.
    const less = testRoster([customer("acme", "enterprise", { license: { expires: "2099-12-31" }, entitlements: [{ product: "app" }] })], settings);
    expect(robotGrant(less, acme, pull("intake/acme/worker/worker"), ctx).granted).toEqual([]);
    // A path outside the customer's namespace is never trusted.
    expect(robotGrant(roster, { ...acme, paths: ["intake/stark/tools/*"] }, pull("intake/stark/tools/tools"), ctx).code).toBe("path_outside_namespace");
    // The delivery robot writes only into a product the customer is entitled to.
    const push = (name: string) => [{ type: "repository" as const, name, actions: ["pull" as const, "push" as const] }];
    expect(deliveryGrant(roster, [...push("intake/acme/app/app"), ...push("intake/acme/tools/tools")], ctx)).toEqual({
      granted: push("intake/acme/app/app"),
      refused: ["intake/acme/tools/tools: customer acme is not entitled to a product tools"],
    });
  });
});

/** acme entitled to app and worker, stark to nothing; both licensed for good. */
function acmeAndStark(settings: ReturnType<typeof testSettings>) {
  const licensed = { license: { expires: "2099-12-31" } };
  return testRoster(
    [
      customer("acme", "enterprise", { ...licensed, entitlements: [{ product: "app" }, { product: "worker" }] }),
      customer("stark", "enterprise", { ...licensed, entitlements: [] }),
    ],
    settings,
  );
}

/** The offline plan, and its resources of one customer and type. */
async function planned(settings: ReturnType<typeof testSettings>, roster: ReturnType<typeof testRoster>) {
  const plan = await planProgram(settings, roster);
  return { plan, of: (id: string, type: string) => plan.resources.filter((r) => r.customer === id && r.type === type) };
}

describe("ECR by product, and the rule that keeps grants to entitled products", () => {
  const settings = testSettings({ products: PRODUCTS, tierEntitlements: { enterprise: [{ product: "tools" }] } });
  const roster = acmeAndStark(settings);

  it("repositories under <prefix>/<id>/<product>/, one policy ARN per product, none for a customer entitled to nothing; the plan has no violation", async () => {
    const { plan, of } = await planned(settings, roster);
    expect(
      of("acme", "aws:ecr/repository:Repository")
        .map((r) => r.inputs.name)
        .sort(),
    ).toEqual(["intake/acme/app/app", "intake/acme/app/cli", "intake/acme/worker/worker"]);
    const [policy] = of("acme", "aws:iam/userPolicy:UserPolicy");
    const arns = (JSON.parse(String(policy.inputs.policy)).Statement as { Resource: string | string[] }[]).flatMap((s) => s.Resource);
    expect(arns.filter((a) => a !== "*")).toEqual([
      expect.stringMatching(/:repository\/intake\/acme\/app\/\*$/),
      expect.stringMatching(/:repository\/intake\/acme\/worker\/\*$/),
    ]);
    expect(of("stark", "aws:ecr/repository:Repository")).toEqual([]);
    expect(of("stark", "aws:iam/userPolicy:UserPolicy")).toEqual([]);
    expect(plan.violations).toEqual([]);
  });

  it("a planted repository or grant of a product not entitled is a mandatory violation; the whole namespace is one too", async () => {
    const plan = await planProgram(settings, roster);
    const resources = fromRecorded(plan.recorded ?? []);
    const ctx = policyContext(roster, settings);
    const repo = resources.find((r) => r.type === "aws:ecr/repository:Repository" && r.props.name === "intake/acme/app/app")!;
    const policy = resources.find((r) => r.type === "aws:iam/userPolicy:UserPolicy" && r.urn.includes("acme"))!;
    const planted = [
      { ...repo, urn: `${repo.urn}-planted`, props: { ...repo.props, name: "intake/acme/tools/tools" } },
      {
        ...policy,
        urn: `${policy.urn}-planted`,
        props: { ...policy.props, policy: String(policy.props.policy).replace("intake/acme/app/*", "intake/acme/*") },
      },
    ];
    const found = evaluate([...resources, ...planted], ctx).filter((v) => v.policy === "entitled-products-only");
    expect(found.map((v) => [v.enforcement, v.message])).toEqual([
      [
        "mandatory",
        expect.stringMatching(
          /"intake\/acme\/tools\/tools": repository intake\/acme\/tools\/tools is product tools, which customer acme is not entitled to \(entitled: app, worker\)/,
        ),
      ],
      ["mandatory", expect.stringMatching(/grant on intake\/acme\/\* is not inside one of customer acme's products/)],
    ]);
  });

  it("a minted ECR session reaches each entitled product's glob; a customer entitled to nothing gets no session", () => {
    const productsOf = (id: string) => (id === "acme" ? ["app", "worker"] : []);
    const policy = JSON.parse(ecrSessionPolicy({ customerId: "acme", repoPrefix: "intake", accountId: "111122223333", region: "eu-west-1", productsOf }));
    expect(policy.Statement.flatMap((s: { Resource: string | string[] }) => s.Resource).filter((r: string) => r !== "*")).toEqual([
      "arn:aws:ecr:eu-west-1:111122223333:repository/intake/acme/app/*",
      "arn:aws:ecr:eu-west-1:111122223333:repository/intake/acme/worker/*",
    ]);
    expect(() => ecrSessionPolicy({ customerId: "stark", repoPrefix: "intake", accountId: "111122223333", region: "eu-west-1", productsOf })).toThrow(
      /stark is entitled to no product/,
    );
  });

  it("the roster's ecr.repositories is refused while a catalogue decides the repositories", () => {
    expect(() => testRoster([customer("acme", "enterprise", { ecr: { repositories: ["tools"] } })], settings)).toThrow(
      /ecr\.repositories: is not used while the stack has a product catalogue .*remove ecr\.repositories and name those repositories under products\.<product>\.repositories/,
    );
  });
});

describe("maxPullsPerDay, kept by the broker", () => {
  it("a token that would pull a product past its limit is refused with 429 and the reason; other products and customers go on; a new UTC day starts again (the catalogue comes with the roster the program writes)", async () => {
    const dir = tempDir("pull-limits-");
    const settings = testSettings({ products: PRODUCTS });
    const customers = [
      customer("acme", "enterprise", { license: { expires: "2099-12-31" }, entitlements: [{ product: "app", maxPullsPerDay: 2 }, { product: "worker" }] }),
      customer("stark", "enterprise", { license: { expires: "2099-12-31" }, entitlements: [{ product: "app", maxPullsPerDay: 5 }] }),
    ];
    const roster = testRoster(customers, settings);
    const { result } = await runUnderMocks(() => program(settings, roster), {
      project: "p",
      stack: "test",
      cloud: { accountId: "111122223333", region: "eu-west-1" },
    });
    writeFileSync(path.join(dir, "acl.json"), await unwrap(result.distribution!.acl));
    // As the program mounts it for the broker: the roster with the stack's catalogue, so a broker
    // told nothing of the stack's settings judges by it.
    writeFileSync(path.join(dir, "roster.yaml"), rosterDocument(roster, settings));
    const robots = Object.fromEntries(
      await Promise.all(
        result.customers.map(async (c) => [
          c.customerId,
          { u: await unwrap(c.credentials.distribution!.id!), p: await unwrap(c.credentials.distribution!.secret!) },
        ]),
      ),
    );
    const pair = makeKeyPair(dir);
    let day = "2026-12-05";
    // Its log, timed by the broker's day, for `intake usage` below.
    const log = path.join(dir, "broker.log");
    const logger = pino({ timestamp: () => `,"time":${Date.parse(`${day}T12:00:00Z`)}` }, pino.destination({ dest: log, sync: true }));
    const broker = new TokenBroker({
      aclFile: path.join(dir, "acl.json"),
      rosterFile: path.join(dir, "roster.yaml"),
      key: loadSigningKey(pair.key, pair.cert),
      service: "registry-intake",
      issuer: "registry-intake-broker",
      today: () => day,
      logger,
    });
    try {
      const ask = async (id: string, repository: string) => {
        const r = await broker.tokenFor({ username: robots[id].u, password: robots[id].p }, "registry-intake", [`repository:${repository}:pull`]);
        return r.status === 200 ? "pull" : `${r.status} ${(r.body as { errors: { message: string }[] }).errors[0].message}`;
      };
      expect([await ask("acme", "intake/acme/app/app"), await ask("acme", "intake/acme/app/cli")]).toEqual(["pull", "pull"]);
      // A product acme is not entitled to: an empty token (the catalogue came with the roster).
      const tools = await broker.tokenFor({ username: robots.acme.u, password: robots.acme.p }, "registry-intake", ["repository:intake/acme/tools/tools:pull"]);
      expect(tools.status).toBe(200);
      expect(decodeJwt((tools.body as { token: string }).token).access).toEqual([]);
      expect(await ask("acme", "intake/acme/app/app")).toBe(
        "429 customer acme has pulled app 2 times today, its limit (maxPullsPerDay 2); more after 00:00 UTC",
      );
      // No limit on worker; stark's own count.
      expect([await ask("acme", "intake/acme/worker/worker"), await ask("stark", "intake/stark/app/app")]).toEqual(["pull", "pull"]);
      expect(await broker.metrics.registry.metrics()).toMatch(/intake_broker_tokens_denied_total\{customer="acme",endpoint="token",reason="pull_limit"\} 1/);
      day = "2026-12-06";
      expect(await ask("acme", "intake/acme/app/app")).toBe("pull");
    } finally {
      await broker.close();
    }
    // `intake usage` reports each limit against the busiest day, the refusals, and the kinds where nothing counts pulls.
    const report = await brokerUsage(log, { limits: pullLimitsOf(roster, settings) });
    const products = (id: string) => report.customers.find((c) => c.customer === id)!.products;
    const elsewhere = ["ghcr", "ecr", "acr", "gar"];
    expect(products("acme")).toEqual({
      app: {
        pulled: 3,
        pushed: 0,
        busiest: { day: "2026-12-05", pulled: 2 },
        refusedAtLimit: 1,
        limit: { maxPullsPerDay: 2, overOn: [], notEnforcedOn: elsewhere },
      },
      worker: { pulled: 1, pushed: 0, busiest: { day: "2026-12-05", pulled: 1 } },
    });
    expect(products("stark")).toEqual({
      app: { pulled: 1, pushed: 0, busiest: { day: "2026-12-05", pulled: 1 }, limit: { maxPullsPerDay: 5, overOn: [], notEnforcedOn: elsewhere } },
    });
    // A day past the limit (two replicas each counting their own) is named.
    const doubled = await brokerUsage(log, { limits: { acme: { app: { maxPullsPerDay: 1, notEnforcedOn: [] } } } });
    expect(doubled.customers.find((c) => c.customer === "acme")!.products.app.limit).toEqual({
      maxPullsPerDay: 1,
      overOn: [{ day: "2026-12-05", pulled: 2 }],
      notEnforcedOn: [],
    });
    expect(renderUsageText(report)).toContain(
      "acme      app: 2 a day; busiest 2026-12-05 with 2; 1 refused at the limit; not enforced on ghcr, ecr, acr, gar (pulls there go to the cloud's registry, not through the broker)",
    );
    expect(renderUsageText(doubled)).toMatch(
      /app: 1 a day; busiest 2026-12-05 with 2; 1 refused at the limit; OVER on 2026-12-05 \(2\): each broker replica counts its own pulls$/m,
    );
    expect(renderUsageMarkdown(report)).toContain("| `acme` | `app` | 2 | 2026-12-05 (2) | 1 | - | ghcr, ecr, acr, gar |");
  });
});

describe("ACR by product", () => {
  const settings = testSettings({ products: PRODUCTS });
  const roster = testRoster(
    [
      customer("acme", "enterprise", {
        license: { expires: "2099-12-31" },
        entitlements: [{ product: "app" }, { product: "tools" }],
        acr: { allowDelete: true },
      }),
      customer("stark", "enterprise", { license: { expires: "2099-12-31" }, entitlements: [] }),
    ],
    settings,
  );
  it("the scope map names each entitled product's folder, no scope map or token for no product; a planted action on another product is a violation; no credential is minted for no product", async () => {
    const plan = await planProgram(settings, roster);
    const [map] = plan.resources.filter((r) => r.customer === "acme" && r.type === "azure-native:containerregistry:ScopeMap");
    expect(map.inputs.actions).toEqual([
      ...["content/read", "content/write", "metadata/read", "content/delete", "metadata/write"].map((v) => `repositories/intake/acme/app/*/${v}`),
      ...["content/read", "content/write", "metadata/read", "content/delete", "metadata/write"].map((v) => `repositories/intake/acme/tools/*/${v}`),
    ]);
    expect(plan.resources.filter((r) => r.customer === "stark" && r.type.startsWith("azure-native:containerregistry:"))).toEqual([]);
    expect(plan.violations).toEqual([]);
    const resources = fromRecorded(plan.recorded ?? []);
    const m = resources.find((r) => r.type === "azure-native:containerregistry:ScopeMap" && r.urn.includes("acme"))!;
    const planted = { ...m, urn: `${m.urn}-planted`, props: { ...m.props, actions: ["repositories/intake/acme/worker/*/content/read"] } };
    expect(
      evaluate([...resources, planted], policyContext(roster, settings))
        .filter((v) => v.policy === "entitled-products-only")
        .map((v) => v.message),
    ).toEqual([
      expect.stringMatching(/scope-map action on intake\/acme\/worker\/\* is product worker, which customer acme is not entitled to \(entitled: app, tools\)/),
    ]);
    await expect(mintFor("stark", "acr", { settings, roster, azureSubscriptionId: "s" })).rejects.toThrow(
      /customer stark is entitled to no product of the stack's catalogue: its acr credential would reach nothing/,
    );
  });
});

describe("Artifact Registry by product: a repository per product", () => {
  const settings = testSettings({ products: PRODUCTS });
  const roster = acmeAndStark(settings);
  it("<prefix>-<id>--<product> with the writer role on each; none for no product; a product's namespace is its repository; a planted one is a violation", async () => {
    const { plan, of } = await planned(settings, roster);
    expect(
      of("acme", "gcp:artifactregistry/repository:Repository")
        .map((r) => r.inputs.repositoryId)
        .sort(),
    ).toEqual(["intake-acme--app", "intake-acme--worker"]);
    expect(of("acme", "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")).toHaveLength(2);
    expect(of("stark", "gcp:artifactregistry/repository:Repository")).toEqual([]);
    expect(of("stark", "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")).toEqual([]);
    expect(plan.violations).toEqual([]);
    expect(customerNamespace("gar", "acme", settings, "app")).toBe("europe-west1-docker.pkg.dev/intake-test-123/intake-acme--app/");
    expect(customerNamespace("ecr", "acme", settings, "app")).toMatch(/\.amazonaws\.com\/intake\/acme\/app\/$/);
    const resources = fromRecorded(plan.recorded ?? []);
    const repo = resources.find((r) => r.type === "gcp:artifactregistry/repository:Repository" && r.props.repositoryId === "intake-acme--app")!;
    const planted = { ...repo, urn: `${repo.urn}-planted`, props: { ...repo.props, repositoryId: "intake-acme--tools", name: "intake-acme--tools" } };
    expect(
      evaluate([...resources, planted], policyContext(roster, settings))
        .filter((v) => v.policy === "entitled-products-only")
        .map((v) => v.message),
    ).toEqual([
      expect.stringMatching(
        /"intake-acme--tools": repository intake\/acme\/tools\/\* is product tools, which customer acme is not entitled to \(entitled: app, worker\)/,
      ),
    ]);
  });
  it("a product name too long for Artifact Registry's 63 characters is refused while gar is enabled", () => {
    expect(() => testSettings({ products: { "a-very-long-product-name-here-xy": { repositories: ["app"] } } })).toThrow(
      /products\.a-very-long-product-name-here-xy.*at most 31 characters here/,
    );
    expect(() =>
      testSettings({ enabledKinds: ["ecr", "distribution"], products: { "a-very-long-product-name-here-xy": { repositories: ["app"] } } }),
    ).not.toThrow();
  });
});

describe("GHCR by product: a repository per product, read by the customer's team", () => {
  it("<prefix>-<id>--<product> repositories with the team's read on each; a product's namespace is its repository; a planted one is a violation", async () => {
    const settings = testSettings({ products: PRODUCTS });
    const roster = acmeAndStark(settings);
    const { plan, of } = await planned(settings, roster);
    expect(
      of("acme", "github:index/repository:Repository")
        .map((r) => r.inputs.name)
        .sort(),
    ).toEqual(["intake-acme--app", "intake-acme--worker"]);
    expect(
      of("acme", "github:index/teamRepository:TeamRepository")
        .map((r) => r.name)
        .sort(),
    ).toEqual(["acme-ghcr-read-app", "acme-ghcr-read-worker"]);
    expect(of("stark", "github:index/repository:Repository")).toEqual([]);
    expect(plan.violations).toEqual([]);
    expect(customerNamespace("ghcr", "acme", settings, "app")).toBe("ghcr.io/example-org/intake-acme--app/");
    const resources = fromRecorded(plan.recorded ?? []);
    const repo = resources.find((r) => r.type === "github:index/repository:Repository" && r.props.name === "intake-acme--app")!;
    const planted = { ...repo, urn: `${repo.urn}-planted`, props: { ...repo.props, name: "intake-acme--tools" } };
    expect(
      evaluate([...resources, planted], policyContext(roster, settings))
        .filter((v) => v.policy === "entitled-products-only")
        .map((v) => v.message),
    ).toEqual([expect.stringMatching(/"intake-acme--tools": repository intake\/acme\/tools\/\* is product tools, which customer acme is not entitled to/)]);
  });
});

describe("intake verify on ECR: the minted session's policy judged as IAM would", () => {
  it("each customer's credential lists its own product, is refused a product it is not entitled to and the neighbour's; none for no product", async () => {
    const fake = await startFakeEcr({ region: "eu-west-1", accountId: "111122223333" });
    try {
      const settings = testSettings({ products: PRODUCTS, enabledKinds: ["ecr"] });
      const licensed = { license: { expires: "2099-12-31" } };
      const roster = testRoster(
        [
          customer("acme", "enterprise", { ...licensed, entitlements: [{ product: "app" }, { product: "worker" }] }),
          customer("stark", "enterprise", { ...licensed, entitlements: [] }),
          customer("wayne", "enterprise", { ...licensed, entitlements: [{ product: "worker" }] }),
        ],
        settings,
      );
      const report = await verify({
        settings,
        roster,
        customers: ["acme", "stark", "wayne"],
        kinds: ["ecr"],
        mint: () => ({ pushRoleArn: "arn:aws:iam::111122223333:role/intake/intake-ecr-push" }),
      });
      const seen = (id: string) => report.results.find((r) => r.customer === id)!.probes.map((p) => [p.what, p.repository, p.status, p.ok]);
      expect(seen("acme")).toEqual([
        ["list own", "intake/acme/app/app", 404, true],
        ["list not entitled", "intake/acme/tools/tools", 403, true],
        ["list neighbour's", "intake/stark/app/app", 403, true],
      ]);
      expect(seen("wayne")).toEqual([
        ["list own", "intake/wayne/worker/worker", 404, true],
        ["list not entitled", "intake/wayne/app/app", 403, true],
        ["list neighbour's", "intake/acme/worker/worker", 403, true],
      ]);
      expect(report.results.find((r) => r.customer === "stark")).toMatchObject({ minted: false, licensed: false, ok: true });
      expect(report.ok).toBe(true);
      expect(fake.judged).toContain("ecr:ListImages intake/acme/tools/tools 403");
      // The judge is IAM's: the whole namespace, as a session before the catalogue had it, reaches every product.
      const whole = JSON.stringify({
        Statement: [{ Effect: "Allow", Action: ["ecr:ListImages"], Resource: ["arn:aws:ecr:eu-west-1:111122223333:repository/intake/acme/*"] }],
      });
      expect(policyAllows(whole, "ecr:ListImages", "arn:aws:ecr:eu-west-1:111122223333:repository/intake/acme/tools/tools")).toBe(true);
    } finally {
      await fake.close();
    }
  });
});
