import {
  ConcurrentUpdateError,
  LocalWorkspace,
  PulumiCommand,
  type InlineProgramArgs,
  type LocalWorkspaceOptions,
  type OutputMap,
  type PreviewOptions,
  type PreviewResult,
  type UpOptions,
  type UpResult,
} from "@pulumi/pulumi/automation";
import { randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import * as path from "node:path";
import pLimit from "p-limit";
import { customerNamespace } from "../kinds";
import { type Settings } from "../core/settings";
import { engineConfig } from "../components/stack-settings";
import type { Customer, Roster } from "../customers/roster";
import {
  addCustomer,
  addNewCustomer,
  DuplicateCustomer,
  readCustomerFile as readEntry,
  rosterStore,
  RosterEditError,
  setCustomerField,
  type RosterEdit,
  type RosterStore,
} from "../customers/store";
import { commitRosterChange, fastForwardWorkTree, jobOnBranch, latestRoster, rosterGit, RosterGitError, type RosterCommit } from "../customers/git-roster";
import { shardOf, shardStackName } from "../customers/shards";
import { customerState } from "../customers/status";
import { PROJECT } from "../planning/plan";
import { loadStackContext, rosterOptionsFor, stackSettings } from "../core/stack";
import { stackRole } from "../program";
import { stackProgram } from "../stack-program";
import { CustomerExists, OnboardError, PulumiCliMissing, UnknownCustomer } from "./errors";
import { rotation, RotationRefused, type RotationRequest } from "./rotate";

export { OnboardError, PulumiCliMissing } from "./errors";

/** What a roster change did to the customer. */
type Action = "onboarded" | "offboarded" | "changed" | "rotated";
const VERB: Record<Action, string> = { onboarded: "onboard", offboarded: "offboard", changed: "change", rotated: "rotate" };

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
    throw new PulumiCliMissing(
      'the pulumi CLI is not on PATH: nothing was changed (install it from https://www.pulumi.com/docs/install/ to onboard with the Automation API; offline, `export PATH="$(npm run --silent engine | tail -n 1):$PATH"` puts the engine this project builds there)',
    );
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
  /** The job's id, the trailer `Intake-Job` of its roster commit when git holds the roster (default: a new one). */
  job?: string;
  /**
   * Another update holding the stack's lock (CI's up.yml, another onboarding): how often to try
   * again and the first wait, doubled each time up to a minute (default 10 tries from 2 s).
   */
  lockWait?: { tries: number; firstMs: number };
  /** Aborts a preview or up under way (the engine cancels it) and any wait for a lock. */
  signal?: AbortSignal;
}

export interface OnboardResult {
  customer: string;
  action: Action;
  /** The stack that was updated, and the shard when sharded. */
  stack: string;
  shard?: number;
  /** Where the customer's images go, per kind (from the stack's outputs). */
  namespaces: Record<string, string>;
  /** How to mint its credentials. */
  credentials: string[];
  /** The engine's summary of the update: resources created, updated, deleted, same (empty when CI applies it). */
  changes: Record<string, number>;
  /** When git holds the roster: the commit on the roster branch that holds the change. */
  commit?: string;
  /** Who applies the change: this command (`self`), or CI's next `pulumi up` (`ci`: nothing was updated here). */
  applied: "self" | "ci";
}

// One update at a time per stack; the roster file is written by one at a time.
const stackLocks = new Map<string, ReturnType<typeof pLimit>>();
const lockFor = (stack: string) => stackLocks.get(stack) ?? stackLocks.set(stack, pLimit(1)).get(stack)!;

/** A refused roster change is a refused onboarding: nothing was changed. */
function refused<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof DuplicateCustomer) throw new CustomerExists(e.message);
    if (e instanceof RosterEditError) throw new OnboardError(e.message);
    throw e;
  }
}

/** Read a customer file (YAML: one entry, or `customers:` with one entry) and validate it alone. */
export function readCustomerFile(file: string): Record<string, unknown> {
  return refused(() => readEntry(file));
}

interface Target {
  settings: Settings;
  rosterFile: string;
  store: RosterStore;
  stack: string;
  shard?: number;
}

/**
 * Onboard one customer: validate the entry against the roster, choose its stack (its shard's,
 * pinned in the entry), preview with the policy pack, `up`, and only then add it to the roster
 * file. Onboardings into one stack run one at a time; into different shards, in parallel.
 */
export async function onboard(entry: Record<string, unknown>, o: OnboardOptions): Promise<OnboardResult> {
  return (await onboardOr(entry, o, false)) as OnboardResult;
}

