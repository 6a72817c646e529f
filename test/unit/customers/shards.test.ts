import { parseDocument } from "yaml";
import * as fs from "node:fs";
import * as path from "node:path";
import { main } from "../../../cli/main";
import { initShardStacks } from "../../../planning/shard-init";
import { loadStackContext } from "../../../core/stack";
import { readAclSource } from "../../../runtime/broker/broker";
import { describe, expect, it } from "vitest";
import { InvalidInput } from "../../../core/errors";
import { jumpHash, parseShardStackName, rosterForShard, shardOf, shardStackName } from "../../../customers/shards";
import { customer, planOf, testRoster, withStackSecrets } from "../../../testing/helpers";
import { tempDir } from "../../../testing/tmp";

const ids = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `cust-${String(i + from).padStart(5, "0")}`);

describe("shard assignment", () => {
  it("matches the jump consistent hash reference values", () => {
    // From the paper's reference implementation (Lamping & Veach 2014, and Guava's tests).
    expect([1n, 2n, 3n, 100n, 0xdeadbeefn].map((k) => jumpHash(k, 1))).toEqual([0, 0, 0, 0, 0]);
    expect(jumpHash(10863919174838991n, 11)).toBe(6);
    expect(jumpHash(2016238256797177309n, 11)).toBe(3);
    expect(jumpHash(1673758223894951030n, 11)).toBe(5);
    expect(jumpHash(2n, 100001)).toBe(80343);
    expect(jumpHash(2201n, 100001)).toBe(22152);
    expect(jumpHash(2202n, 100001)).toBe(15018);
  });

  it("adding customers never moves one; raising the count moves only into the new shards; shards stay balanced", () => {
    const before = new Map(ids(2000).map((id) => [id, shardOf({ id }, 8)]));
    // More customers: everyone already there keeps its shard (a shard depends on the id alone).
    for (const id of ids(3000)) if (before.has(id)) expect(shardOf({ id }, 8)).toBe(before.get(id));
    let moved = 0;
    for (const [id, s] of before) {
      const now = shardOf({ id }, 10);
      if (now !== s) {
        moved++;
        expect(now, id).toBeGreaterThanOrEqual(8);
      }
    }
    // About 2/10 move, all into shards 8 and 9.
    expect(moved / before.size).toBeGreaterThan(0.15);
    expect(moved / before.size).toBeLessThan(0.25);
    const sizes = Array.from({ length: 8 }, (_, i) => [...before.values()].filter((s) => s === i).length);
    for (const n of sizes) expect(Math.abs(n - 250)).toBeLessThan(60);
  });

  it("a pinned shard wins over the hash; stack names pad and parse", () => {
    expect(shardOf({ id: "acme", shard: 5 }, 8)).toBe(5);
    expect(shardStackName("prod", 3, 8)).toBe("prod-shard-03");
    expect(shardStackName("prod", 7, 200)).toBe("prod-shard-007");
    expect(parseShardStackName("prod-shard-03")).toEqual({ base: "prod", index: 3 });
    expect(parseShardStackName("prod")).toBeUndefined();
  });
});

