import * as random from "@pulumi/random";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { rosterEntries } from "../../../testing/roster-gen";
import { runUnderMocks, typeAliasesOnly } from "../../../planning/engine";
import { planProgram } from "../../../planning/plan";
import { noticesTo, resetShortcuts, sdkVersion, shortcutsLeftOff } from "../../../planning/shortcuts";
import { customer, testRoster, testSettings, unwrap } from "../../../testing/helpers";
import { tempDir } from "../../../testing/tmp";
import { stringify } from "yaml";

const ROOT = path.resolve(__dirname, "../../..");
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
      distribution: {
        host: "registry.test.example.com",
        kubernetes: { namespace: "registry", brokerImage: "example/intake:1", signingSecretName: "broker-signing" },
      },
      deliveries: [{ source: SRC, build: "app", version: "1.4.2" }],
    });
    const entries: unknown[] = rosterEntries(12).map((e) => ({ ...e, registries: undefined }));
    entries.push(
      customer("zeta", "enterprise", { kubernetes: { namespace: "zeta-apps" }, credentials: { ecr: { generation: 2, previousUntil: "2026-11-29" } } }),
    );
    const roster = testRoster(entries, settings);
    process.env.INTAKE_PLAN_STACKS = "1";
    const plain = await planProgram(settings, roster, {}, undefined, {}, { workers: 1 });
    delete process.env.INTAKE_PLAN_STACKS;
    const lines: string[] = [];
    noticesTo((left) => lines.push(left.line));
    const short = await planProgram(settings, roster, {}, undefined, {}, { workers: 1 });
    noticesTo(undefined);
    // On the locked SDK every shortcut runs: none left off, nothing said.
    expect([...shortcutsLeftOff()]).toEqual([]);
    expect(lines).toEqual([]);
    expect(short.resources.filter((r) => r.type.startsWith("azure-native:containerregistry:")).length).toBeGreaterThan(10);
    expect(comparable(short)).toEqual(comparable(plain));
  }, 120_000);

  it("drop only the aliases a provider SDK merges in for its own type's other names", async () => {
    // The program's own type-only alias survives the provider's merges; the provider's do not.
    const seen: unknown[] = [];
    await runUnderMocks(
      () => {
        const merge = (require("@pulumi/pulumi") as typeof import("@pulumi/pulumi")).mergeOptions;
        const mine = merge({ version: "1.0.0" }, { aliases: [{ type: "registry-intake:index:Old" }] });
        seen.push(mine.aliases, merge(mine, { aliases: [{ type: "azure-native:containerregistry/v20190501preview:Token" }] }).aliases);
      },
      { project: "p", stack: "s", cloud: { accountId: "000000000000", region: "us-east-1" } },
    );
    expect(seen).toEqual([[{ type: "registry-intake:index:Old" }], [{ type: "registry-intake:index:Old" }]]);
    expect(
      typeAliasesOnly({
        aliases: [{ type: "azure-native:containerregistry/v20190501preview:Token" }, { type: "azure-native:containerregistry/v20221201:Token" }],
      }),
    ).toBe(true);
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
    // What the SDK loads at start depends on its version (Arborist until 3.26x, TypeScript's compiler in every one).
    const atStart = loadedModules(false, "async () => 0").atLoad;
    expect(atStart).toContain("typescript");
    const serialized = loadedModules(true, "async (p) => (await p.runtime.serializeFunction(() => 40 + 2)).text.includes('40 + 2')");
    expect(serialized).toEqual({ atLoad: [], afterUse: ["typescript"], result: true });
    const codePaths = loadedModules(true, "async (p) => (await p.runtime.computeCodePaths()).size > 0");
    expect(codePaths).toEqual({ atLoad: [], afterUse: atStart.filter((m) => m === "arborist"), result: true });
    // The stand-in lists, spreads and describes the module's keys as the module would.
    const listed = loadedModules(
      true,
      "async () => { const ts = require('@pulumi/pulumi/typescript-shim.js'); return [Object.keys(ts).includes('createSourceFile'), typeof { ...ts }.SyntaxKind, 'version' in ts]; }",
    );
    expect(listed).toEqual({ atLoad: [], afterUse: ["typescript"], result: [true, "object", true] });
  }, 60_000);
});