/** onboard()'s checks alone, against the roster as it is now (the branch's tip when git holds it): nothing is changed. */
export async function checkOnboard(entry: Record<string, unknown>, o: OnboardOptions): Promise<{ stack: string }> {
  return (await onboardOr(entry, o, true)) as { stack: string };
}

async function onboardOr(entry: Record<string, unknown>, o: OnboardOptions, checkOnly: boolean): Promise<OnboardResult | { stack: string }> {
  const engine = o.engine ?? automationEngine;
  const id = String(entry.id);
  const base = loadStackContext({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath });
  const t = target(base, o, { id, shard: entry.shard as number | undefined });
  const pinned = t.shard === undefined ? entry : { ...entry, shard: t.shard };
  if (checkOnly) {
    const now = await currentRoster(base, o);
    refused(() => t.store.previewOf(now.text, addNewCustomer(t.rosterFile, pinned), id));
    return { stack: t.stack };
  }
  return lockFor(t.stack)(async () => {
    // Where git holds the roster, the change is made and checked from the branch's tip, not the work tree.
    if (t.settings.onboarding?.git) return apply(engine, t, o, id, undefined, addNewCustomer(t.rosterFile, pinned), "onboarded");
    const candidate = refused(() => t.store.preview(addNewCustomer(t.rosterFile, pinned), id));
    return apply(engine, t, o, id, candidate, addCustomer(pinned), "onboarded");
  });
}

/** Offboard one customer: status offboarded (credentials deleted, repositories kept and marked orphaned). */
export async function offboard(id: string, o: OnboardOptions): Promise<OnboardResult> {
  return <Promise<OnboardResult>>changeWith(id, o, "offboarded", offboardEdit(id));
}

/** The fields of an entry a change may set (the roster's own schema checks them in the whole roster). */
export interface CustomerChange {
  tier?: string;
  registries?: string[];
  license?: { expires: string };
  /** Suspend or reinstate; offboarding is offboard(). */
  status?: "active" | "suspended";
}

/** Change one customer's tier, registries, license expiry or status, through its stack as onboard() does. */
async function changeCustomer(id: string, change: CustomerChange, o: OnboardOptions): Promise<OnboardResult> {
  return <Promise<OnboardResult>>changeWith(id, o, "changed", changeEdit(id, change));
}

/** Rotate one customer's long-lived credentials (automation/rotate.ts) and, with `apply: self`, create the new generation. */
async function rotateCustomer(id: string, req: RotationRequest, o: OnboardOptions): Promise<OnboardResult> {
  return <Promise<OnboardResult>>changeWith(id, o, "rotated", rotateEdit(req));
}

/** The checks of offboard(), changeCustomer() or rotateCustomer() alone, against the roster as it is now: nothing is changed. */
export async function checkChange(
  id: string,
  change: { offboard: true } | { change: CustomerChange } | { rotate: RotationRequest },
  o: OnboardOptions,
): Promise<{ stack: string }> {
  if ("offboard" in change) return (await changeWith(id, o, "offboarded", offboardEdit(id), true)) as { stack: string };
  if ("change" in change) return (await changeWith(id, o, "changed", changeEdit(id, change.change), true)) as { stack: string };
  return (await changeWith(id, o, "rotated", rotateEdit(change.rotate), true)) as { stack: string };
}

type EditOf = (c: Customer, file: string, settings: Settings) => RosterEdit;

const offboardEdit =
  (id: string): EditOf =>
  (c, file) => {
    if (c.status === "offboarded") throw new OnboardError(`customer ${id} is already offboarded in ${file}`, [], "conflict");
    return setCustomerField(file, id, "status", "offboarded");
  };

const changeEdit =
  (id: string, change: CustomerChange): EditOf =>
  (c, file) => {
    if (c.status === "offboarded")
      throw new OnboardError(`customer ${id} is offboarded in ${file}: onboard it again under a new id, or edit its entry by hand`, [], "conflict");
    const edits: RosterEdit[] = [];
    if (change.tier !== undefined) edits.push(setCustomerField(file, id, "tier", change.tier));
    if (change.registries !== undefined) edits.push(setCustomerField(file, id, "registries", change.registries));
    if (change.license?.expires !== undefined) edits.push(setCustomerField(file, id, ["license", "expires"], change.license.expires));
    if (change.status !== undefined) edits.push(setCustomerField(file, id, "status", change.status));
    if (!edits.length) throw new OnboardError(`customer ${id}: the change names no field (tier, registries, license.expires, status)`);
    return (doc) => edits.forEach((e) => e(doc));
  };

