import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { main } from "../../../cli/main";
import { COMMENT_LIMIT, renderDiffMarkdown } from "../../../cli/render-diff";
import { shardOf, shardStackName } from "../../../customers/shards";
import { ACCOUNT, customer, REGION } from "../../../testing/helpers";
import { tempDir } from "../../../testing/tmp";

const ROOT = path.resolve(__dirname, "../../..");
const LICENSE = { license: { expires: "2099-12-31" } };

/** A git repository holding a project with stack `ci` and a committed roster. */
function repo(stackConfig: Record<string, unknown> = {}) {
  const dir = tempDir("plan-base-");
  const git = (...args: string[]) => execFileSync("git", ["-C", dir, "-c", "user.email=ci@example.com", "-c", "user.name=ci", ...args], { stdio: "pipe" });
  git("init", "-q");
  copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  const config = {
    "registry-intake:environment": "dev",
    "registry-intake:enabledKinds": ["ghcr", "ecr", "distribution"],
    "registry-intake:aws": { accountId: ACCOUNT, region: REGION },
    "registry-intake:ghcr": { owner: "example-org" },
    "registry-intake:distribution": { host: "registry.example.com" },
    "registry-intake:prices": { currency: "EUR", perCustomerMonthly: { ecr: 4, ghcr: 1, distribution: 2.5 } },
    ...stackConfig,
  };
  const stackFile = path.join(dir, "Pulumi.ci.yaml");
  writeFileSync(stackFile, stringify({ config }));
  mkdirSync(path.join(dir, "customers"));
  const roster = path.join(dir, "customers", "roster.yaml");
  const write = (cs: unknown[]) => writeFileSync(roster, stringify({ customers: cs }));
  write([
    customer("acme", "enterprise", LICENSE),
    customer("globex", "professional", LICENSE),
    customer("initech", "standard", LICENSE),
    customer("hooli", "professional", LICENSE),
  ]);
  git("add", ".");
  git("commit", "-qm", "base");
  return { dir, write, stackFile, git };
}

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

