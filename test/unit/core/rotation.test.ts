// Rotation as data: a new generation is created, the previous kept through its overlap, then removed.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import bcryptjs from "bcryptjs";
import { decodeJwt } from "jose";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { main } from "../../../cli/main";
import type { Acl } from "../../../core/acl";
import { liveGenerations } from "../../../core/rotation";
import { rotation } from "../../../automation/rotate";
import { runUnderMocks } from "../../../planning/engine";
import { program } from "../../../program";
import { TokenBroker } from "../../../runtime/broker/broker";
import { loadSigningKey } from "../../../runtime/broker/keys";
import { makeKeyPair, writeBrokerFixture } from "../../../testing/e2e";
import { ACCOUNT, customer, planOf, REGION, testRoster, testSettings, unwrap } from "../../../testing/helpers";
import { git, withBareRemote } from "../../../testing/git";
import { tempDir } from "../../../testing/tmp";

const ROOT = path.resolve(__dirname, "../../..");
const rotated = (previousUntil: string) => ({
  ecr: { generation: 2, previousUntil },
  distribution: { generation: 2, previousUntil },
  gar: { generation: 3, previousUntil },
});
const GAR_KEYS = { gar: { project: "intake-test-123", location: "europe-west1", serviceAccountKeys: true } };

describe("rotation in the program", () => {
  it("generations to declare: the current, and the previous through its last day", () => {
    expect(liveGenerations(undefined, "2026-11-22")).toEqual({ current: 1 });
    expect(liveGenerations({ generation: 2, previousUntil: "2026-11-29" }, "2026-11-29")).toEqual({ current: 2, previous: 1, previousUntil: "2026-11-29" });
    expect(liveGenerations({ generation: 2, previousUntil: "2026-11-29" }, "2026-11-30")).toEqual({ current: 2 });
  });

  it("during the overlap both credentials exist, the first under its old name (nothing replaced); the outputs carry the new one", async () => {
    const { recorded, plan } = await planOf([customer("acme", "enterprise", { credentials: rotated("2026-11-29") })], GAR_KEYS);
    const names = (type: string) =>
      recorded
        .filter((r) => r.type === type)
        .map((r) => r.name)
        .sort();
    expect(names("aws:iam/accessKey:AccessKey")).toEqual(["acme-ecr-key", "acme-ecr-key-g2"]);
    expect(names("gcp:serviceaccount/key:Key")).toEqual(["acme-gar-key-g2", "acme-gar-key-g3"]);
    expect(names("random:index/randomPassword:RandomPassword").filter((n) => n.startsWith("acme"))).toEqual([
      "acme-distribution-robot",
      "acme-distribution-robot-g2",
    ]);
    expect(plan.customers[0].rotations).toEqual([
      { kind: "ecr", generation: 2, previous: 1, previousUntil: "2026-11-29" },
      { kind: "gar", generation: 3, previous: 2, previousUntil: "2026-11-29" },
      { kind: "distribution", generation: 2, previous: 1, previousUntil: "2026-11-29" },
    ]);
    // The credential handed out is the new generation's.
    const settings = testSettings(GAR_KEYS);
    const roster = testRoster([customer("acme", "enterprise", { credentials: rotated("2026-11-29") })], settings);
    const { result, resources } = await runUnderMocks(() => program(settings, roster), {
      project: "p",
      stack: "s",
      cloud: { accountId: ACCOUNT, region: REGION },
    });
    const g2 = resources.find((r) => r.name === "acme-ecr-key-g2")!;
    expect(await unwrap(result.customers[0].credentials.ecr!.id!)).toBe(g2.id);
    const robotG2 = resources.find((r) => r.name === "acme-distribution-robot-g2")!;
    expect(await unwrap(result.customers[0].credentials.distribution!.secret!)).toBe(robotG2.state.result);
    // The broker's entry holds both hashes and the last day of the previous one.
    const acl = JSON.parse(await unwrap(result.distribution!.acl)) as Acl;
    const robotG1 = resources.find((r) => r.name === "acme-distribution-robot")!;
    expect(acl.entries[0]).toMatchObject({
      passwordHash: robotG2.state.bcryptHash,
      previousPasswordHash: robotG1.state.bcryptHash,
      previousUntil: "2026-11-29",
    });
  });

  it("after the overlap only the current generation is declared: the first pulumi up after the day removes the previous", async () => {
    const { recorded, plan } = await planOf([customer("acme", "enterprise", { credentials: rotated("2026-11-21") })], GAR_KEYS);
    expect(recorded.filter((r) => r.type === "aws:iam/accessKey:AccessKey").map((r) => r.name)).toEqual(["acme-ecr-key-g2"]);
    expect(recorded.filter((r) => r.type === "gcp:serviceaccount/key:Key").map((r) => r.name)).toEqual(["acme-gar-key-g3"]);
    expect(plan.customers[0].rotations).toEqual([
      { kind: "ecr", generation: 2 },
      { kind: "gar", generation: 3 },
      { kind: "distribution", generation: 2 },
    ]);
  });

  it("the platform's delivery robot rotates by the stack setting distribution.deliveryRobot", async () => {
    const settings = testSettings({ distribution: { host: "registry.test.example.com", deliveryRobot: { generation: 2, previousUntil: "2026-11-29" } } });
    const roster = testRoster([customer("acme", "enterprise")], settings);
    const { result, resources } = await runUnderMocks(() => program(settings, roster), {
      project: "p",
      stack: "s",
      cloud: { accountId: ACCOUNT, region: REGION },
    });
    const robots = resources.filter((r) => r.name.startsWith("distribution-delivery-robot"));
    expect(robots.map((r) => r.name).sort()).toEqual(["distribution-delivery-robot", "distribution-delivery-robot-g2"]);
    const acl = JSON.parse(await unwrap(result.distribution!.acl)) as Acl;
    const g1 = robots.find((r) => r.name === "distribution-delivery-robot")!;
    const g2 = robots.find((r) => r.name === "distribution-delivery-robot-g2")!;
    expect(acl.delivery).toMatchObject({ passwordHash: g2.state.bcryptHash, previousPasswordHash: g1.state.bcryptHash, previousUntil: "2026-11-29" });
    expect(await unwrap(result.distribution!.deliveryPassword!)).toBe(g2.state.result);
    expect(() => testSettings({ distribution: { host: "r.example.com", deliveryRobot: { generation: 1, previousUntil: "2026-11-29" } } })).toThrow(
      /registry-intake:distribution\.deliveryRobot\.previousUntil: needs a generation above 1/,
    );
  });

  it("a roster that names a previous day without a previous generation is refused, naming the field", async () => {
    await expect(planOf([customer("acme", "enterprise", { credentials: { ecr: { generation: 1, previousUntil: "2026-12-01" } } })])).rejects.toThrow(
      /customer acme field credentials\.ecr\.previousUntil: needs a generation above 1/,
    );
  });
});