const rotateEdit =
  (req: RotationRequest): EditOf =>
  (c, file, settings) => {
    try {
      return rotation(settings, c, file, req).edit;
    } catch (e) {
      if (e instanceof RotationRefused) throw new OnboardError(e.message, [], e.why === "overlap" ? "conflict" : "input");
      throw e;
    }
  };

/**
 * A change of an existing customer: judged against the roster as it is now (the roster branch's
 * when git holds the roster: the work tree may lag), made through the customer's stack.
 */
async function changeWith(id: string, o: OnboardOptions, action: Action, editOf: EditOf, checkOnly = false): Promise<OnboardResult | { stack: string }> {
  const engine = o.engine ?? automationEngine;
  const base = loadStackContext({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath });
  const now = await currentRoster(base, o);
  const existing = now.roster.customers.find((c) => c.id === id);
  if (!existing) throw new UnknownCustomer(`customer ${id} is not in ${now.roster.source}`);
  const t = target(base, o, existing);
  let edit: RosterEdit;
  try {
    edit = refused(() => editOf(existing, t.rosterFile, t.settings));
    if (checkOnly) refused(() => t.store.previewOf(now.text, edit, id));
  } catch (e) {
    // A job run again after a crash: its change is on the branch already (found by its trailer),
    // so the edit no longer applies (already offboarded, already rotated); commitRosterChange finds
    // the commit and the update converges.
    const git = t.settings.onboarding?.git;
    if (checkOnly || !git || !o.job || !(e instanceof OnboardError) || !(await jobOnBranch(rosterGit(git, t.rosterFile), o.job))) throw e;
    edit = () => {};
  }
  if (checkOnly) return { stack: t.stack };
  return lockFor(t.stack)(async () => {
    if (t.settings.onboarding?.git) return apply(engine, t, o, id, undefined, edit, action);
    return apply(
      engine,
      t,
      o,
      id,
      refused(() => t.store.preview(edit, id)),
      edit,
      action,
    );
  });
}

/**
 * The roster a change is judged against: the roster branch's tip when git holds the roster (what
 * the change will be committed onto), else the roster file.
 */
async function currentRoster(
  base: { settings: Settings; roster: Roster },
  o: Pick<OnboardOptions, "projectDir" | "rosterPath">,
): Promise<{ roster: Roster; text: string }> {
  const git = base.settings.onboarding?.git;
  if (!git) return { roster: base.roster, text: readFileSync(rosterFileOf(base.settings, o), "utf8") };
  const file = rosterFileOf(base.settings, o);
  const store = rosterStore(file, rosterOptionsFor(base.settings));
  let text: string;
  try {
    text = (await latestRoster(rosterGit(git, file), file)).text;
  } catch (e) {
    if (e instanceof RosterGitError) throw new OnboardError(e.message.replace("nothing was updated", "nothing was changed"), [], "unavailable");
    throw e;
  }
  return { roster: refused(() => store.previewOf(text, () => {})).roster, text };
}

/**
 * Update the stack with the edited roster, then write the roster file and, where the broker runs
 * on Kubernetes, the platform stack. The edit counts as under way (see inFlight) until done.
 */
async function apply(
  engine: Engine,
  t: Target,
  o: OnboardOptions,
  id: string,
  candidate: Candidate | undefined,
  edit: RosterEdit,
  action: Action,
): Promise<OnboardResult> {
  // The input is validated by now: only then is the Pulumi CLI needed.
  await engine.check();
  const what = `${VERB[action]} ${id}`;
  if (t.settings.onboarding?.git || !candidate) return applyThroughGit(engine, t, o, id, edit, action, what);
  const roster = candidate.roster;
  return t.store.underWayWhile(id, edit, async () => {
    const done = await update(engine, t, candidate, o, what);
    await commitRoster(t, edit);
    await refreshPlatform(engine, t, o, what, action === "offboarded" && roster.customers.some((c) => c.id === id && c.registries.includes("ecr")));
    return result(t, roster, id, action, done);
  });
}

/**
 * Git holds the roster: the change is made from the roster branch's tip, previewed with the policy
 * pack, committed (trailer `Intake-Job`) and pushed before anything is updated, so CI's next
 * `pulumi up` reads this roster or a later one and never undoes it. Then (`apply: self`) `up` runs
 * with exactly the pushed roster; with `apply: ci` up.yml does. A push that met another writer's is
 * made again on the new tip (customers/git-roster.ts).
 */
