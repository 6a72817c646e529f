import * as random from "@pulumi/random";
import { spawnSync } from "node:child_process";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { rosterEntries } from "../bench/roster-gen";
import { runUnderMocks, typeAliasesOnly } from "../planning/engine";
import { planProgram } from "../planning/plan";
import { customer, testRoster, testSettings, unwrap } from "./helpers";

const ROOT = path.resolve(__dirname, "..");
const SRC = `build.example.com/app@sha256:${"a".repeat(64)}`;

/** The plan and every registration, dependencies included, in one comparable form. */
function comparable(plan: Awaited<ReturnType<typeof planProgram>>) {
  const { recorded, ...result } = plan;
  return { result, recorded: [...recorded].sort((a, b) => (a.urn < b.urn ? -1 : 1)) };
}

const debugging = process.env.INTAKE_PLAN_STACKS;
afterEach(() => {
  if (debugging === undefined) delete process.env.INTAKE_PLAN_STACKS;
  else process.env.INTAKE_PLAN_STACKS = debugging;
});

describe("the plan's shortcuts through the SDK (planning/engine.ts planShortcuts)", () => {
  it("leave the plan as it is without them, registration for registration, on a roster with every kind, ACR's aliased types among them", async () => {
    const settings = testSettings({
      distribution: { host: "registry.test.example.com", kubernetes: { namespace: "registry", brokerImage: "example/intake:1", signingSecretName: "broker-signing" } },
      deliveries: [{ source: SRC, build: "app", version: "1.4.2" }],
    });
    const entries: unknown[] = rosterEntries(12).map((e) => ({ ...e, registries: undefined }));
    entries.push(customer("zeta", "enterprise", { kubernetes: { namespace: "zeta-apps" }, credentials: { ecr: { generation: 2, previousUntil: "2026-11-29" } } }));
    const roster = testRoster(entries, settings);
    process.env.INTAKE_PLAN_STACKS = "1";
    const plain = await planProgram(settings, roster, {}, undefined, {}, { workers: 1 });
    delete process.env.INTAKE_PLAN_STACKS;
    const short = await planProgram(settings, roster, {}, undefined, {}, { workers: 1 });
    expect(short.resources.filter((r) => r.type.startsWith("azure-native:containerregistry:")).length).toBeGreaterThan(10);
    expect(comparable(short)).toEqual(comparable(plain));
  }, 120_000);

  it("drop only the aliases a provider SDK merges in for its own type's other names", async () => {
    // The program's own type-only alias survives the provider's merges; the provider's do not.
    const pulumi = await import("@pulumi/pulumi");
    const seen: unknown[] = [];
    await runUnderMocks(
      () => {
        const merge = (require("@pulumi/pulumi") as typeof pulumi).mergeOptions;
        const mine = merge({ version: "1.0.0" }, { aliases: [{ type: "registry-intake:index:Old" }] });
        seen.push(mine.aliases, merge(mine, { aliases: [{ type: "azure-native:containerregistry/v20190501preview:Token" }] }).aliases);
      },
      { project: "p", stack: "s", cloud: { accountId: "000000000000", region: "us-east-1" } },
    );
    expect(seen).toEqual([[{ type: "registry-intake:index:Old" }], [{ type: "registry-intake:index:Old" }]]);
    expect(typeAliasesOnly({ aliases: [{ type: "azure-native:containerregistry/v20190501preview:Token" }, { type: "azure-native:containerregistry/v20221201:Token" }] })).toBe(true);
    // The program's own aliases, and options that carry more than aliases, go through.
    expect(typeAliasesOnly({ aliases: [{ name: "old-name" }] })).toBe(false);
    expect(typeAliasesOnly({ aliases: [{ type: "registry-intake:index:Old", name: "old" }] })).toBe(false);
    expect(typeAliasesOnly({ aliases: ["urn:pulumi:dev::registry-intake::aws:ecr/repository:Repository::old"] })).toBe(false);
    expect(typeAliasesOnly({ aliases: [{ type: "t:x:Y" }], protect: true })).toBe(false);
    expect(typeAliasesOnly({ aliases: [] })).toBe(false);
    expect(typeAliasesOnly(undefined)).toBe(false);
  });

  it("give a resource's property the same Output whenever it is read, with the registration's value, before or after the answer", async () => {
    delete process.env.INTAKE_PLAN_STACKS;
    let early: unknown;
    let password!: random.RandomPassword;
    const { resources } = await runUnderMocks(
      () => {
        password = new random.RandomPassword("p", { length: 12, special: false });
        early = password.result;
      },
      { project: "p", stack: "s", cloud: { accountId: "000000000000", region: "us-east-1" } },
    );
    const state = resources.find((r) => r.name === "p")!.state;
    expect(password.result).toBe(early);
    expect(await unwrap(password.result)).toBe(state.result);
    // A property first read after the answer has the answer's value; one the cloud did not set is undefined.
    expect(await unwrap(password.length)).toBe(12);
    expect(await unwrap(password.bcryptHash)).toBe(state.bcryptHash);
    expect(await unwrap(password.keepers)).toBeUndefined();
    expect(Object.keys(password)).toEqual(expect.arrayContaining(["result", "length", "bcryptHash", "keepers"]));
    // Made on first read: an accessor, not an Output made with the resource.
    expect(typeof Object.getOwnPropertyDescriptor(password, "special")?.get).toBe("function");
  });
});

describe("the SDK's closure-serialization modules (planning/sdk-modules.ts)", () => {
  /** Node with tsx in the project folder: what is loaded after the SDK, then after `use`. */
  function loadedModules(defer: boolean, use: string): { atLoad: string[]; afterUse: string[]; result: unknown } {
    const code = `
      ${defer ? 'require("./planning/sdk-modules.ts").deferSdkClosureModules();' : ""}
      const loaded = () => Object.keys(require.cache).filter((k) => /typescript\\/lib\\/typescript\\.js$|@npmcli\\/arborist\\/lib\\/arborist\\/index\\.js$/.test(k)).map((k) => k.includes("typescript") ? "typescript" : "arborist").sort();
      const pulumi = require("@pulumi/pulumi");
      const atLoad = loaded();
      (async () => { const result = await (${use})(pulumi); console.log(JSON.stringify({ atLoad, afterUse: loaded(), result })); })();`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "-e", code], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    // (Loading Arborist and TypeScript prints Node's deprecation and WASI warnings on stderr.)
    if (r.status !== 0) throw new Error(`node exited ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stdout);
  }

  it("are not loaded with the SDK, and load on first use", () => {
    expect(loadedModules(false, "async () => 0").atLoad).toEqual(["arborist", "typescript"]);
    const serialized = loadedModules(true, "async (p) => (await p.runtime.serializeFunction(() => 40 + 2)).text.includes('40 + 2')");
    expect(serialized).toEqual({ atLoad: [], afterUse: ["typescript"], result: true });
    const codePaths = loadedModules(true, "async (p) => (await p.runtime.computeCodePaths()).size > 0");
    expect(codePaths).toEqual({ atLoad: [], afterUse: ["arborist"], result: true });
    // The stand-in lists, spreads and describes the module's keys as the module would.
    const listed = loadedModules(true, "async () => { const ts = require('@pulumi/pulumi/typescript-shim.js'); return [Object.keys(ts).includes('createSourceFile'), typeof { ...ts }.SyntaxKind, 'version' in ts]; }");
    expect(listed).toEqual({ atLoad: [], afterUse: ["typescript"], result: [true, "object", true] });
  }, 60_000);
});
