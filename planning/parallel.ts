import * as pulumi from "@pulumi/pulumi";
import { fork, type ChildProcess } from "node:child_process";
import { availableParallelism } from "node:os";
import * as path from "node:path";
import type { KeptList } from "../core/kept";
import type { Settings } from "../core/settings";
import type { Roster } from "../customers/roster";
import { stackRoster } from "../program";
import type { AclEntry } from "../core/acl";
import type { RecordedResource } from "./engine";
import type { Declared, PlanOptions } from "./types";
import { SLICE_SIZE, slices } from "./slices";
import { leaveOff, type LeftOff } from "./shortcuts";

/**
 * A plan split over worker processes. The SDK's mock engine costs memory and time per
 * registration; customers are independent, so each worker declares, slice after slice, the
 * platform (to hand its customers the same platform outputs) and one slice of the customers, and
 * sends back its customers' registrations and their access-list entries. Meanwhile this process
 * declares the platform and the stack-wide parts (the Distribution service, whose entries arrive
 * with their slices; the deliveries), and the parts are merged: the same registrations the whole
 * program makes in one process (test/unit/planning/parallel.test.ts compares the two on a mixed roster).
 */

/** What a worker is given once: the stack it plans slices of. */
export interface WorkerStack {
  settings: Settings;
  roster: Roster;
  keptList: Partial<KeptList>;
  config?: { values: Record<string, string>; secretKeys: string[] };
}

/** What a worker sends back. */
export interface WorkerResult {
  recorded: RecordedResource[];
  customers: Declared["customers"];
  aclEntries: [string, { value: unknown; secret: boolean }][];
  /** The SDK shortcuts the worker's plan left off, said here once each. */
  notices: LeftOff[];
}

/** The customers a stack's program declares (on a shard stack its slice; on a platform stack none). */
function declaredCustomers(settings: Settings, roster: Roster): string[] {
  return stackRoster(settings, roster).customers.map((c) => c.id);
}

function workersOf(o: PlanOptions): number {
  return Math.max(1, Math.floor(o.workers ?? availableParallelism()));
}

/** Whether this plan is split: more than one worker allowed and more customers than two slices hold. */
export function inParts(settings: Settings, roster: Roster, o: PlanOptions): boolean {
  return workersOf(o) > 1 && declaredCustomers(settings, roster).length > 2 * (o.sliceSize ?? SLICE_SIZE);
}

export async function declareInParts(settings: Settings, roster: Roster, keptList: Partial<KeptList>, o: PlanOptions): Promise<Declared> {
  const ids = declaredCustomers(settings, roster);
  const parts = slices(ids, workersOf(o), o.sliceSize ?? SLICE_SIZE);
  const pool = Array.from({ length: Math.min(workersOf(o), parts.length) }, () => new PlanWorker({ settings, roster, keptList, config: o.config }));
  // Each slice's answer, as a promise the stack-wide part below reads its entries from.
  const answers = parts.map(() => {
    let settle!: (r: { entries: Map<string, WorkerResult["aclEntries"][number][1]> } | undefined) => void;
    const promise = new Promise<{ entries: Map<string, WorkerResult["aclEntries"][number][1]> } | undefined>((resolve) => (settle = resolve));
    return { promise, settle };
  });
  const sliceOf = new Map(parts.flatMap((p, i) => p.map((id) => [id, i] as const)));

  // The platform and the stack-wide parts in this process, while the workers plan the customers:
  // the Distribution service waits for each customer's entry from its slice.
  const { runUnderMocks } = await import("./engine.js");
  const { mockOptions } = await import("./mock-options.js");
  const { program } = await import("../program.js");
  const aclEntry = (id: string) => {
    const i = sliceOf.get(id);
    if (i === undefined) return undefined;
    // Only the entry goes into the Output (the SDK walks an Output's whole value), with its
    // secretness as the worker saw it: an Output returned from apply lends its own.
    const entry = answers[i].promise.then((r) => r?.entries.get(id));
    return pulumi
      .output(entry)
      .apply((e): pulumi.Input<AclEntry | undefined> => (e?.secret ? pulumi.secret(e.value as AclEntry) : (e?.value as AclEntry | undefined))) as pulumi.Output<
      AclEntry | undefined
    >;
  };
  const stackWide = runUnderMocks(
    () => program(settings, roster, keptList, { customers: new Set(), stackWide: true, aclEntry }),
    mockOptions(settings, keptList),
  );
  // Read after the workers are done; until then a failure (the program refusing the stack) is held, not unhandled.
  stackWide.catch(() => {});

  let next = 0;
  let done = 0;
  const results: WorkerResult[] = new Array(parts.length);
  const failures = new Map<number, Error>();
  // Each worker takes the next slice when it finishes one, so a slow slice holds up no other.
  // After a failure no later slice starts, and the slices before it finish: the error is then
  // the first in roster order, the one the whole program in one process throws.
  const drain = async (w: PlanWorker): Promise<void> => {
    while (next < parts.length && !failures.size) {
      const i = next++;
      try {
        results[i] = await w.plan(parts[i]);
        for (const left of results[i].notices) leaveOff(left.shortcut, left.why);
      } catch (e) {
        failures.set(i, e as Error);
        return;
      }
      answers[i].settle({ entries: new Map(results[i].aclEntries) });
      done += parts[i].length;
      o.onProgress?.(done, ids.length);
    }
  };
  await Promise.all(pool.map(drain));
  // A slice not planned answers "no entries", so the stack-wide run ends either way.
  for (const a of answers) a.settle(undefined);
  const { resources } = await stackWide;
  if (failures.size) {
    for (const w of pool) w.kill();
    throw failures.get(Math.min(...failures.keys()));
  }
  for (const w of pool) w.stop();
  return { recorded: [...resources, ...results.flatMap((r) => r.recorded)], customers: results.flatMap((r) => r.customers) };
}