async function applyThroughGit(
  engine: Engine,
  t: Target,
  o: OnboardOptions,
  id: string,
  edit: RosterEdit,
  action: Action,
  what: string,
): Promise<OnboardResult> {
  const settings = t.settings.onboarding!;
  const git = settings.git!;
  const onOutput = o.onOutput ?? (() => {});
  const job = o.job ?? randomUUID();
  return t.store.underWayWhile(id, edit, async () => {
    let pushed: RosterCommit;
    try {
      pushed = await commitRosterChange(rosterGit(git, t.rosterFile), {
        rosterFile: t.rosterFile,
        customer: id,
        subject: `registry-intake: ${what}`,
        job,
        edit,
        validate: (_text, base) => void refused(() => t.store.previewOf(base, edit, id)),
        beforeCommit: async (text) => {
          await update(engine, t, { roster: refused(() => t.store.previewOf(text, () => {})).roster, text }, o, what, ["preview"]);
        },
        onOutput,
      });
    } catch (e) {
      if (e instanceof RosterGitError) throw new OnboardError(`${what}: ${e.message}`);
      throw e;
    }
    await fastForwardWorkTree(path.dirname(t.rosterFile), git.branch, pushed.commit, onOutput);
    if (settings.apply === "ci") {
      const roster = refused(() => t.store.previewOf(pushed.text, () => {})).roster;
      onOutput(`${what}: pushed ${pushed.commit.slice(0, 12)} to ${git.branch}; CI's pulumi up applies it`);
      return { ...result(t, roster, id, action, { changes: {}, outputs: {} }), commit: pushed.commit, applied: "ci" };
    }
    // The branch as it is now (it holds this change, and maybe later ones): an update never goes
    // back past another writer's later change.
    const gitOf = rosterGit(git, t.rosterFile);
    const latest = async () => {
      try {
        return await latestRoster(gitOf, t.rosterFile, pushed.commit);
      } catch (e) {
        if (e instanceof RosterGitError)
          throw new OnboardError(`${what}: the change is pushed (${pushed.commit.slice(0, 12)}), but ${e.message}`, [], "unavailable", pushed.commit);
        throw e;
      }
    };
    const now = await latest();
    const roster = refused(() => t.store.previewOf(now.text, () => {})).roster;
    let done: { changes: Record<string, number>; outputs: OutputMap };
    try {
      done = await update(engine, t, { roster, text: now.text }, o, what, ["up"]);
    } catch (e) {
      throw new OnboardError(
        `${(e as Error).message.replace("the roster file was not changed", `the roster change is pushed (${pushed.commit.slice(0, 12)}), so CI's next pulumi up applies it too`)}`,
        [t.stack],
        "input",
        pushed.commit,
      );
    }
    const ecr = action === "offboarded" && roster.customers.some((c) => c.id === id && c.registries.includes("ecr"));
    if (t.shard !== undefined && (t.settings.distribution?.kubernetes || ecr)) await refreshPlatform(engine, t, o, what, ecr, (await latest()).text);
    return { ...result(t, roster, id, action, done), commit: pushed.commit, applied: "self" };
  });
}

/**
 * With sharding, the platform stack carries the roster the Kubernetes-hosted broker judges licenses
 * by, and the push role that revokes an offboarded ECR customer's sessions: update it too (after
 * the shard, with the roster file as now written).
 */
async function refreshPlatform(engine: Engine, t: Target, o: OnboardOptions, what: string, ecr: boolean, rosterText?: string): Promise<void> {
  // The broker on Kubernetes judges by the platform's roster; the push role revokes ECR customers' sessions.
  if (t.shard === undefined || !(t.settings.distribution?.kubernetes || ecr)) return;
  await lockFor(o.stack)(async () => {
    try {
      const candidate = rosterText === undefined ? refused(() => t.store.preview(() => {})) : refused(() => t.store.previewOf(rosterText, () => {}));
      await update(engine, { ...t, stack: o.stack, shard: undefined }, candidate, o, `${what} (the broker's roster)`);
    } catch (e) {
      throw new OnboardError(
        `${(e as Error).message} The customer's shard stack ${t.stack} and the roster file are updated; run \`pulumi up -s ${o.stack}\` so the broker sees it.`,
        [t.stack],
      );
    }
  });
}

function rosterFileOf(settings: Settings, o: Pick<OnboardOptions, "projectDir" | "rosterPath">): string {
  return path.resolve(o.rosterPath ?? path.resolve(o.projectDir, settings.roster));
}