describe("rotation in the broker", () => {
  it("accepts the previous robot password through its last day, and never after", async () => {
    const dir = tempDir("rotate-broker-");
    const pair = makeKeyPair(dir);
    const files = writeBrokerFixture(dir, { username: "robot-acme", password: "new-password", cost: 4 });
    const acl = JSON.parse(readFileSync(files.aclFile, "utf8"));
    Object.assign(acl.entries[0], { previousPasswordHash: bcryptjs.hashSync("old-password", 4), previousUntil: "2026-11-29" });
    writeFileSync(files.aclFile, JSON.stringify(acl));
    let today = "2026-11-29";
    const broker = new TokenBroker({
      ...files,
      key: loadSigningKey(pair.key, pair.cert),
      service: "svc",
      issuer: "iss",
      today: () => today,
      logger: pino({ level: "silent" }),
    });
    const token = async (password: string) => {
      const r = await broker.tokenFor({ username: "robot-acme", password }, "svc", ["repository:intake/acme/app:pull"]);
      return r.status === 200 ? decodeJwt((r.body as { token: string }).token).access : r.status;
    };
    expect(await token("new-password")).toEqual([{ type: "repository", name: "intake/acme/app", actions: ["pull"] }]);
    expect(await token("old-password")).toEqual([{ type: "repository", name: "intake/acme/app", actions: ["pull"] }]);
    expect(await token("neither")).toBe(401);
    today = "2026-11-30";
    expect(await token("old-password")).toBe(401); // even with the access list not yet updated
    expect(await token("new-password")).toEqual([{ type: "repository", name: "intake/acme/app", actions: ["pull"] }]);
    await broker.close();
  });

  it("the delivery robot's previous password works through its last day too", async () => {
    const dir = tempDir("rotate-delivery-");
    const pair = makeKeyPair(dir);
    const files = writeBrokerFixture(dir, { username: "robot-acme", password: "pw", cost: 4 });
    const acl = JSON.parse(readFileSync(files.aclFile, "utf8"));
    acl.delivery = {
      username: "intake-delivery",
      passwordHash: bcryptjs.hashSync("new-delivery", 4),
      previousPasswordHash: bcryptjs.hashSync("old-delivery", 4),
      previousUntil: "2026-11-29",
      enabled: true,
    };
    writeFileSync(files.aclFile, JSON.stringify(acl));
    let today = "2026-11-29";
    const broker = new TokenBroker({
      ...files,
      key: loadSigningKey(pair.key, pair.cert),
      service: "svc",
      issuer: "iss",
      today: () => today,
      logger: pino({ level: "silent" }),
    });
    const status = async (password: string) =>
      (await broker.tokenFor({ username: "intake-delivery", password }, "svc", ["repository:intake/acme/app:push"])).status;
    expect([await status("new-delivery"), await status("old-delivery"), await status("other")]).toEqual([200, 200, 401]);
    today = "2026-11-30";
    expect([await status("new-delivery"), await status("old-delivery")]).toEqual([200, 401]);
    await broker.close();
  });
});

