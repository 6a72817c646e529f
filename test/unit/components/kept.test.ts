// Kept resources: the kept list a stack exports, and adoption of what comes back.
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../../cli/main";
import { tempDir } from "../../../testing/tmp";
import { parseKeptList } from "../../../core/kept";
import { renamedSettingWarnings } from "../../../core/settings";
import { customer, owned, testRoster, testSettings, T } from "../../../testing/helpers";
import { planProgram } from "../../../planning/plan";
import { program } from "../../../program";
import { runUnderMocks } from "../../../planning/engine";

const planWith = async (customers: unknown[], keptList: Record<string, unknown> = {}, over: Record<string, unknown> = {}) => {
  const settings = testSettings(over);
  const plan = await planProgram(settings, testRoster(customers, settings), {}, program, keptList);
  return { plan, recorded: plan.recorded };
};

/** The `kept` output the program exports for this roster and previous kept list. */
async function exported(customers: unknown[], previous = {}, over: Record<string, unknown> = {}) {
  const settings = testSettings(over);
  const roster = testRoster(customers, settings);
  const { result } = await runUnderMocks(() => program(settings, roster, previous), {
    project: "registry-intake",
    stack: settings.stack,
    cloud: { accountId: "111122223333", region: "eu-west-1", githubOwner: "example-org" },
  });
  return new Promise((resolve) => (result.outputs.kept as { apply: (f: (v: unknown) => void) => void }).apply(resolve));
}