function target(base: { settings: Settings; roster: Roster }, o: OnboardOptions, c: { id: string; shard?: number }): Target {
  const rosterFile = rosterFileOf(base.settings, o);
  const store = rosterStore(rosterFile, rosterOptionsFor(base.settings));
  const sh = base.settings.shard;
  if (!sh) return { settings: base.settings, rosterFile, store, stack: o.stack };
  if (stackRole(base.settings) === "shard")
    throw new OnboardError(
      `--stack ${o.stack} is a shard stack: name the platform stack (its shard.index is unset) and the customer's shard is chosen from it`,
    );
  if (c.shard !== undefined && c.shard >= sh.count)
    throw new OnboardError(`customer ${c.id}: shard: ${c.shard} is not below the stack's shard count ${sh.count}`);
  const shard = shardOf(c, sh.count);
  return { settings: base.settings, rosterFile, store, stack: shardStackName(o.stack, shard, sh.count), shard };
}

/**
 * Write the roster after a successful update: under a lock file (other processes) and the
 * in-process lock, re-read (another shard may have written), apply, write atomically. The stack is
 * already updated, so a failure here says so: the next `pulumi up` of the stack would undo it.
 */
async function commitRoster(t: Target, edit: RosterEdit): Promise<void> {
  try {
    await t.store.commit(edit);
  } catch (e) {
    const why = (e as Error).message.replace(", so nothing was changed", "");
    throw new OnboardError(
      `stack ${t.stack} is updated, but ${t.rosterFile} could not be written: ${why}\n` +
        `Write the change into ${t.rosterFile} by hand (or fix the roster and run the same command again); until then the next \`pulumi up -s ${t.stack}\` undoes it.`,
      [t.stack],
    );
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
async function update(
  engine: Engine,
  t: Target,
  candidate: Candidate,
  o: OnboardOptions,
  what: string,
  steps: Step[] = ["preview", "up"],
): Promise<{ changes: Record<string, number>; outputs: OutputMap }> {
  const dir = mkdtempSync(path.join(tmpdir(), "intake-onboard-"));
  try {
    const rosterCopy = path.join(dir, "roster.yaml");
    writeFileSync(rosterCopy, candidate.text, { mode: 0o600 });
    return await updateWith(engine, t, candidate.roster, rosterCopy, o, what, steps);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

type Step = "preview" | "up";

async function updateWith(
  engine: Engine,
  t: Target,
  roster: Roster,
  rosterCopy: string,
  o: OnboardOptions,
  what: string,
  steps: Step[],
): Promise<{ changes: Record<string, number>; outputs: OutputMap }> {
  const inline: InlineProgramArgs = {
    projectName: PROJECT,
    stackName: t.stack,
    // The engine hands the stack's own config to the program, as `pulumi up` would.
    program: async () => stackProgram(stackSettings(o.projectDir, t.stack, { engineConfig: engineConfig() }).settings, roster),
  };
  const stack = await engine.stack(inline, { workDir: o.projectDir, envVars: { INTAKE_ROSTER: rosterCopy } });
  const policyPacks = [o.policyPack ?? path.join(o.projectDir, "policy")];
  const onOutput = o.onOutput ?? (() => {});
  // An update that meets another's lock on the stack waits and tries again: both read the same
  // roster or a later one, so either order converges.
  const unlocked = async <T>(step: string, fn: () => Promise<T>): Promise<T> => {
    const { tries, firstMs } = o.lockWait ?? { tries: 10, firstMs: 2000 };
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof ConcurrentUpdateError) || attempt >= tries) throw e;
        const stale = staleLocks(e.message);
        if (stale) {
          for (const f of stale) rmSync(f, { force: true });
          onOutput(
            `${what}: stack ${t.stack} was locked by a process of this host that is gone (a replica that died mid-update); removed its lock ${stale.map((f) => path.basename(f)).join(", ")} and trying again`,
          );
          continue;
        }
        const wait = Math.round(Math.min(60_000, firstMs * 2 ** (attempt - 1)) * (0.5 + Math.random()));
        onOutput(`${what}: stack ${t.stack} is locked by another update; ${step} again in ${(wait / 1000).toFixed(1)} s (${attempt} of ${tries - 1})`);
        await sleep(wait, undefined, { signal: o.signal });
      }
    }
  };
  if (steps.includes("preview")) {
    try {
      onOutput(`${what}: preview of ${t.stack} with the policy pack`);
      await unlocked("preview", () =>
        stack.preview({ policyPacks, onOutput, color: "never", message: `registry-intake: ${what}`, signal: o.signal } as PreviewOptions),
      );
    } catch (e) {
      throw new OnboardError(`${what}: preview of stack ${t.stack} failed, nothing was changed: ${(e as Error).message.split("\n").slice(0, 6).join(" | ")}`);
    }
  }
  if (!steps.includes("up")) return { changes: {}, outputs: {} };
  try {
    onOutput(`${what}: up ${t.stack}`);
    const r = await unlocked("up", () =>
      stack.up({ policyPacks, onOutput, color: "never", message: `registry-intake: ${what}`, signal: o.signal } as UpOptions),
    );
    return { changes: (r.summary?.resourceChanges ?? {}) as Record<string, number>, outputs: r.outputs ?? {} };
  } catch (e) {
    throw new OnboardError(
      `${what}: up of stack ${t.stack} failed; the roster file was not changed, run \`pulumi up -s ${t.stack}\` after fixing the cause: ${(e as Error).message.split("\n").slice(0, 6).join(" | ")}`,
      [t.stack],
    );
  }
}