/**
 * A later @pulumi/pulumi that changed what a shortcut relies on, planted in this process: each
 * plant keeps the SDK working and moves one thing a shortcut needs. The plan must come out the same
 * as the SDK's own path gives it, with one warning line that names the SDK version and the
 * shortcut, and the shortcut left off for the rest of the process.
 */
describe("a shortcut whose SDK shape changed (planning/shortcuts.ts)", () => {
  const sdk = () => require("@pulumi/pulumi") as typeof import("@pulumi/pulumi") & Record<string, unknown>;
  const rpc = () => require("@pulumi/pulumi/runtime/rpc") as Record<string, (...a: unknown[]) => unknown>;
  const debuggable = () => require("@pulumi/pulumi/runtime/debuggable") as Record<string, (...a: unknown[]) => unknown>;
  const protos = () => require("@pulumi/pulumi/proto/resource_pb") as Record<string, { prototype: Record<string, (...a: unknown[]) => unknown> }>;
  /** Replace obj[key] (a function) by what `wrap` makes of it; returns the undo. */
  function plant(
    obj: Record<string, unknown>,
    key: string,
    wrap: (orig: (...a: unknown[]) => unknown) => unknown,
    descriptor: PropertyDescriptor = {},
  ): () => void {
    const before = Object.getOwnPropertyDescriptor(obj, key)!;
    Object.defineProperty(obj, key, { ...before, value: wrap(before.value as (...a: unknown[]) => unknown), ...descriptor });
    return () => Object.defineProperty(obj, key, before);
  }
  const plants: { shortcut: string; why: RegExp; plant: () => () => void }[] = [
    {
      shortcut: "lazy-properties",
      why: /transferProperties\(onto, label, props\) takes 4 arguments, not 3/,
      plant: () => plant(rpc(), "transferProperties", (orig) => (onto: unknown, label: unknown, props: unknown, _options: unknown) => orig(onto, label, props)),
    },
    {
      // Same arity, another contract: the resolvers the SDK hands back take one more argument.
      shortcut: "lazy-properties",
      why: /transferProperties' resolvers take 6 arguments, not 3/,
      plant: () =>
        plant(rpc(), "transferProperties", (orig) => (onto: unknown, label: unknown, props: unknown) => {
          const resolvers = orig(onto, label, props) as Record<string, (...a: unknown[]) => void>;
          return Object.fromEntries(
            Object.entries(resolvers).map(([k, f]) => [
              k,
              (v: unknown, isKnown: unknown, isSecret: unknown, deps: unknown, err: unknown, _extra: unknown) => f(v, isKnown, isSecret, deps, err),
            ]),
          );
        }),
    },
    {
      shortcut: "fast-monitor",
      why: /registerResource\(req, callback\) takes 3 arguments, not 2/,
      plant: () =>
        plant(
          (require("@pulumi/pulumi/runtime/mocks") as { MockMonitor: { prototype: Record<string, unknown> } }).MockMonitor.prototype,
          "registerResource",
          (orig) =>
            function (this: unknown, req: unknown, callback: unknown, _options: unknown) {
              return orig.call(this, req, callback);
            },
        ),
    },
    {
      // An exception inside the shortcut: the first registration's request cannot be read its way.
      shortcut: "fast-monitor",
      why: /reading a registration threw planted: getObject moved/,
      plant: () => {
        let first = true;
        return plant(
          protos().RegisterResourceRequest.prototype,
          "getObject",
          (orig) =>
            function (this: unknown) {
              if (first) {
                first = false;
                throw new Error("planted: getObject moved");
              }
              return orig.call(this);
            },
        );
      },
    },
    {
      shortcut: "no-provider-aliases",
      why: /the export mergeOptions cannot be replaced/,
      plant: () => plant(sdk(), "mergeOptions", (orig) => orig, { writable: false }),
    },
    {
      shortcut: "no-stack-traces",
      why: /Resource.stackTrace\(skip\) takes 2 arguments, not 1/,
      plant: () => plant(sdk().Resource as unknown as Record<string, unknown>, "stackTrace", (orig) => (skip: number, _limit: number) => orig(skip)),
    },
    {
      shortcut: "no-promise-tracking",
      why: /debuggablePromise\(p, ctx\) takes 3 arguments, not 2/,
      plant: () => plant(debuggable(), "debuggablePromise", (orig) => (p: unknown, ctx: unknown, _extra: unknown) => orig(p, ctx)),
    },
  ];

  async function planOnce() {
    const settings = testSettings({ deliveries: [{ source: SRC, build: "app", version: "1.4.2" }] });
    const entries: unknown[] = rosterEntries(6).map((e) => ({ ...e, registries: undefined }));
    entries.push(customer("zeta", "enterprise", { kubernetes: { namespace: "zeta-apps" } }));
    return planProgram(settings, testRoster(entries, settings), {}, undefined, {}, { workers: 1 });
  }

  it.each(plants.map((p, i) => [p.shortcut, i] as const))(
    "%s: one warning line, the shortcut left off, the same plan (plant %i)",
    async (shortcut, i) => {
      process.env.INTAKE_PLAN_STACKS = "1";
      const plain = await planOnce();
      delete process.env.INTAKE_PLAN_STACKS;
      resetShortcuts();
      const lines: string[] = [];
      noticesTo((left) => lines.push(left.line));
      const undo = plants[i].plant();
      try {
        const planted = await planOnce();
        // Once per process: a second plan says nothing more.
        const again = await planOnce();
        expect([...shortcutsLeftOff().keys()]).toEqual([shortcut]);
        expect(comparable(planted)).toEqual(comparable(plain));
        expect(comparable(again)).toEqual(comparable(plain));
      } finally {
        undo();
        resetShortcuts();
        noticesTo(undefined);
      }
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`@pulumi/pulumi ${sdkVersion()}: the plan's shortcut ${shortcut} is left off (`);
      expect(lines[0]).toMatch(plants[i].why);
    },
    120_000,
  );
});

