import { LocalWorkspace, PulumiCommand, type InlineProgramArgs, type LocalWorkspaceOptions, type OutputMap, type PreviewOptions, type PreviewResult, type UpOptions, type UpResult } from "@pulumi/pulumi/automation";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pLimit from "p-limit";

type LimitFunction = ReturnType<typeof pLimit>;
import { parseDocument, isMap, isSeq, type YAMLMap } from "yaml";
import { customerNamespace } from "../components/endpoints";
import { type Settings } from "../components/settings";
import { settingsFromConfig } from "../components/stack-settings";
import { issueMessage } from "../customers/messages";
import { parseRoster, RosterError, type Roster } from "../customers/roster";
import { customerSchema } from "../customers/schema";
import { shardOf, shardStackName } from "../customers/shards";
import { PROJECT } from "../cli/plan/plan";
import { loadStack } from "../cli/plan/stack";
import { stackRole } from "../program";
import { stackProgram } from "../stack-program";
import { OnboardError, PulumiCliMissing } from "./errors";

export { OnboardError, PulumiCliMissing } from "./errors";

/** The part of an Automation API stack onboarding uses. */
export interface EngineStack {
  readonly name: string;
  preview(opts?: PreviewOptions): Promise<PreviewResult>;
  up(opts?: UpOptions): Promise<UpResult>;
}

/** How stacks are reached: the Automation API's LocalWorkspace, or a test's stand-in. */
export interface Engine {
  /** Throws PulumiCliMissing when there is no CLI to run. */
  check(): Promise<void>;
  stack(args: InlineProgramArgs, opts: LocalWorkspaceOptions): Promise<EngineStack>;
}

/** The real engine: LocalWorkspace with an inline program, in the project folder (its stack files). */
export const automationEngine: Engine = {
  async check() {
    await pulumiCommand();
  },
  async stack(args, opts) {
    return LocalWorkspace.createOrSelectStack(args, { ...opts, pulumiCommand: await pulumiCommand() });
  },
};

async function pulumiCommand(): Promise<PulumiCommand> {
  try {
    return await PulumiCommand.get({ skipVersionCheck: true });
  } catch {
    throw new PulumiCliMissing("the pulumi CLI is not on PATH: nothing was changed (install it from https://www.pulumi.com/docs/install/ to onboard with the Automation API)");
  }
}

export interface OnboardOptions {
  projectDir: string;
  /** The base stack (`prod`); with sharding, the customer's shard stack is chosen from it. */
  stack: string;
  rosterPath?: string;
  engine?: Engine;
  /** The policy pack run with preview and up (default: the project's policy/). */
  policyPack?: string;
  /** Progress lines (engine output included). */
  onOutput?: (line: string) => void;
}

export interface OnboardResult {
  customer: string;
  action: "onboarded" | "offboarded";
  /** The stack that was updated, and the shard when sharded. */
  stack: string;
  shard?: number;
  /** Where the customer's images go, per kind (from the stack's outputs). */
  namespaces: Record<string, string>;
  /** How to mint its credentials. */
  credentials: string[];
  /** The engine's summary of the update: resources created, updated, deleted, same. */
  changes: Record<string, number>;
}

// One update at a time per stack; the roster file is written by one at a time.
const stackLocks = new Map<string, LimitFunction>();
const rosterLock = pLimit(1);
const lockFor = (stack: string) => stackLocks.get(stack) ?? stackLocks.set(stack, pLimit(1)).get(stack)!;

type RosterEdit = (doc: ReturnType<typeof parseDocument>) => void;
/**
 * Roster edits of the onboardings and offboardings under way in this process (validated, not yet
 * written), by customer id. A new one is validated together with them, so two onboardings into
 * different shards cannot each pass alone and then collide (one GitHub login in two customers)
 * after both stacks are updated.
 */
const inFlight = new Map<string, RosterEdit>();

/** How long to wait for another process's roster lock, and when a lock counts as left behind. */
const FILE_LOCK_WAIT_MS = 30_000;
const FILE_LOCK_STALE_MS = 60_000;