function result(
  t: Target,
  roster: Roster,
  id: string,
  action: OnboardResult["action"],
  done: { changes: Record<string, number>; outputs: OutputMap },
): OnboardResult {
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
    // GHCR has no credential to mint without a machine user: its people use their own PATs.
    credentials: kinds.map((k) =>
      k === "ghcr" && !c.github?.machineUser
        ? "ghcr: no github.machineUser, so no token to hand out: the team's members log in with their own classic PATs (read:packages)"
        : `intake token --customer ${id} --kind ${k} --stack ${t.stack}${k === "distribution" ? " --key broker.key" : ""}`,
    ),
    changes,
    applied: "self",
  };
}

/** One change of a batch, as the service's job holds it. */
export type Change =
  { onboard: Record<string, unknown> } | { change: CustomerChange; id: string } | { offboard: true; id: string } | { rotate: RotationRequest; id: string };

/** A batch's change and its outcome: the result, or the one-line error of that change alone. */
export interface BatchOutcome {
  job: string;
  result?: OnboardResult;
  error?: Error;
}

/**
 * Changes of customers of one stack, made together where git holds the roster (the service's jobs
 * queued behind each other): each is validated and committed on its own (its own commit and
 * `Intake-Job` trailer, as alone), but one preview with the policy pack judges them all before the
 * first commit, and one `up` applies them after the last push. A change that is refused fails
 * alone; a preview that fails takes each change alone, so the one at fault fails by itself. A
 * batch of one, or without git, is the single path.
 */
