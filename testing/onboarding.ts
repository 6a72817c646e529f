// The onboarding tests' project folders and the engine's stand-in (test/unit/automation/onboard.test.ts, test/unit/service/service.test.ts).
import * as pulumi from "@pulumi/pulumi";
import type { InlineProgramArgs, LocalWorkspaceOptions, PreviewOptions, PreviewResult, UpOptions, UpResult } from "@pulumi/pulumi/automation";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import pLimit from "p-limit";
import { stringify } from "yaml";
import type { Engine, EngineStack } from "../automation/onboard";
import { runUnderMocks } from "../planning/engine";
import { readStackConfig } from "../core/stack";
import { shardOf } from "../customers/shards";
import { ACCOUNT, customer, REGION } from "./helpers";
import { git, withBareRemote } from "./git";
import { tempDir } from "./tmp";

const ROOT = path.resolve(__dirname, "..");
export const COUNT = 3;

/** A project folder: base stack `test` (platform, 3 shards), its shard stacks, and a roster with a comment. */
export function project(extra: Record<string, unknown> = {}): { dir: string; roster: string } {
  const dir = tempDir("onboard-");
  copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  const common = {
    "registry-intake:environment": "dev",
    "registry-intake:aws": { accountId: ACCOUNT, region: REGION },
    "registry-intake:ghcr": { owner: "example-org" },
    "registry-intake:enabledKinds": ["ghcr", "ecr"],
    ...extra,
  };
  writeFileSync(path.join(dir, "Pulumi.test.yaml"), stringify({ config: { ...common, "registry-intake:shard": { count: COUNT } } }));
  for (let i = 0; i < COUNT; i++) {
    // A shard stack holds only its shard: every setting is read from Pulumi.test.yaml.
    writeFileSync(
      path.join(dir, `Pulumi.test-shard-0${i}.yaml`),
      stringify({ config: { "registry-intake:shard": { count: COUNT, index: i, platformStack: "test" } } }),
    );
  }
  const roster = path.join(dir, "customers", "roster.yaml");
  mkdirSync(path.dirname(roster));
  writeFileSync(
    roster,
    `# The customer roster: reviewed in pull requests.\ncustomers:\n  - id: acme\n    name: Acme\n    tier: enterprise\n    license: { expires: "2099-12-31" }\n`,
  );
  return { dir, roster };
}

/** Ids that land in the shard wanted. */
export function idsInShard(shard: number, n: number, prefix = "cust"): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) if (shardOf({ id: `${prefix}-${i}` }, COUNT) === shard) out.push(`${prefix}-${i}`);
  return out;
}

export interface Call {
  stack: string;
  op: "preview" | "up";
  start: number;
  end: number;
  opts: PreviewOptions | UpOptions;
}

/**
 * The engine's stand-in: what onboarding hands the Automation API (inline program, stack, work
 * folder, options) is recorded, and preview/up run the inline program under the SDK's mock engine
 * with the stack file's config, as the real engine would hand it over.
 */