describe("sharded stacks", () => {
  const roster = ids(24).map((id, i) => customer(id, ["enterprise", "professional", "standard"][i % 3]));

  it("each shard stack declares exactly its slice; together they declare everyone once; the platform stack none", async () => {
    const seen: string[] = [];
    for (let index = 0; index < 3; index++) {
      const { plan, recorded } = await planOf(roster, { shard: { count: 3, index, platformStack: "org/registry-intake/test" } });
      const expected = rosterForShard(testRoster(roster), index, 3).customers.map((c) => c.id);
      expect(plan.customers.map((c) => c.id)).toEqual(expected);
      seen.push(...expected);
      // Shared resources come from the platform stack by reference, never declared again.
      expect(recorded.filter((r) => r.type === "pulumi:pulumi:StackReference").map((r) => r.state.name)).toEqual(["org/registry-intake/test"]);
      expect(recorded.filter((r) => r.name.startsWith("platform-") && r.custom)).toEqual([]);
      expect(plan.violations.filter((v) => v.enforcement === "mandatory")).toEqual([]);
      // No delivery robot on a shard: the access list holds the shard's robots only.
      expect(recorded.filter((r) => r.name === "distribution-delivery-robot")).toEqual([]);
    }
    expect(seen.sort()).toEqual(ids(24));
    const { plan, recorded } = await planOf(roster, { shard: { count: 3 } });
    expect(plan.customers).toEqual([]);
    expect(recorded.some((r) => r.name === "distribution-delivery-robot")).toBe(true);
    expect(recorded.some((r) => r.type === "aws:iam/role:Role")).toBe(true);
  });

  it("a pin past the last shard, or a shard stack without its platform, is refused with the rule", async () => {
    await expect(planOf([customer("acme", "enterprise", { shard: 4 })], { shard: { count: 4, index: 0, platformStack: "p" } })).rejects.toThrow(
      /roster\.yaml: customer acme: shard: 4 is not below the stack's shard count 4 \(shards 0-3\)/,
    );
    await expect(planOf([customer("acme", "enterprise")], { shard: { count: 4, index: 4 } })).rejects.toThrow(
      /registry-intake:shard\.index: .*must be below count 4[\s\S]*registry-intake:shard\.platformStack: is required on a shard stack/,
    );
  });
});

describe("the broker's access list from a sharded stack", () => {
  it("merges a folder of parts; refuses parts that disagree or repeat a robot", async () => {
    const { writeFileSync } = await import("node:fs");
    const path = await import("node:path");
    const hash = "$2a$04$" + "a".repeat(53);
    const entry = (id: string) => ({
      customer: id,
      username: `intake-robot-${id}`,
      passwordHash: hash,
      paths: [`intake/${id}/*`],
      actions: ["pull"],
      enabled: true,
    });
    const part = (entries: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ version: 1, service: "svc", issuer: "iss", entries, ...extra });
    const dir = tempDir("acl-parts-");
    writeFileSync(path.join(dir, "intake-broker-acl.json"), part([], { delivery: { username: "intake-delivery", passwordHash: hash, enabled: true } }));
    writeFileSync(path.join(dir, "intake-broker-acl-shard-00.json"), part([entry("acme")]));
    writeFileSync(path.join(dir, "intake-broker-acl-shard-01.json"), part([entry("globex"), entry("initech")]));
    const acl = readAclSource(dir);
    expect(acl.entries.map((e) => e.customer)).toEqual(["acme", "globex", "initech"]);
    expect(acl.delivery?.username).toBe("intake-delivery");
    writeFileSync(path.join(dir, "intake-broker-acl-shard-02.json"), part([entry("acme")]));
    expect(() => readAclSource(dir)).toThrow(/intake-broker-acl-shard-02\.json: robot intake-robot-acme is also in .*intake-broker-acl-shard-00\.json/);
    writeFileSync(path.join(dir, "intake-broker-acl-shard-02.json"), JSON.stringify({ version: 1, service: "other", issuer: "iss", entries: [] }));
    expect(() => readAclSource(dir)).toThrow(/shard-02\.json: service other \/ issuer iss differ from .*'s svc \/ iss/);
  });
});