describe("intake plan --base", () => {
  it("shows only what the roster change does: customers, resources per customer, cost, and a diagram for the PR", async () => {
    const { dir, write } = repo();
    write([
      customer("acme", "enterprise", LICENSE),
      customer("globex", "enterprise", LICENSE), // tier up: gains distribution (and acr, gar: not enabled here)
      customer("initech", "standard", LICENSE),
      customer("hooli", "professional", { ...LICENSE, status: "suspended" }),
      customer("wayne", "professional", { ...LICENSE, registries: ["ecr"] }), // new
    ]);
    const md = path.join(dir, "plan.md");
    const json = path.join(dir, "plan.json");
    const r = await cli(["plan", "--stack", "ci", "--project", dir, "--base", "HEAD", "--markdown", md, "--json", json]);
    expect(r.code, r.err).toBe(0);
    const d = JSON.parse(readFileSync(json, "utf8"));
    expect(d.customers.map((c: { id: string; changes: string[] }) => [c.id, c.changes])).toEqual([
      ["globex", ["tier", "registries"]],
      ["hooli", ["status"]],
      ["wayne", ["added"]],
    ]);
    const by = Object.fromEntries(d.customers.map((c: { id: string }) => [c.id, c]));
    // Unchanged customers were not planned at all.
    expect(JSON.stringify(d)).not.toContain("acme");
    expect(by.globex.resources.add).toEqual(expect.arrayContaining(["RandomPassword globex-distribution-robot"]));
    expect(by.globex.resources.remove).toEqual([]);
    expect(by.globex.monthlyCost).toBe(2.5);
    // Suspension disables credentials in place and takes the team's read away; nothing is added.
    expect(by.hooli.resources.update).toEqual(expect.arrayContaining(["AccessKey hooli-ecr-key"]));
    expect(by.hooli.resources.add).toEqual([]);
    expect(by.hooli.resources.remove).toEqual(["TeamRepository hooli-ghcr-read"]);
    expect(by.wayne.resources.add).toEqual(expect.arrayContaining(["Repository wayne-ecr-app", "User wayne-ecr-user"]));
    expect(by.wayne.monthlyCost).toBe(4);
    expect(d.monthlyCost).toBe(6.5);
    expect(d.stacks).toEqual(["ci"]);
    expect(r.out).toMatch(/^Changes against HEAD for stack ci:/);
    expect(r.out).toMatch(/Estimated monthly cost change: \+6\.50 EUR\. Stacks to update: ci\./);
    const text = readFileSync(md, "utf8");
    expect(text).toContain("```mermaid\nflowchart LR");
    expect(text).toMatch(/\| `wayne` \| professional, ecr \| `ci` \| \+\d+ \| \+4\.00 EUR \|/);
    expect(text).toMatch(/Against `HEAD`: 1 added, 0 removed, 1 tier changes, 1 status changes/);
  });

  it("who gains or loses a product: by the roster's entitlements and by the catalogue's tier defaults; the PR comment counts them", async () => {
    const products = {
      "registry-intake:products": { app: { repositories: ["app"] }, tools: { repositories: ["tools"] } },
      "registry-intake:tierEntitlements": { professional: [{ product: "app" }] },
    };
    const { dir, write, stackFile, git } = repo(products);
    write([
      customer("acme", "enterprise", { ...LICENSE, entitlements: [{ product: "app" }, { product: "tools" }] }),
      customer("globex", "professional", LICENSE),
      customer("initech", "standard", LICENSE),
      customer("hooli", "professional", LICENSE),
    ]);
    git("add", ".");
    git("commit", "-qm", "entitlements");
    write([
      customer("acme", "enterprise", { ...LICENSE, entitlements: [{ product: "app", versions: "^2" }] }), // loses tools, app's terms change
      customer("globex", "professional", { ...LICENSE, entitlements: [{ product: "tools" }] }), // its own list replaces the tier's
      customer("initech", "standard", LICENSE),
      customer("hooli", "professional", LICENSE),
    ]);
    const json = path.join(dir, "p.json");
    const md = path.join(dir, "p.md");
    const r = await cli(["plan", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json", json, "--markdown", md]);
    expect(r.code, r.err).toBe(0);
    const d = JSON.parse(readFileSync(json, "utf8"));
    expect(d.customers.map((c: { id: string; changes: string[]; details: string[] }) => [c.id, c.changes, c.details])).toEqual([
      ["acme", ["products"], ["loses tools"]],
      ["globex", ["products"], ["gains tools; loses app"]],
    ]);
    const by = Object.fromEntries(d.customers.map((c: { id: string }) => [c.id, c]));
    // Its ECR and GitHub repositories of tools are kept, not deleted; globex's tools repository is added.
    expect([...by.acme.resources.retain].sort()).toEqual(["Repository acme-ecr-tools--tools", "Repository acme-ghcr-repo-tools"]);
    expect(by.globex.resources.add).toEqual(expect.arrayContaining(["Repository globex-ecr-tools--tools"]));
    expect(readFileSync(md, "utf8")).toMatch(/0 registry changes, 2 product changes\./);
    // The same products on other terms: what moved, per product.
    git("add", ".");
    git("commit", "-qm", "terms");
    write([
      customer("acme", "enterprise", { ...LICENSE, entitlements: [{ product: "app", versions: "^3", updatesUntil: "2027-06-30" }] }),
      customer("globex", "professional", { ...LICENSE, entitlements: [{ product: "tools" }] }),
      customer("initech", "standard", LICENSE),
      customer("hooli", "professional", LICENSE),
    ]);
    const r3 = await cli(["plan", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json", json]);
    expect(r3.code, r3.err).toBe(0);
    expect(JSON.parse(readFileSync(json, "utf8")).customers.map((c: { id: string; details: string[] }) => [c.id, c.details])).toEqual([
      ["acme", ["entitlements: app stable ^2 → stable ^3 until 2027-06-30"]],
    ]);
    // A tier default that moves reaches every customer on that tier without a list of its own.
    git("add", ".");
    git("commit", "-qm", "more");
    writeFileSync(stackFile, readFileSync(stackFile, "utf8").replace("professional:\n      - product: app", "professional:\n      - product: tools"));
    const r2 = await cli(["plan", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json", json]);
    expect(r2.code, r2.err).toBe(0);
    const d2 = JSON.parse(readFileSync(json, "utf8"));
    expect(
      d2.customers.filter((c: { changes: string[] }) => c.changes.includes("products")).map((c: { id: string; details: string[] }) => [c.id, c.details]),
    ).toEqual([["hooli", ["gains tools; loses app"]]]);
  });

  it("a catalogue that comes says per customer what it is entitled to, and who is entitled to nothing", async () => {
    const { dir, stackFile } = repo();
    const doc = parse(readFileSync(stackFile, "utf8")) as { config: Record<string, unknown> };
    doc.config["registry-intake:products"] = { app: { repositories: ["app"] } };
    doc.config["registry-intake:tierEntitlements"] = { enterprise: [{ product: "app" }] };
    writeFileSync(stackFile, stringify(doc));
    const json = path.join(dir, "c.json");
    const r = await cli(["plan", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json", json]);
    expect(r.code, r.err).toBe(0);
    const d = JSON.parse(readFileSync(json, "utf8"));
    expect(Object.fromEntries(d.customers.map((c: { id: string; details: string[] }) => [c.id, c.details.join("; ")]))).toEqual({
      acme: "catalogue: entitled to app",
      globex: "catalogue: entitled to no product (credentials reach nothing)",
      initech: "catalogue: entitled to no product (credentials reach nothing)",
      hooli: "catalogue: entitled to no product (credentials reach nothing)",
    });
  });

  it("a removed customer's retained repositories are kept, not deleted; a settings change compares everyone", async () => {
    const { dir, write, stackFile } = repo();
    write([customer("acme", "enterprise", LICENSE), customer("globex", "professional", LICENSE), customer("hooli", "professional", LICENSE)]);
    let d = JSON.parse(
      (await cli(["plan", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json", path.join(dir, "a.json")]),
      readFileSync(path.join(dir, "a.json"), "utf8")),
    );
    expect(d.customers.map((c: { id: string }) => c.id)).toEqual(["initech"]);
    expect(d.customers[0].resources.retain).toEqual(expect.arrayContaining(["Repository initech-ghcr-repo"]));
    write([
      customer("acme", "enterprise", LICENSE),
      customer("globex", "professional", LICENSE),
      customer("initech", "standard", LICENSE),
      customer("hooli", "professional", LICENSE),
    ]);
    writeFileSync(stackFile, readFileSync(stackFile, "utf8").replace("environment: dev", "environment: prod"));
    d = JSON.parse(
      (await cli(["plan", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json", path.join(dir, "b.json")]),
      readFileSync(path.join(dir, "b.json"), "utf8")),
    );
    expect(d.settingsChanged).toBe(true);
    expect(d.customers.map((c: { id: string }) => c.id).sort()).toEqual(["acme", "globex", "hooli", "initech"]);
    const bad = await cli(["plan", "--stack", "ci", "--project", dir, "--base", "no-such-ref"]);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--base no-such-ref: not a commit of the git repository/);
  });

  it("intake shards --base lists only the shard stacks a change touches", async () => {
    const { dir, write } = repo({ "registry-intake:shard": { count: 4 } });
    write([
      customer("acme", "enterprise", LICENSE),
      customer("globex", "enterprise", LICENSE),
      customer("initech", "standard", LICENSE),
      customer("hooli", "professional", LICENSE),
    ]);
    const r = await cli(["shards", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json"]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      stacks: [shardStackName("ci", shardOf({ id: "globex" }, 4), 4)],
      customers: ["globex"],
      settingsChanged: false,
      batches: [[shardStackName("ci", shardOf({ id: "globex" }, 4), 4)]],
    });
    const list = await cli(["shards", "--stack", "ci", "--project", dir]);
    expect(list.out.split("\n")[0]).toBe("ci: platform stack, 4 shard stacks, 4 customers");
    expect(list.out.split("\n")).toHaveLength(5);
  });
});

describe("a roster folder (one file per team or shard, each reviewed on its own)", () => {
  it("plan, shards and shards --base read the folder as one roster; a customer in two files is one line naming both", async () => {
    const { dir, git } = repo({ "registry-intake:shard": { count: 4 }, "registry-intake:roster": "customers/roster.d" });
    const folder = path.join(dir, "customers", "roster.d");
    mkdirSync(folder);
    const part = (name: string, cs: unknown[]) => writeFileSync(path.join(folder, name), stringify({ customers: cs }));
    part("emea.yaml", [customer("acme", "enterprise", LICENSE), customer("globex", "professional", LICENSE)]);
    part("us.yaml", [customer("initech", "standard", LICENSE), customer("hooli", "professional", LICENSE)]);
    git("add", ".");
    git("commit", "-qm", "roster folder");
    const list = await cli(["shards", "--stack", "ci", "--project", dir]);
    expect(list.code, list.err).toBe(0);
    expect(list.out.split("\n")[0]).toBe("ci: platform stack, 4 shard stacks, 4 customers");
    // One file changes: only that customer's shard is touched.
    part("us.yaml", [customer("initech", "standard", LICENSE), customer("hooli", "enterprise", LICENSE)]);
    const r = await cli(["shards", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json"]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      stacks: [shardStackName("ci", shardOf({ id: "hooli" }, 4), 4)],
      customers: ["hooli"],
      settingsChanged: false,
      batches: [[shardStackName("ci", shardOf({ id: "hooli" }, 4), 4)]],
    });
    const plan = await cli(["plan", "--stack", "ci", "--project", dir, "--base", "HEAD"]);
    expect(plan.code, plan.err).toBe(0);
    expect(plan.out).toMatch(/hooli/);
    expect(plan.out).not.toMatch(/\bacme\b/);
    // The same customer in two files.
    part("emea.yaml", [customer("acme", "enterprise", LICENSE), customer("globex", "professional", LICENSE), customer("hooli", "professional", LICENSE)]);
    const twice = await cli(["shards", "--stack", "ci", "--project", dir]);
    expect(twice.code).toBe(2);
    expect(twice.err).toMatch(/^error: \S*us\.yaml: customer hooli: also in \S*emea\.yaml: a customer belongs in one roster file$/);
    // Edits through the roster store (onboard, offboard, rotate) need one file: refused, nothing written.
    part("emea.yaml", [customer("acme", "enterprise", LICENSE), customer("globex", "professional", LICENSE)]);
    const before = readFileSync(path.join(folder, "us.yaml"), "utf8");
    const rotate = await cli(["rotate", "--customer", "hooli", "--stack", "ci", "--project", dir]);
    expect(rotate.code).toBe(2);
    expect(rotate.err).toMatch(/roster\.d: the roster is a folder of files; onboarding, offboarding and rotation edit one roster file/);
    expect(readFileSync(path.join(folder, "us.yaml"), "utf8")).toBe(before);
  });
});

describe("intake shards --base --json batches for CI", () => {
  it("a settings change touches every stack, split into at most --max-jobs batches (a matrix runs at most 256 jobs)", async () => {
    const { dir, stackFile } = repo({ "registry-intake:shard": { count: 10 } });
    writeFileSync(stackFile, readFileSync(stackFile, "utf8").replace("EUR", "USD"));
    const r = await cli(["shards", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json", "--max-jobs", "4"]);
    expect(r.code, r.err).toBe(0);
    const out = JSON.parse(r.out) as { stacks: string[]; batches: string[][] };
    expect(out.stacks).toHaveLength(11);
    expect(out.batches.map((b) => b.length)).toEqual([3, 3, 3, 2]);
    expect(out.batches.flat()).toEqual(out.stacks);
    expect((await cli(["shards", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json", "--max-jobs", "0"])).code).toBe(2);
  });
});

describe("intake shards --base with the broker on Kubernetes", () => {
  it("a customer's change touches its shard only: the roster the broker judges by is that shard's part, not the platform's", async () => {
    const k8s = { host: "registry.example.com", kubernetes: { namespace: "registry", brokerImage: "example/intake:1", signingSecretName: "broker-signing" } };
    const { dir, write } = repo({
      "registry-intake:shard": { count: 4 },
      "registry-intake:enabledKinds": ["ghcr", "distribution"],
      "registry-intake:distribution": k8s,
    });
    write([
      customer("acme", "enterprise", LICENSE),
      customer("globex", "professional", LICENSE),
      customer("initech", "standard", LICENSE),
      customer("hooli", "enterprise", { ...LICENSE, status: "suspended" }),
    ]);
    const r = await cli(["shards", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json"]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toEqual({
      stacks: [shardStackName("ci", shardOf({ id: "hooli" }, 4), 4)],
      customers: ["hooli"],
      settingsChanged: false,
      batches: [[shardStackName("ci", shardOf({ id: "hooli" }, 4), 4)]],
    });
  });
});

describe("intake shards --base and revocation", () => {
  it("suspending an ECR customer touches its shard and the platform stack, whose push role revokes its sessions", async () => {
    const { dir, write } = repo({ "registry-intake:shard": { count: 4 } });
    write([
      customer("acme", "enterprise", LICENSE),
      customer("globex", "professional", LICENSE),
      customer("initech", "standard", LICENSE),
      customer("hooli", "professional", { ...LICENSE, status: "suspended" }),
    ]);
    const r = await cli(["shards", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json"]);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out).stacks).toEqual(["ci", shardStackName("ci", shardOf({ id: "hooli" }, 4), 4)].sort());
    // A customer without ECR suspended: its shard only.
    const other = repo({ "registry-intake:shard": { count: 4 } });
    other.write([
      customer("acme", "enterprise", LICENSE),
      customer("globex", "professional", LICENSE),
      customer("initech", "standard", { ...LICENSE, status: "suspended" }),
      customer("hooli", "professional", LICENSE),
    ]);
    const o = await cli(["shards", "--stack", "ci", "--project", other.dir, "--base", "HEAD", "--json"]);
    expect(JSON.parse(o.out).stacks).toEqual([shardStackName("ci", shardOf({ id: "initech" }, 4), 4)]);
  });
});

describe("intake plan --base: kept resources", () => {
  it("an offboarding tags the repositories the stack holds orphaned and archives the GitHub one: updates, nothing dropped", async () => {
    const { dir, write } = repo();
    write([
      customer("acme", "enterprise", { ...LICENSE, status: "offboarded" }),
      customer("globex", "professional", LICENSE),
      customer("initech", "standard", LICENSE),
      customer("hooli", "professional", LICENSE),
    ]);
    const json = path.join(dir, "plan.json");
    const r = await cli(["plan", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json", json]);
    expect(r.code, r.err).toBe(0);
    const acme = JSON.parse(readFileSync(json, "utf8")).customers.find((c: { id: string }) => c.id === "acme");
    expect(acme.resources.retain).toEqual([]);
    expect(acme.resources.update).toEqual(expect.arrayContaining(["Repository acme-ecr-app", "Repository acme-ghcr-repo"]));
  });

  it("turning ecr.kms on replaces no repository and says why existing ones keep their encryption", async () => {
    const { dir, stackFile } = repo();
    const doc = JSON.parse(JSON.stringify((await import("yaml")).parse(readFileSync(stackFile, "utf8"))));
    doc.config["registry-intake:ecr"] = { kms: true };
    writeFileSync(stackFile, stringify(doc));
    const json = path.join(dir, "plan.json");
    const r = await cli(["plan", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json", json]);
    expect(r.code, r.err).toBe(0);
    const diff = JSON.parse(readFileSync(json, "utf8"));
    expect(diff.customers.flatMap((c: { resources: { replace: string[] } }) => c.resources.replace)).toEqual([]);
    expect(diff.warnings).toEqual([expect.stringMatching(/^ecr\.kms turned on: .*existing ones \(3 among the customers compared\) keep their encryption/)]);
    expect(r.out).toMatch(/warning: ecr\.kms turned on/);
  });
});

describe("the PR comment at scale", () => {
  it("a settings change over 5,000 customers in 20 shards stays under GitHub's limit, names the setting and the shard stacks, groups the diagram", async () => {
    const stacks = Array.from({ length: 20 }, (_, i) => `prod-shard-${String(i).padStart(2, "0")}`);
    const customers = Array.from({ length: 5000 }, (_, i) => ({
      id: `customer-${i}`,
      changes: ["other" as const],
      details: ["stack settings changed"],
      stack: stacks[i % 20],
      resources: {
        add: [],
        remove: [],
        retain: [],
        update: Math.floor(i / 20) % 2 ? [] : ["LifecyclePolicy intake/customer-x/app", "LifecyclePolicy intake/customer-x/worker"],
        replace: [],
      },
      monthlyCost: 0,
    }));
    const md = renderDiffMarkdown({
      stack: "prod",
      base: "origin/main",
      settingsChanged: true,
      settingsChanges: ["ecr.keepImages: 500 → 50"],
      prices: false,
      customers,
      platform: { add: [], remove: [], update: [] },
      currency: "USD",
      monthlyCost: 0,
      stacks: ["prod", ...stacks],
      violations: [],
      warnings: [],
    });
    expect(md.length).toBeLessThan(COMMENT_LIMIT);
    expect(md).toContain("- `ecr.keepImages: 500 → 50`");
    expect(md).toContain("(2500 with no resource change are not listed)");
    for (const s of stacks) expect(md).toContain(`| \`${s}\` | 125 |`);
    expect(md).toMatch(/\| \.\.\. \| \d+ more customers: see plan\.json/);
    expect(md).toMatch(/g_other_prod_shard_07\["125 other"\] --> s_prod_shard_07/);
    expect(md).not.toContain("USD");
  });
});

describe("intake plan --base on a sharded stack", () => {
  it("names the changed setting, the shard stacks to update, and shard files that disagree with the platform's", async () => {
    const { dir, stackFile } = repo({ "registry-intake:shard": { count: 2 } });
    expect((await cli(["shards", "--stack", "ci", "--init", "--platform-stack", "org/registry-intake/ci", "--project", dir])).code).toBe(0);
    const doc = (await import("yaml")).parseDocument(readFileSync(stackFile, "utf8"));
    doc.setIn(["config", "registry-intake:ecr"], { keepImages: 50 });
    writeFileSync(stackFile, doc.toString());
    const md = path.join(dir, "plan.md");
    const json = path.join(dir, "plan.json");
    const r = await cli(["plan", "--stack", "ci", "--project", dir, "--base", "HEAD", "--markdown", md, "--json", json]);
    expect(r.code, r.err).toBe(0);
    const diff = JSON.parse(readFileSync(json, "utf8"));
    expect(diff.settingsChanges).toEqual(["ecr.keepImages: 500 → 50"]);
    expect(diff.stacks).toEqual(["ci", "ci-shard-00", "ci-shard-01"]);
    expect(diff.warnings).toEqual([]);
    expect(readFileSync(md, "utf8")).toContain("- `ecr.keepImages: 500 → 50`");
    // A shard file whose provider config drifted is named in the plan too.
    const shard = path.join(dir, "Pulumi.ci-shard-01.yaml");
    writeFileSync(shard, readFileSync(shard, "utf8").replace("config:\n", "config:\n  aws:region: ap-south-1\n"));
    const drifted = JSON.parse((await cli(["plan", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json", json]), readFileSync(json, "utf8")));
    expect(drifted.warnings).toEqual([
      expect.stringMatching(/^shards --check: \S*Pulumi\.ci-shard-01\.yaml: aws:region is "ap-south-1" but unset in Pulumi\.ci\.yaml; make them equal$/),
    ]);
  });
});

describe("intake shards --base and a shard's own file", () => {
  it("an edit of a shard stack file (its PATs, provider config) puts that shard in the stacks to update", async () => {
    const { dir, git } = repo({ "registry-intake:shard": { count: 2 } });
    expect((await cli(["shards", "--stack", "ci", "--init", "--platform-stack", "org/registry-intake/ci", "--project", dir])).code).toBe(0);
    git("add", ".");
    git("commit", "-qm", "shard files");
    expect(JSON.parse((await cli(["shards", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json"])).out).stacks).toEqual([]);
    const shard = path.join(dir, "Pulumi.ci-shard-01.yaml");
    writeFileSync(shard, readFileSync(shard, "utf8").replace("config:\n", "config:\n  github:owner: example-org\n"));
    expect(JSON.parse((await cli(["shards", "--stack", "ci", "--project", dir, "--base", "HEAD", "--json"])).out).stacks).toEqual(["ci-shard-01"]);
  });
});