export async function applyBatch(items: { job: string; change: Change }[], o: OnboardOptions): Promise<BatchOutcome[]> {
  const one = (item: { job: string; change: Change }) => single(item, o);
  const base = loadStackContext({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath });
  if (items.length < 2 || !base.settings.onboarding?.git) return Promise.all(items.map(one));
  const engine = o.engine ?? automationEngine;
  const onOutput = o.onOutput ?? (() => {});
  const outcomes = new Map<string, BatchOutcome>();
  const fail = (job: string, e: unknown) => outcomes.set(job, { job, error: e instanceof Error ? e : new Error(String(e)) });
  const now = await currentRoster(base, o);
  // Each change prepared against the branch's tip and the changes before it.
  const ready: { job: string; id: string; edit: RosterEdit; action: Action; t: Target }[] = [];
  let text = now.text;
  // Each judged against the roster as the changes before it leave it, as one after another would be
  // (an offboarding then a reinstatement of the same customer: the second is refused).
  let roster = now.roster;
  const git0 = base.settings.onboarding.git;
  for (const { job, change } of items) {
    try {
      const { id, edit, action, t } = prepared(change, base, roster, o);
      const next = refused(() => t.store.previewOf(text, edit, id));
      ({ text, roster } = next);
      ready.push({ job, id, edit, action, t });
    } catch (e) {
      // A job run again after a crash: its change is on the branch already (its commit is found
      // by the trailer), so the edit no longer applies; the update converges.
      if (e instanceof OnboardError && !(e instanceof UnknownCustomer) && (await jobOnBranch(rosterGit(git0, rosterFileOf(base.settings, o)), job))) {
        ready.push({ job, ...identity(change, base, now.roster, o), edit: () => {} });
      } else fail(job, e);
    }
  }
  const stacks = new Set(ready.map((r) => r.t.stack));
  if (stacks.size > 1) throw new Error(`applyBatch: changes of several stacks (${[...stacks].join(", ")}); a batch is one stack's`);
  if (ready.length < 2) {
    for (const r of ready) outcomes.set(r.job, await one(items.find((i) => i.job === r.job)!));
    return items.map((i) => outcomes.get(i.job)!);
  }
  const t = ready[0].t;
  const git = t.settings.onboarding!.git!;
  const what = ready.map((r) => `${VERB[r.action]} ${r.id}`).join(", ");
  await engine.check();
  return lockFor(t.stack)(async () => {
    const preview = (candidate: string, about: string) =>
      update(engine, t, { roster: refused(() => t.store.previewOf(candidate, () => {})).roster, text: candidate }, o, about, ["preview"]);
    let good = ready;
    try {
      await preview(text, what);
    } catch (e) {
      if (!(e instanceof OnboardError)) throw e;
      // Which change the preview refused is not known: one after another, each previewed with the
      // ones accepted before it (as one job after another would be); the refused fail.
      onOutput(`${what}: the preview of them together failed; each is previewed after the ones before it`);
      good = [];
      let accepted = now.text;
      for (const r of ready) {
        try {
          const candidate = refused(() => t.store.previewOf(accepted, r.edit, r.id)).text;
          await preview(candidate, `${VERB[r.action]} ${r.id}`);
          good.push(r);
          accepted = candidate;
        } catch (err) {
          fail(r.job, err);
        }
      }
    }
    const committed: { job: string; id: string; action: Action; commit: string }[] = [];
    for (const r of good) {
      try {
        const pushed = await commitRosterChange(rosterGit(git, t.rosterFile), {
          rosterFile: t.rosterFile,
          customer: r.id,
          subject: `registry-intake: ${VERB[r.action]} ${r.id}`,
          job: r.job,
          edit: r.edit,
          validate: (_text, current) => void refused(() => r.t.store.previewOf(current, r.edit, r.id)),
          onOutput,
        });
        committed.push({ job: r.job, id: r.id, action: r.action, commit: pushed.commit });
      } catch (e) {
        fail(r.job, e instanceof RosterGitError ? new OnboardError(`${VERB[r.action]} ${r.id}: ${e.message}`) : e);
      }
    }
    if (committed.length) {
      const last = committed.at(-1)!.commit;
      await fastForwardWorkTree(path.dirname(t.rosterFile), git.branch, last, onOutput);
      try {
        const latest = await latestRoster(rosterGit(git, t.rosterFile), t.rosterFile, last);
        const roster = refused(() => t.store.previewOf(latest.text, () => {})).roster;
        const applied = committed.map((c) => `${VERB[c.action]} ${c.id}`).join(", ");
        const done =
          t.settings.onboarding!.apply === "ci" ? { changes: {}, outputs: {} } : await update(engine, t, { roster, text: latest.text }, o, applied, ["up"]);
        const ecr = committed.some((c) => c.action === "offboarded" && roster.customers.some((x) => x.id === c.id && x.registries.includes("ecr")));
        if (t.settings.onboarding!.apply !== "ci" && t.shard !== undefined && (t.settings.distribution?.kubernetes || ecr))
          await refreshPlatform(engine, t, o, applied, ecr, (await latestRoster(rosterGit(git, t.rosterFile), t.rosterFile)).text);
        for (const c of committed)
          outcomes.set(c.job, { job: c.job, result: { ...result(t, roster, c.id, c.action, done), commit: c.commit, applied: t.settings.onboarding!.apply } });
      } catch (e) {
        const message = e instanceof RosterGitError ? e.message : (e as Error).message;
        for (const c of committed)
          fail(
            c.job,
            new OnboardError(
              `${message.replace("the roster file was not changed", `the roster change is pushed (${c.commit.slice(0, 12)}), so CI's next pulumi up applies it too`)}`,
              [t.stack],
              "input",
              c.commit,
            ),
          );
      }
    }
    return items.map((i) => outcomes.get(i.job)!);
  });
}

/** One change through the single path; its error as the outcome. */
async function single(item: { job: string; change: Change }, o: OnboardOptions): Promise<BatchOutcome> {
  const opts = { ...o, job: item.job };
  const c = item.change;
  try {
    const result =
      "onboard" in c
        ? await onboard(c.onboard, opts)
        : "change" in c
          ? await changeCustomer(c.id, c.change, opts)
          : "rotate" in c
            ? await rotateCustomer(c.id, c.rotate, opts)
            : await offboard(c.id, opts);
    return { job: item.job, result };
  } catch (e) {
    return { job: item.job, error: e as Error };
  }
}