describe("the kept list", () => {
  it("records every kept repository declared, and keeps what leaves the program", async () => {
    const first = (await exported([customer("acme", "enterprise", { ecr: { repositories: ["app", "tools"] } })])) as { declared: string[]; kept: string[] };
    expect(first.kept).toEqual([]);
    expect(first.declared).toEqual(
      expect.arrayContaining([
        "ecr:intake/acme/app",
        "ecr:intake/acme/tools",
        "github:intake-acme",
        expect.stringMatching(/^gar:projects\/.+\/repositories\/intake-acme$/),
      ]),
    );
    // The platform's ACR registry, by the id the cloud gave it.
    const acr = first.declared.filter((k) => k.startsWith("acr:"));
    expect(acr).toEqual([
      expect.stringMatching(/^acr:\/subscriptions\/[0-9a-f-]+\/resourceGroups\/.+\/providers\/Microsoft\.ContainerRegistry\/registries\/\w+$/),
    ]);
    // Downgrade to standard: ECR and Artifact Registry leave the program, GitHub stays.
    const second = (await exported([customer("acme", "standard")], first)) as { declared: string[]; kept: string[] };
    expect(second.declared).toEqual([...acr, "github:intake-acme"]);
    expect(second.kept).toEqual(first.declared.filter((k) => k !== "github:intake-acme" && !k.startsWith("acr:")));
    expect(parseKeptList(second)).toEqual(second);
    expect(parseKeptList({ declared: ["not a key"] })).toBeUndefined();
  });

  it("adopts a kept repository when it comes back (import with its id) and creates the rest", async () => {
    const keptList = { declared: ["github:intake-acme"], kept: ["ecr:intake/acme/app", "github:intake-gone"] };
    const { plan, recorded } = await planWith([customer("acme", "enterprise", { ecr: { repositories: ["app", "new"] } })], keptList);
    const repos = owned(plan, recorded, "acme", T.repo);
    expect(repos.map((r) => [r.inputs.name, r.importId])).toEqual([
      ["intake/acme/app", "intake/acme/app"],
      ["intake/acme/new", undefined],
    ]);
    // Still in the stack's state: no import option.
    expect(owned(plan, recorded, "acme", T.ghRepo).map((r) => r.importId)).toEqual([undefined]);
    expect(plan.resources.filter((r) => r.adopted).map((r) => r.adopted)).toEqual(["intake/acme/app"]);
  });

  it("the ACR registry a destroyed stack left is adopted by the rest of its id (the program cannot spell the subscription); another registry's is not", async () => {
    const id = "/subscriptions/0b1f6471-1bf0-4dda-aec3-cb9272f09590/resourceGroups/RG-Intake/providers/Microsoft.ContainerRegistry/registries/IntakeTest";
    const registry = (keptList: Record<string, unknown>) =>
      planWith([customer("acme", "enterprise")], keptList).then(({ plan }) =>
        plan.resources.find((r) => r.type === "azure-native:containerregistry:Registry")!,
      );
    expect((await registry({ declared: [], kept: [`acr:${id}`] })).adopted).toBe(id);
    expect((await registry({ declared: [], kept: [`acr:${id.replace("IntakeTest", "othertest")}`] })).adopted).toBeUndefined();
    expect((await registry({})).adopted).toBeUndefined();
  });

  it("an offboarded customer: kept repositories the stack holds or kept are declared (tagged orphaned, GitHub archived), none created", async () => {
    const gone = customer("acme", "enterprise", { status: "offboarded" });
    const fresh = await planWith([gone]);
    expect(owned(fresh.plan, fresh.recorded, "acme").filter((r) => ([T.repo, T.ghRepo, T.garRepo] as string[]).includes(r.type))).toEqual([]);
    const held = await planWith([gone], { declared: ["github:intake-acme", "ecr:intake/acme/app"], kept: [] });
    expect(owned(held.plan, held.recorded, "acme", T.ghRepo).map((r) => [r.inputs.archived, r.importId])).toEqual([[true, undefined]]);
    expect(owned(held.plan, held.recorded, "acme", T.repo).map((r) => (r.inputs.tags as Record<string, string>)["intake-status"])).toEqual(["orphaned"]);
    expect(owned(held.plan, held.recorded, "acme", T.garRepo)).toEqual([]);
  });

  it("kept.adopt adopts what the kept list does not hold; kept.forget creates anew", async () => {
    const over = { kept: { adopt: ["ecr:intake/acme/app"], forget: ["github:intake-acme"] } };
    const { plan, recorded } = await planWith([customer("acme", "enterprise")], { kept: ["github:intake-acme"] }, over);
    expect(owned(plan, recorded, "acme", T.repo).map((r) => r.importId)).toEqual(["intake/acme/app"]);
    expect(owned(plan, recorded, "acme", T.ghRepo).map((r) => r.importId)).toEqual([undefined]);
  });

  it("an ecr.kms change applies to new repositories only: existing ones ignore it rather than being replaced under their own name", async () => {
    const { plan, recorded } = await planWith([customer("acme", "enterprise")], {}, { ecr: { kms: true } });
    expect(owned(plan, recorded, "acme", T.repo).map((r) => r.ignoreChanges)).toEqual([["encryptionConfigurations"]]);
  });
});

describe("intake plan --kept", () => {
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };

  it("reads the stack's outputs and names what the update adopts; a file that holds no kept list is one line, exit 2", async () => {
    const dir = tempDir("kept-");
    const outputs = path.join(dir, "outputs.json");
    writeFileSync(outputs, JSON.stringify({ customers: {}, kept: { declared: [], kept: ["ecr:intake/acme/app", "github:intake-acme"] } }));
    const r = await run(["plan", "--stack", "dev", "--kept", outputs]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      /^Adopted from the cloud \(kept by an earlier update; imported, not created\): Repository intake\/acme\/app, Repository intake-acme$/m,
    );
    writeFileSync(outputs, JSON.stringify({ customers: {} }));
    const bad = await run(["plan", "--stack", "dev", "--kept", outputs]);
    expect(bad.code).toBe(2);
    expect(bad.err.split("\n")).toHaveLength(1);
    expect(bad.err).toMatch(/--kept .*outputs\.json: holds no kept list .*pulumi stack output --json/);
    writeFileSync(outputs, JSON.stringify({ kept: { declared: [], kept: ["foo:bar"] } }));
    expect((await run(["plan", "--stack", "dev", "--kept", outputs])).err).toMatch(
      /--kept .*outputs\.json: "foo:bar" is not a kept resource \(<kind>:<cloud id>, kind ecr, gar or github\)$/,
    );
    const missing = await run(["plan", "--stack", "dev", "--kept", path.join(dir, "nope.json")]);
    expect([missing.code, missing.err]).toEqual([2, expect.stringMatching(/--kept .*nope\.json: cannot read it \(ENOENT\)/)]);
  });
});