/** Read a customer file (YAML: one entry, or `customers:` with one entry) and validate it alone. */
export function readCustomerFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new OnboardError(`${file}: no such file`);
  const doc = parseDocument(readFileSync(file, "utf8"), { uniqueKeys: true });
  if (doc.errors.length) throw new OnboardError(`${file}: ${doc.errors[0].message.split("\n")[0]}`);
  let value = doc.toJS() as unknown;
  if (value && typeof value === "object" && "customers" in value) {
    const list = (value as { customers: unknown }).customers;
    if (!Array.isArray(list) || list.length !== 1) throw new OnboardError(`${file}: customers: must hold exactly one entry to onboard`);
    value = list[0];
  }
  const r = customerSchema.safeParse(value, { reportInput: true });
  if (!r.success) throw new OnboardError(`${file}: not a valid customer entry:\n${r.error.issues.map((i) => `  ${i.path.join(".") || "(entry)"}: ${issueMessage(i)}`).join("\n")}`);
  return value as Record<string, unknown>;
}

interface Target {
  settings: Settings;
  rosterFile: string;
  stack: string;
  shard?: number;
}

/**
 * Onboard one customer: validate the entry against the roster, choose its stack (its shard's,
 * pinned in the entry), preview with the policy pack, `up`, and only then add it to the roster
 * file. Onboardings into one stack run one at a time; into different shards, in parallel.
 */
export async function onboard(entry: Record<string, unknown>, o: OnboardOptions): Promise<OnboardResult> {
  const engine = o.engine ?? automationEngine;
  const id = String(entry.id);
  const base = loadStack({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath });
  const t = target(base, o, { id, shard: entry.shard as number | undefined });
  const pinned = t.shard === undefined ? entry : { ...entry, shard: t.shard };
  return lockFor(t.stack)(async () => {
    // Adds the entry unless it is there (the commit re-applies it to the roster as written by then).
    const edit: RosterEdit = (doc) => {
      const customers = doc.get("customers");
      if (isSeq(customers) && !customers.items.some((c) => isMap(c) && c.get("id") === id)) customers.add(doc.createNode(pinned));
    };
    const { roster, text } = withRosterEdit(
      t.rosterFile,
      base.settings,
      (doc) => {
        const customers = doc.get("customers");
        if (!isSeq(customers)) throw new OnboardError(`${t.rosterFile}: customers: must be a list`);
        if (customers.items.some((c) => isMap(c) && c.get("id") === id)) throw new OnboardError(`${t.rosterFile}: customer ${id} is already in the roster (offboard it, or edit its entry)`);
        edit(doc);
      },
      id,
    );
    return apply(engine, t, o, id, { roster, text }, edit, "onboarded");
  });
}

/** Offboard one customer: status offboarded (credentials deleted, repositories kept and marked orphaned). */
export async function offboard(id: string, o: OnboardOptions): Promise<OnboardResult> {
  const engine = o.engine ?? automationEngine;
  const base = loadStack({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath });
  const existing = base.roster.customers.find((c) => c.id === id);
  if (!existing) throw new OnboardError(`customer ${id} is not in ${base.roster.source}`);
  if (existing.status === "offboarded") throw new OnboardError(`customer ${id} is already offboarded in ${base.roster.source}`);
  const t = target(base, o, existing);
  const setStatus: RosterEdit = (doc) => {
    const customers = doc.get("customers");
    const node = isSeq(customers) ? (customers.items.find((c) => isMap(c) && c.get("id") === id) as YAMLMap | undefined) : undefined;
    if (!node) throw new OnboardError(`customer ${id} is not in ${t.rosterFile}`);
    node.set("status", "offboarded");
  };
  return lockFor(t.stack)(async () => {
    return apply(engine, t, o, id, withRosterEdit(t.rosterFile, base.settings, setStatus, id), setStatus, "offboarded");
  });
}

/**
 * Update the stack with the edited roster, then write the roster file and, where the broker runs
 * on Kubernetes, the platform stack. The edit counts as under way (see inFlight) until done.
 */
async function apply(engine: Engine, t: Target, o: OnboardOptions, id: string, candidate: Candidate, edit: RosterEdit, action: "onboarded" | "offboarded"): Promise<OnboardResult> {
  // The input is validated by now: only then is the Pulumi CLI needed.
  await engine.check();
  const what = `${action === "onboarded" ? "onboard" : "offboard"} ${id}`;
  const roster = candidate.roster;
  inFlight.set(id, edit);
  try {
    const done = await update(engine, t, candidate, o, what);
    await commitRoster(t.rosterFile, t.settings, edit, t.stack);
    await refreshPlatform(engine, t, o, what);
    return result(t, roster, id, action, done);
  } finally {
    inFlight.delete(id);
  }
}