/** A change's customer, edit and stack, judged against the roster as it is now. */
/** Whose change it is, what it does, and the stack it goes through (the edit aside). */
function identity(c: Change, base: { settings: Settings; roster: Roster }, roster: Roster, o: OnboardOptions): { id: string; action: Action; t: Target } {
  const id = "onboard" in c ? String(c.onboard.id) : c.id;
  const shard = "onboard" in c ? (c.onboard.shard as number | undefined) : roster.customers.find((x) => x.id === id)?.shard;
  const action: Action = "onboard" in c ? "onboarded" : "change" in c ? "changed" : "rotate" in c ? "rotated" : "offboarded";
  return { id, action, t: target(base, o, { id, shard }) };
}

function prepared(
  c: Change,
  base: { settings: Settings; roster: Roster },
  roster: Roster,
  o: OnboardOptions,
): { id: string; edit: RosterEdit; action: Action; t: Target } {
  if ("onboard" in c) {
    const id = String(c.onboard.id);
    const t = target(base, o, { id, shard: c.onboard.shard as number | undefined });
    const pinned = t.shard === undefined ? c.onboard : { ...c.onboard, shard: t.shard };
    return { id, edit: addNewCustomer(t.rosterFile, pinned), action: "onboarded", t };
  }
  const existing = roster.customers.find((x) => x.id === c.id);
  if (!existing) throw new UnknownCustomer(`customer ${c.id} is not in ${roster.source}`);
  const t = target(base, o, existing);
  const [action, editOf]: [Action, EditOf] =
    "change" in c ? ["changed", changeEdit(c.id, c.change)] : "rotate" in c ? ["rotated", rotateEdit(c.rotate)] : ["offboarded", offboardEdit(c.id)];
  return { id: c.id, edit: refused(() => editOf(existing, t.rosterFile, t.settings)), action, t };
}

/** A customer as the roster holds it now (the branch's tip when git holds it): what `GET /v1/customers/{id}` answers. */
export interface CustomerView {
  id: string;
  /** active, suspended (by status or a lapsed license) or offboarded, and why. */
  status: string;
  reason: string;
  tier: string;
  licenseExpires: string;
  registries: string[];
  stack: string;
  shard?: number;
  namespaces: Record<string, string>;
  credentials: string[];
}

export async function customerView(id: string, o: Pick<OnboardOptions, "projectDir" | "stack" | "rosterPath">): Promise<CustomerView> {
  const base = loadStackContext({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath });
  const now = await currentRoster(base, o);
  const c = now.roster.customers.find((x) => x.id === id);
  if (!c) throw new UnknownCustomer(`customer ${id} is not in ${now.roster.source}`);
  const t = target(base, o, c);
  const state = customerState(c, base.settings.asOf ?? new Date().toISOString().slice(0, 10));
  const r = result(t, now.roster, id, state.status === "offboarded" ? "offboarded" : "onboarded", { changes: {}, outputs: {} });
  return {
    id,
    status: state.status,
    reason: state.reason,
    tier: c.tier,
    licenseExpires: c.license.expires,
    registries: c.registries,
    stack: r.stack,
    ...(r.shard !== undefined ? { shard: r.shard } : {}),
    namespaces: r.namespaces,
    credentials: r.credentials,
  };
}

/**
 * Locks of the file (DIY) backend left by a process of this host that is gone: a replica killed
 * during an update (kill -9, a crash) leaves its lock file behind, and no later update of the
 * stack could run until someone ran `pulumi cancel`. The engine names each lock in its refusal
 * (`file:///…/.pulumi/locks/…/<id>.json: created by user@host (pid N) at …`); only when every one
 * is a file on this host whose process no longer exists are they removed, each by its own path
 * (a lock of a live process, of another host or of another backend is never touched).
 */
export function staleLocks(message: string, host = hostname()): string[] | undefined {
  const locks = [...message.matchAll(/^\s*(\S+): created by \S*@(\S+) \(pid (\d+)\) at /gm)].map(([, url, h, pid]) => ({ url, host: h, pid: Number(pid) }));
  if (!locks.length) return undefined;
  for (const l of locks) {
    if (!l.url.startsWith("file://") || l.host !== host || alive(l.pid)) return undefined;
  }
  return locks.map((l) => fileURLToPath(l.url));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