describe("the former names, still read", () => {
  const run = async (args: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };

  it("the `retained` output and --retained: read, with one warning line for the flag; both flags at once: one line, exit 2", async () => {
    const dir = tempDir("kept-former-");
    const outputs = path.join(dir, "outputs.json");
    writeFileSync(outputs, JSON.stringify({ customers: {}, retained: { declared: [], kept: ["ecr:intake/acme/app"] } }));
    const r = await run(["plan", "--stack", "dev", "--retained", outputs]);
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe("warning: --retained is now --kept (the former name is still read)");
    expect(r.out).toMatch(/^Adopted from the cloud \(kept by an earlier update; imported, not created\): Repository intake\/acme\/app$/m);
    const both = await run(["plan", "--stack", "dev", "--retained", outputs, "--kept", outputs]);
    expect([both.code, both.err]).toEqual([2, "error: --retained is the former name of --kept: give --kept alone"]);
  });

  it("the `retained` setting is read as `kept`, and the plan says to rename it; both settings: refused", () => {
    const s = testSettings({ retained: { adopt: ["ecr:intake/acme/app"], forget: [] } });
    expect(s.kept.adopt).toEqual(["ecr:intake/acme/app"]);
    expect(renamedSettingWarnings(s)).toEqual([
      "setting registry-intake:retained is now registry-intake:kept: rename it in Pulumi.test.yaml (the former name is still read)",
    ]);
    expect(renamedSettingWarnings(testSettings({ kept: { adopt: [], forget: [] } }))).toEqual([]);
    expect(() => testSettings({ retained: {}, kept: {} })).toThrow(
      /registry-intake:retained and registry-intake:kept: retained is the former name of kept; keep kept alone/,
    );
  });
});

describe("the kept list's edges", () => {
  it("a stack updated before the kept list existed keeps declaring an offboarded customer's repositories (nothing dropped from state)", async () => {
    const gone = customer("acme", "enterprise", { status: "offboarded" });
    const fresh = await planWith([gone]);
    expect(owned(fresh.plan, fresh.recorded, "acme", T.repo)).toEqual([]);
    const legacy = await planWith([gone], { legacy: true }, { enabledKinds: ["ecr"] });
    expect(owned(legacy.plan, legacy.recorded, "acme", T.repo).map((r) => [r.inputs.name, r.importId])).toEqual([["intake/acme/app", undefined]]);
  });

  it("adopt of a repository already in state imports nothing; forget creates anew and tracks it again", async () => {
    const over = { kept: { adopt: ["ecr:intake/acme/app"], forget: ["ecr:intake/acme/worker"] } };
    const keptList = { declared: ["ecr:intake/acme/app"], kept: ["ecr:intake/acme/worker"] };
    const { plan, recorded } = await planWith([customer("acme", "enterprise", { ecr: { repositories: ["app", "worker"] } })], keptList, over);
    expect(owned(plan, recorded, "acme", T.repo).map((r) => [r.inputs.name, r.importId])).toEqual([
      ["intake/acme/app", undefined],
      ["intake/acme/worker", undefined],
    ]);
    const out = (await exported([customer("acme", "enterprise", { ecr: { repositories: ["app", "worker"] } })], keptList, over)) as { declared: string[] };
    expect(out.declared).toEqual(expect.arrayContaining(["ecr:intake/acme/app", "ecr:intake/acme/worker"]));
  });
});