/**
 * With sharding and a Kubernetes-hosted broker, the platform stack carries the roster the broker
 * judges licenses by: update it too (after the shard, with the roster file as now written).
 */
async function refreshPlatform(engine: Engine, t: Target, o: OnboardOptions, what: string): Promise<void> {
  if (t.shard === undefined || !t.settings.distribution?.kubernetes) return;
  await lockFor(o.stack)(async () => {
    try {
      await update(engine, { ...t, stack: o.stack, shard: undefined }, withRosterEdit(t.rosterFile, t.settings, () => {}), o, `${what} (the broker's roster)`);
    } catch (e) {
      throw new OnboardError(`${(e as Error).message} The customer's shard stack ${t.stack} and the roster file are updated; run \`pulumi up -s ${o.stack}\` so the broker sees it.`, [t.stack]);
    }
  });
}

function target(base: { settings: Settings; roster: Roster }, o: OnboardOptions, c: { id: string; shard?: number }): Target {
  const rosterFile = o.rosterPath ?? path.resolve(o.projectDir, base.settings.roster);
  const sh = base.settings.shard;
  if (!sh) return { settings: base.settings, rosterFile, stack: o.stack };
  if (stackRole(base.settings) === "shard") throw new OnboardError(`--stack ${o.stack} is a shard stack: name the platform stack (its shard.index is unset) and the customer's shard is chosen from it`);
  if (c.shard !== undefined && c.shard >= sh.count) throw new OnboardError(`customer ${c.id}: shard: ${c.shard} is not below the stack's shard count ${sh.count}`);
  const shard = shardOf(c, sh.count);
  return { settings: base.settings, rosterFile, stack: shardStackName(o.stack, shard, sh.count), shard };
}

/**
 * The roster with one edit applied, validated whole (duplicates, GitHub logins, tiers); the file
 * is not touched. With `id`, it is also validated with the edits under way in this process.
 */
function withRosterEdit(file: string, s: Settings, edit: RosterEdit, id?: string): { roster: Roster; text: string } {
  const opts = { tierTable: s.tierTable, prefix: { repoPrefix: s.repoPrefix } };
  const current = readFileSync(file, "utf8");
  const doc = parseDocument(current);
  edit(doc);
  const text = String(doc);
  let roster: Roster;
  try {
    roster = parseRoster(text, file, opts);
  } catch (e) {
    if (e instanceof RosterError) throw new OnboardError(`the roster with this change would be invalid, so nothing was changed:\n${e.message}`);
    throw e;
  }
  const others = [...inFlight].filter(([other]) => other !== id);
  if (id !== undefined && others.length) {
    // Theirs first, so a conflict is reported on this entry.
    const all = parseDocument(current);
    for (const [, e] of others) e(all);
    edit(all);
    try {
      parseRoster(String(all), file, opts);
    } catch (e) {
      if (!(e instanceof RosterError)) throw e;
      throw new OnboardError(
        `the roster with this change and the ones under way (${others.map(([o]) => o).join(", ")}) would be invalid, so nothing was changed; ` +
          `fix the entry, or run it again once they finish:\n${e.message}`,
      );
    }
  }
  return { roster, text };
}

/**
 * Write the roster after a successful update: under a lock file (other processes) and the
 * in-process lock, re-read (another shard may have written), apply, write atomically. The stack is
 * already updated, so a failure here says so: the next `pulumi up` of the stack would undo it.
 */
async function commitRoster(file: string, s: Settings, edit: RosterEdit, stack: string): Promise<void> {
  try {
    await rosterLock(() =>
      withFileLock(`${file}.lock`, () => {
        const { text } = withRosterEdit(file, s, edit);
        const tmp = `${file}.intake-${process.pid}.tmp`;
        writeFileSync(tmp, text);
        renameSync(tmp, file);
      }),
    );
  } catch (e) {
    const why = (e as Error).message.replace(", so nothing was changed", "");
    throw new OnboardError(
      `stack ${stack} is updated, but ${file} could not be written: ${why}\n` +
        `Write the change into ${file} by hand (or fix the roster and run the same command again); until then the next \`pulumi up -s ${stack}\` undoes it.`,
      [stack],
    );
  }
}