const text0 = (file: string) => readFileSync(file, "utf8");

describe("intake rotate", () => {
  async function run(args: string[]) {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  }

  it("writes the next generation with its overlap into the roster (comments kept), refuses to rotate again inside it", async () => {
    // A copy of the project: both of its stacks read customers/roster.yaml.
    const dir = tempDir("rotate-");
    for (const f of ["Pulumi.yaml", "Pulumi.dev.yaml", "Pulumi.prod.yaml"]) writeFileSync(path.join(dir, f), readFileSync(path.join(ROOT, f)));
    mkdirSync(path.join(dir, "customers"));
    const roster = path.join(dir, "customers", "roster.yaml");
    writeFileSync(roster, readFileSync(path.join(ROOT, "customers", "roster.yaml"), "utf8"));
    const r = await run(["rotate", "--customer", "acme", "--stack", "dev", "--project", dir, "--overlap-days", "3"]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const today = new Date().toISOString().slice(0, 10);
    const until = new Date(Date.parse(`${today}T00:00:00Z`) + 3 * 86400_000).toISOString().slice(0, 10);
    expect(r.out.split("\n").slice(0, 2)).toEqual([
      `acme ecr: generation 1 → 2; generation 1 keeps working through ${until}`,
      `acme distribution: generation 1 → 2; generation 1 keeps working through ${until}`,
    ]);
    // Both stacks read this roster: the output says so (prod applies it too).
    expect(r.out).toMatch(/which stacks dev, prod read: each creates the new credentials at its next `pulumi up`/);
    expect(text0(roster)).toContain("registries: [ghcr, ecr]"); // flow lists as written
    const text = readFileSync(roster, "utf8");
    const acme = (parse(text) as { customers: { id: string; credentials?: unknown }[] }).customers.find((c) => c.id === "acme")!;
    expect(acme.credentials).toEqual({ ecr: { generation: 2, previousUntil: until }, distribution: { generation: 2, previousUntil: until } });
    expect(text).toContain("# its classic PAT is the stack secret ghcr.machineUserTokens.acme"); // comments survive
    // The plan shows what rotates and when.
    const plan = await run(["plan", "--stack", "dev", "--project", dir]);
    expect(plan.out).toContain(`    rotating ecr: generation 2; generation 1 kept through ${until}, removed by the first pulumi up after`);
    // A second rotation inside the overlap would cut generation 1 at once: refused, nothing written.
    const again = await run(["rotate", "--customer", "acme", "--stack", "dev", "--project", dir, "--kind", "ecr"]);
    expect(again.code).toBe(2);
    expect(again.err).toBe(
      `error: customer acme: ecr generation 1 is kept through ${until}; rotate again once a pulumi up has run after that day, so no client loses its credential at once`,
    );
    expect(readFileSync(roster, "utf8")).toBe(text);
  });

  it("where git holds the roster, commits the rotation to the branch and pushes it, the rest of the file as it was", async () => {
    const dir = tempDir("rotate-git-");
    for (const f of ["Pulumi.yaml", "Pulumi.prod.yaml"]) writeFileSync(path.join(dir, f), readFileSync(path.join(ROOT, f)));
    const dev = parse(readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    dev.config["registry-intake:onboarding"] = { git: { remote: "origin", branch: "main" }, apply: "ci" };
    writeFileSync(path.join(dir, "Pulumi.dev.yaml"), stringify(dev));
    mkdirSync(path.join(dir, "customers"));
    const roster = path.join(dir, "customers", "roster.yaml");
    const before = readFileSync(path.join(ROOT, "customers", "roster.yaml"), "utf8");
    writeFileSync(roster, before);
    const remote = withBareRemote(dir);
    const base = git(remote, "rev-parse", "main").trim();
    const r = await run(["rotate", "--customer", "acme", "--stack", "dev", "--project", dir, "--kind", "ecr", "--job", "rot-1"]);
    expect(r.code, r.err).toBe(0);
    const tip = git(remote, "rev-parse", "main").trim();
    expect(tip).not.toBe(base);
    expect(git(remote, "log", "-1", "--format=%B", "main").trim()).toBe("registry-intake: rotate acme ecr\n\nIntake-Job: rot-1");
    expect(r.out).toContain(`Committed ${tip.slice(0, 12)} to main: `);
    const today = new Date().toISOString().slice(0, 10);
    const until = new Date(Date.parse(`${today}T00:00:00Z`) + 7 * 86400_000).toISOString().slice(0, 10);
    // Only the rotation's lines, added to acme's entry.
    const added = git(remote, "diff", "--unified=0", base, tip)
      .split("\n")
      .filter((l) => /^[-+][^-+]/.test(l));
    expect(added).toEqual(["+    credentials:", "+      ecr:", "+        generation: 2", `+        previousUntil: ${until}`]);
    expect(readFileSync(roster, "utf8")).toBe(git(remote, "show", "main:customers/roster.yaml"));
  });

  it("refuses what has nothing to rotate, in one line, writing nothing", async () => {
    const dir = tempDir("rotate-bad-");
    const roster = path.join(dir, "roster.yaml");
    writeFileSync(roster, readFileSync(path.join(ROOT, "customers", "roster.yaml"), "utf8"));
    const before = readFileSync(roster, "utf8");
    const cases: [string[], RegExp][] = [
      [["--customer", "nosuch"], /--customer: nosuch is not in/],
      [["--customer", "initech"], /--customer: initech holds no long-lived credential on stack dev/],
      [["--customer", "acme", "--kind", "ghcr"], /--kind: ghcr has no long-lived credential to rotate; one of ecr, gar, distribution/],
      [["--customer", "acme", "--kind", "ecs"], /--kind: "ecs" is not a registry kind/],
      [["--customer", "acme", "--overlap-days", "400"], /--overlap-days: 400 is over 90/],
      [["--customer", "acme", "--kind", "gar"], /--kind: customer acme holds no long-lived gar credential on stack dev \(it holds: ecr, distribution\)/],
      [["--customer", "acme", "--overlap-days", "0"], /--overlap-days/],
    ];
    for (const [args, message] of cases) {
      const r = await run(["rotate", ...args, "--stack", "dev", "--roster", roster]);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err.split("\n")).toHaveLength(r.err.includes("(add --help") ? 2 : 1);
      expect(r.err).toMatch(message);
    }
    expect(readFileSync(roster, "utf8")).toBe(before);
  });
});

describe("the rotation's own words", () => {
  it("names why a suspended or lapsed customer's generations stay disabled, in one sentence", () => {
    const settings = testSettings();
    const roster = testRoster([
      customer("paused", "enterprise", { status: "suspended", registries: ["ecr"] }),
      customer("lapsed", "enterprise", { license: { expires: "2026-01-31" }, registries: ["ecr"] }),
    ]);
    const of = (id: string) =>
      rotation(
        settings,
        roster.customers.find((c) => c.id === id)!,
        roster.source,
        { kind: "ecr", overlapDays: 7, today: "2026-12-04" },
      ).lines[0];
    expect(of("paused")).toBe("paused ecr: generation 1 → 2; both stay disabled (the customer's status is suspended)");
    expect(of("lapsed")).toBe("lapsed ecr: generation 1 → 2; both stay disabled (the customer's license expired on 2026-01-31)");
  });
});