export class FakeEngine implements Engine {
  calls: Call[] = [];
  stacks: { args: InlineProgramArgs; opts: LocalWorkspaceOptions }[] = [];
  declared: Record<string, string[]> = {};
  failUp?: string;
  /** A preview of any stack fails with this engine output (a policy violation). */
  failPreview?: string;
  /** A preview fails with the output this gives for the candidate roster it judges (the policy pack reads INTAKE_ROSTER). */
  failPreviewOf?: (roster: string) => string | undefined;
  /** Hold every `up` until this resolves (to see which run at the same time). */
  gate: Promise<void> = Promise.resolve();
  /** How many more previews or ups meet another update's lock (the CLI's own stderr, classified by the Automation API). */
  locked = 0;
  /** Called as each preview or up starts (a test pushes another writer's commit there). */
  onCall?: (op: "preview" | "up", stack: string) => void | Promise<void>;
  private readonly mocks = pLimit(1);
  async check() {}
  async stack(args: InlineProgramArgs, opts: LocalWorkspaceOptions): Promise<EngineStack> {
    this.stacks.push({ args, opts });
    const run =
      (op: "preview" | "up") =>
      async (o: PreviewOptions | UpOptions = {}) => {
        const call: Call = { stack: args.stackName, op, start: performance.now(), end: 0, opts: o };
        this.calls.push(call);
        await this.onCall?.(op, args.stackName);
        if (this.locked > 0) {
          this.locked--;
          const { createCommandError } = require("@pulumi/pulumi/automation/errors") as { createCommandError(r: unknown): Error };
          const stderr = `error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) to end or delete the lock file with \`pulumi cancel\`.`;
          throw createCommandError({ stdout: "", stderr, code: 255, toString: () => `code: 255\nstderr: ${stderr}` });
        }
        if (op === "preview" && this.failPreview) throw new Error(`code: 255\n${this.failPreview}`);
        const refusal = op === "preview" && this.failPreviewOf?.(readFileSync(String(opts.envVars?.INTAKE_ROSTER), "utf8"));
        if (refusal) throw new Error(`code: 255\n${refusal}`);
        if (op === "up") {
          // An abort (the service stopping) ends a held up as the engine's cancel would.
          const signal = (o as { signal?: AbortSignal }).signal;
          await Promise.race([
            this.gate,
            new Promise((_, reject) => signal?.addEventListener("abort", () => reject(new Error("code: 255\nerror: update canceled")), { once: true })),
          ]);
        }
        if (op === "up" && this.failUp === args.stackName) throw new Error("code: 255\nerror: update failed");
        const outputs = await this.mocks(async () => {
          const cfg = readStackConfig(opts.workDir!, args.stackName);
          pulumi.runtime.setAllConfig(cfg.config, cfg.secretKeys);
          const { result, resources } = await runUnderMocks(() => args.program(), {
            project: args.projectName,
            stack: args.stackName,
            cloud: { accountId: ACCOUNT, region: REGION },
          });
          this.declared[args.stackName] = resources.filter((r) => r.type === "registry-intake:index:CustomerRegistries").map((r) => r.name);
          const out = (await result) as Record<string, pulumi.Output<unknown>>;
          const customers = await new Promise((resolve) => (pulumi.output(out.customers as unknown) as pulumi.Output<unknown>).apply(resolve));
          return { customers: { value: customers, secret: false } };
        });
        call.end = performance.now();
        return outputs;
      };
    return {
      name: args.stackName,
      preview: async (o?: PreviewOptions) => (await run("preview")(o), { stdout: "", stderr: "", changeSummary: { create: 5 } } as unknown as PreviewResult),
      up: async (o?: UpOptions) =>
        ({ stdout: "", stderr: "", outputs: await run("up")(o), summary: { resourceChanges: { create: 5 } } }) as unknown as UpResult,
    };
  }
}

export const entry = (id: string, extra: Record<string, unknown> = {}) => customer(id, "professional", { license: { expires: "2099-12-31" }, ...extra });

export function gitProject(apply: "self" | "ci" = "self"): { dir: string; roster: string; remote: string } {
  const { dir, roster } = project({ "registry-intake:onboarding": { git: { remote: "origin", branch: "main" }, apply } });
  return { dir, roster, remote: withBareRemote(dir) };
}

/** Another writer (CI, a pull request, another replica): a clone that commits `change` to the roster and pushes. */
export function pushFromElsewhere(remote: string, change: (text: string) => string): string {
  const other = tempDir("roster-other-");
  git(other, "clone", "--quiet", `file://${remote}`, ".");
  const file = path.join(other, "customers", "roster.yaml");
  writeFileSync(file, change(readFileSync(file, "utf8")));
  git(other, "commit", "--quiet", "-am", "another writer");
  git(other, "push", "--quiet", "origin", "main");
  return git(other, "rev-parse", "HEAD").trim();
}

export const appended = (id: string) => (text: string) =>
  `${text}  - id: ${id}\n    name: ${id}\n    tier: standard\n    license: { expires: "2099-12-31" }\n    github: { members: [${id}-dev] }\n`;