describe("intake plan on an SDK whose shape changed", () => {
  it("exits 0 with the same plan and one warning line, from the planning process and its workers alike", () => {
    const dir = tempDir("plant-");
    const roster = path.join(dir, "roster.yaml");
    writeFileSync(roster, stringify({ customers: rosterEntries(230) }));
    // Loaded first in every process (NODE_OPTIONS reaches the plan workers), planted only in the
    // two workers (the processes with an IPC channel): their warning reaches the user through the
    // process that plans, once.
    const plant = path.join(dir, "plant.cjs");
    writeFileSync(
      plant,
      `if (process.send) {
         const rpc = require(${JSON.stringify(require.resolve("@pulumi/pulumi/runtime/rpc", { paths: [ROOT] }))});
         const orig = rpc.transferProperties;
         rpc.transferProperties = (onto, label, props, _options) => orig(onto, label, props);
       }`,
    );
    const run = (planted: boolean, json: string) =>
      spawnSync(process.execPath, [path.join(ROOT, "cli/bin/intake.js"), "plan", "--stack", "prod", "--roster", roster, "--workers", "2", "--json", json], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 120_000,
        env: { ...process.env, NODE_OPTIONS: planted ? `--require ${plant}` : "", INTAKE_PLAN_STACKS: "", INTAKE_PLAN_SHORTCUTS_OFF: "" },
      });
    const plain = run(false, path.join(dir, "plain.json"));
    const planted = run(true, path.join(dir, "planted.json"));
    expect(plain.status, plain.stderr).toBe(0);
    expect(planted.status, planted.stderr).toBe(0);
    expect(plain.stderr).not.toContain("left off");
    const warnings = planted.stderr.split("\n").filter((l) => l.includes("left off"));
    expect(warnings).toEqual([
      expect.stringMatching(
        /^intake: warning: @pulumi\/pulumi \d+\.\d+\.\d+: the plan's shortcut lazy-properties is left off \(runtime\/rpc transferProperties\(onto, label, props\) takes 4 arguments, not 3\)/,
      ),
    ]);
    expect(planted.stdout).toBe(plain.stdout);
    expect(readFileSync(path.join(dir, "planted.json"), "utf8")).toBe(readFileSync(path.join(dir, "plain.json"), "utf8"));
  }, 240_000);
});