/** Run `fn` holding `lock` (a file created exclusively); a lock older than FILE_LOCK_STALE_MS is taken over. */
async function withFileLock(lock: string, fn: () => void): Promise<void> {
  const deadline = Date.now() + FILE_LOCK_WAIT_MS;
  for (;;) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let age: number;
    try {
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released between the two calls
    }
    if (age > FILE_LOCK_STALE_MS) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`${lock} is held by another onboarding (pid ${readFileSync(lock, "utf8").trim() || "?"}); remove it if none is running`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/** The roster an onboarding is about to write: parsed for the program, as text for the policy pack. */
interface Candidate {
  roster: Roster;
  text: string;
}

/**
 * Preview with the policy pack, then up, with the candidate roster. The pack reads its roster
 * from disk (it runs in its own process); it is pointed at a private copy of the candidate
 * (INTAKE_ROSTER), so it judges the customer being onboarded, not the roster before it.
 */
async function update(engine: Engine, t: Target, candidate: Candidate, o: OnboardOptions, what: string): Promise<{ changes: Record<string, number>; outputs: OutputMap }> {
  const dir = mkdtempSync(path.join(tmpdir(), "intake-onboard-"));
  try {
    const rosterCopy = path.join(dir, "roster.yaml");
    writeFileSync(rosterCopy, candidate.text, { mode: 0o600 });
    return await updateWith(engine, t, candidate.roster, rosterCopy, o, what);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function updateWith(engine: Engine, t: Target, roster: Roster, rosterCopy: string, o: OnboardOptions, what: string): Promise<{ changes: Record<string, number>; outputs: OutputMap }> {
  const inline: InlineProgramArgs = {
    projectName: PROJECT,
    stackName: t.stack,
    // The engine hands the stack's own config to the program, as `pulumi up` would.
    program: async () => stackProgram(settingsFromConfig(`Pulumi.${t.stack}.yaml`, t.stack, new Date(), o.projectDir), roster),
  };
  const stack = await engine.stack(inline, { workDir: o.projectDir, envVars: { INTAKE_ROSTER: rosterCopy } });
  const policyPacks = [o.policyPack ?? path.join(o.projectDir, "policy")];
  const onOutput = o.onOutput ?? (() => {});
  try {
    onOutput(`${what}: preview of ${t.stack} with the policy pack`);
    await stack.preview({ policyPacks, onOutput, color: "never", message: `registry-intake: ${what}` } as PreviewOptions);
  } catch (e) {
    throw new OnboardError(`${what}: preview of stack ${t.stack} failed, nothing was changed: ${(e as Error).message.split("\n").slice(0, 6).join(" | ")}`);
  }
  try {
    onOutput(`${what}: up ${t.stack}`);
    const r = await stack.up({ policyPacks, onOutput, color: "never", message: `registry-intake: ${what}` } as UpOptions);
    return { changes: (r.summary?.resourceChanges ?? {}) as Record<string, number>, outputs: r.outputs ?? {} };
  } catch (e) {
    throw new OnboardError(`${what}: up of stack ${t.stack} failed; the roster file was not changed, run \`pulumi up -s ${t.stack}\` after fixing the cause: ${(e as Error).message.split("\n").slice(0, 6).join(" | ")}`, [t.stack]);
  }
}

function result(t: Target, roster: Roster, id: string, action: OnboardResult["action"], done: { changes: Record<string, number>; outputs: OutputMap }): OnboardResult {
  const { changes, outputs } = done;
  const c = roster.customers.find((x) => x.id === id)!;
  const kinds = action === "offboarded" ? [] : c.registries.filter((k) => t.settings.enabledKinds.includes(k));
  const fromOutputs = (outputs.customers?.value as Record<string, { namespaces?: Record<string, string> }> | undefined)?.[id]?.namespaces;
  const namespaces = fromOutputs ?? Object.fromEntries(kinds.map((k) => [k, customerNamespace(k, id, t.settings)]));
  return {
    customer: id,
    action,
    stack: t.stack,
    ...(t.shard !== undefined ? { shard: t.shard } : {}),
    namespaces,
    credentials: kinds.map((k) => `intake token --customer ${id} --kind ${k} --stack ${t.stack}${k === "distribution" ? " --key broker.key" : ""}`),
    changes,
  };
}