describe("intake shards --init: the shard stack files", () => {
  const ROOT = path.resolve(__dirname, "../../..");
  /** A project folder with the prod stack sharded in `count` and the default roster. */
  function project(count: number) {
    const dir = tempDir("shard-init-");
    fs.cpSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    fs.cpSync(path.join(ROOT, "customers", "roster.yaml"), path.join(dir, "customers", "roster.yaml"), { recursive: true });
    const prod = withStackSecrets(fs.readFileSync(path.join(ROOT, "Pulumi.prod.yaml"), "utf8"));
    fs.writeFileSync(
      path.join(dir, "Pulumi.prod.yaml"),
      `encryptionsalt: v1:abc:def\n${prod.replace("  registry-intake:environment: prod\n", `  registry-intake:environment: prod\n  registry-intake:shard: { count: ${count} }\n`)}`,
    );
    return { dir };
  }
  const REF = "example/registry-intake/prod";

  it("writes every missing shard stack as a valid stack of its shard, without secrets or the platform's salt", async () => {
    const { dir } = project(3);
    const r = initShardStacks({ projectDir: dir, stack: "prod", platformStack: REF });
    expect(r.created.map((f) => path.basename(f))).toEqual(["Pulumi.prod-shard-00.yaml", "Pulumi.prod-shard-01.yaml", "Pulumi.prod-shard-02.yaml"]);
    const prod = loadStackContext({ projectDir: dir, stack: "prod" });
    for (let i = 0; i < 3; i++) {
      const text = fs.readFileSync(path.join(dir, `Pulumi.prod-shard-0${i}.yaml`), "utf8");
      expect(text).not.toContain("secure:");
      expect(text).not.toContain("encryptionsalt");
      const s = loadStackContext({ projectDir: dir, stack: `prod-shard-0${i}` });
      expect(s.settings.shard).toEqual({ count: 3, index: i, platformStack: REF });
      // Everything else is the platform's, but for the secret (copied with pulumi config cp).
      expect(s.settings.ghcr).toEqual({ ...prod.settings.ghcr, machineUserTokens: {} });
      expect({ ...s.settings, shard: 0, stack: 0, ghcr: 0 }).toEqual({ ...prod.settings, shard: 0, stack: 0, ghcr: 0 });
    }
    // Secrets: the provider token to every shard; a customer's PAT to its own shard only.
    const acme = prod.roster.customers.find((c) => c.id === "acme")!;
    const acmeShard = shardOf(acme, 3);
    expect(r.copySecrets.filter((c) => c.endsWith(" github:token"))).toHaveLength(3);
    expect(r.copySecrets.filter((c) => c.includes("machineUserTokens"))).toEqual([
      `-s prod --dest prod-shard-0${acmeShard} --path 'registry-intake:ghcr.machineUserTokens.acme'`,
    ]);
    // Run again: nothing to write, all three kept.
    expect(initShardStacks({ projectDir: dir, stack: "prod", platformStack: REF })).toMatchObject({ created: [], copySecrets: [] });
  });

  it("refuses, writing nothing, when an existing shard file disagrees or the input is wrong", async () => {
    const { dir } = project(3);
    const prod = fs.readFileSync(path.join(dir, "Pulumi.prod.yaml"), "utf8");
    fs.writeFileSync(path.join(dir, "Pulumi.prod-shard-01.yaml"), "config:\n  registry-intake:shard: { count: 4, index: 1, platformStack: prod }\n");
    expect(prod).toContain("registry-intake:environment: prod");
    const refused = (platformStack: string, stack = "prod") => {
      try {
        initShardStacks({ projectDir: dir, stack, platformStack });
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidInput);
        return (e as Error).message;
      }
      throw new Error("expected a refusal");
    };
    expect(refused(REF)).toMatch(
      /^\S*Pulumi\.prod-shard-01\.yaml: exists and is invalid \(registry-intake:shard\.count: 4, but \S*Pulumi\.prod\.yaml has 3; make them equal\)$/,
    );
    expect(fs.existsSync(path.join(dir, "Pulumi.prod-shard-00.yaml"))).toBe(false);
    // One that holds a setting of its own (it would drift from the platform's) is named as such.
    fs.writeFileSync(
      path.join(dir, "Pulumi.prod-shard-01.yaml"),
      "config:\n  registry-intake:shard: { count: 3, index: 1, platformStack: prod }\n  registry-intake:ecr: { keepImages: 7 }\n",
    );
    expect(refused(REF)).toMatch(
      /Pulumi\.prod-shard-01\.yaml: exists and is invalid \(registry-intake:ecr: a shard stack takes every registry-intake setting from its platform stack; remove it here and set it in \S*Pulumi\.prod\.yaml/,
    );
    fs.rmSync(path.join(dir, "Pulumi.prod-shard-01.yaml"));
    expect(refused("example/registry-intake/dev")).toMatch(/--platform-stack "example\/registry-intake\/dev": must be a stack reference to prod/);
    expect(refused("a/b/c/prod")).toMatch(/must be a stack reference to prod/);
    expect(fs.readdirSync(dir).filter((f) => f.includes("shard"))).toEqual([]);
    // A stack without sharding has no shard stacks.
    fs.cpSync(path.join(ROOT, "Pulumi.dev.yaml"), path.join(dir, "Pulumi.dev.yaml"));
    expect(refused("dev", "dev")).toMatch(/registry-intake:shard: not set/);
  });

  it("the CLI needs --platform-stack with --init, and prints the pulumi config cp lines", async () => {
    const { dir } = project(2);
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => err.push(s) };
    expect(await main(["shards", "--stack", "prod", "--init", "--project", dir], io)).toBe(2);
    expect(err.join("\n")).toMatch(/--init needs --platform-stack/);
    expect(await main(["shards", "--stack", "prod", "--init", "--platform-stack", REF, "--project", dir], io)).toBe(0);
    expect(out.join("\n")).toMatch(/created \S*Pulumi\.prod-shard-00\.yaml[\s\S]*pulumi config cp -s prod --dest prod-shard-01 github:token/);
  });

  it("a shard holds no settings of its own: a platform setting changed later reaches every shard's plan; provider drift fails shards --check", async () => {
    const { dir } = project(2);
    initShardStacks({ projectDir: dir, stack: "prod", platformStack: REF });
    const shardText = fs.readFileSync(path.join(dir, "Pulumi.prod-shard-01.yaml"), "utf8");
    expect(shardText).not.toMatch(/registry-intake:(environment|ecr|aws)/);
    expect(shardText).toMatch(/aws:region: /);
    const prodFile = path.join(dir, "Pulumi.prod.yaml");
    const doc = parseDocument(fs.readFileSync(prodFile, "utf8"));
    doc.setIn(["config", "registry-intake:ecr", "keepImages"], 77);
    fs.writeFileSync(prodFile, doc.toString());
    for (const stack of ["prod-shard-00", "prod-shard-01"]) expect(loadStackContext({ projectDir: dir, stack }).settings.ecr.keepImages).toBe(77);
    const out: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(s) };
    expect(await main(["shards", "--stack", "prod", "--check", "--project", dir], io)).toBe(0);
    expect(out.join("\n")).toMatch(/2 shard stack files agree with Pulumi\.prod\.yaml/);
    fs.writeFileSync(path.join(dir, "Pulumi.prod-shard-01.yaml"), shardText.replace(/aws:region: \S+/, "aws:region: ap-south-1"));
    out.length = 0;
    expect(await main(["shards", "--stack", "prod", "--check", "--project", dir], io)).toBe(1);
    expect(out).toEqual([
      expect.stringMatching(/Pulumi\.prod-shard-01\.yaml: aws:region is "ap-south-1" but "[a-z0-9-]+" in Pulumi\.prod\.yaml; make them equal$/),
    ]);
  });

  it("a shard file whose shard key disagrees with the platform, or a platform mistake, is refused naming the right file", async () => {
    const { dir } = project(3);
    initShardStacks({ projectDir: dir, stack: "prod", platformStack: REF });
    const file = path.join(dir, "Pulumi.prod-shard-01.yaml");
    const good = fs.readFileSync(file, "utf8");
    const problem = (stack: string) => {
      try {
        loadStackContext({ projectDir: dir, stack });
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidInput);
        return (e as Error).message;
      }
      return "accepted";
    };
    fs.writeFileSync(file, good.replace("index: 1,", "index: 0,"));
    expect(problem("prod-shard-01")).toMatch(
      /Pulumi\.prod-shard-01\.yaml: registry-intake:shard\.index: 0 is the shard of stack prod-shard-00, not of prod-shard-01$/,
    );
    fs.writeFileSync(file, good.replace("count: 3,", "count: 4,"));
    expect(problem("prod-shard-01")).toMatch(/Pulumi\.prod-shard-01\.yaml: registry-intake:shard\.count: 4, but \S*Pulumi\.prod\.yaml has 3; make them equal$/);
    fs.writeFileSync(file, good);
    const prodFile = path.join(dir, "Pulumi.prod.yaml");
    const doc = parseDocument(fs.readFileSync(prodFile, "utf8"));
    doc.setIn(["config", "registry-intake:ecr", "keepImages"], "many");
    fs.writeFileSync(prodFile, doc.toString());
    expect(problem("prod-shard-01")).toMatch(/^\S*Pulumi\.prod\.yaml: registry-intake:ecr\.keepImages: /);
  });
});