/** Messages to a worker: the stack once, then slices; and what it answers for each slice. */
export type ToWorker = { stack: WorkerStack } | { slice: string[] } | { stop: true };
export type FromWorker = { result: WorkerResult } | { error: string; notices: LeftOff[] };

/**
 * V8 flags of a worker: semi-spaces of 128 MiB from the start (the young generation is two). Nearly all a registration
 * allocates (the SDK's Outputs and their promises) lives until its slice ends, so with V8's
 * default (a few MiB, grown slowly) every scavenge copies what is still alive, each one tens of
 * milliseconds, a third of a worker's time; with room for a slice's short-lived garbage most of it
 * dies before a scavenge sees it. No forced collection between slices either: a forced full
 * collection throws away compiled code and feedback as well, and cost a third of a worker's CPU
 * time, while V8's own keeps the heap near one slice's live set (a worker peaked at 0.65 GiB
 * resident over 30 slices; `npm run bench -- plan` prints the largest process).
 */
const WORKER_V8_FLAGS = ["--min-semi-space-size=128", "--max-semi-space-size=128"];

/**
 * One worker process (plan-worker.ts): loads the SDK and the program once, gets the stack once,
 * then plans one slice at a time; what a slice made is garbage once its answer is sent, so the
 * worker's memory follows a slice's size, not the roster's.
 */
class PlanWorker {
  private readonly child: ChildProcess;
  private stderr = "";
  private waiting?: { resolve: (r: WorkerResult) => void; reject: (e: Error) => void; slice: string[] };
  private exited?: string;

  constructor(stack: WorkerStack) {
    const ts = __filename.endsWith(".ts");
    const file = path.join(__dirname, `plan-worker.${ts ? "ts" : "js"}`);
    this.child = fork(file, [], {
      execArgv: [...(ts ? ["--import", "tsx"] : []), ...WORKER_V8_FLAGS],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "pipe", "ipc"],
    });
    this.child.stderr!.on("data", (d) => (this.stderr += d));
    this.child.on("message", (m: FromWorker) => {
      const w = this.waiting;
      this.waiting = undefined;
      if (!w) return;
      if ("result" in m) w.resolve(m.result);
      else {
        // What the failed slice left off is still said; then the program's own error, as the
        // whole program in one process would have thrown it.
        for (const left of m.notices) leaveOff(left.shortcut, left.why);
        w.reject(new Error(m.error));
      }
    });
    this.child.on("error", (e) => this.fail(e.message));
    this.child.on("exit", (code, signal) => this.fail(`exited ${code ?? signal}`));
    this.send({ stack });
  }

  plan(slice: string[]): Promise<WorkerResult> {
    if (this.exited) return Promise.reject(this.failure(slice, this.exited));
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject, slice };
      this.send({ slice });
    });
  }

  /** No more slices: the worker exits once it has nothing left to do. */
  stop(): void {
    if (!this.exited && this.child.connected) this.send({ stop: true });
  }

  /** Stop now (another worker failed: its slice's plan is not needed). */
  kill(): void {
    if (!this.exited) this.child.kill();
  }

  private send(m: ToWorker): void {
    this.child.send(m);
  }

  private fail(why: string): void {
    this.exited ??= why;
    const w = this.waiting;
    this.waiting = undefined;
    w?.reject(this.failure(w.slice, why));
  }

  private failure(slice: string[], why: string): Error {
    return new Error(`the plan worker for customers ${slice[0]}…${slice.at(-1)} ${why}${this.stderr ? `: ${this.stderr.trim()}` : ""}`);
  }
}
