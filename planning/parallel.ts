import { fork } from "node:child_process";
import { availableParallelism } from "node:os";
import * as path from "node:path";
import type { Ledger } from "../core/ledger";
import type { Settings } from "../core/settings";
import type { Roster } from "../customers/roster";
import { rosterForShard } from "../customers/shards";
import { stackRole, type ProgramPart } from "../program";
import type { RecordedResource } from "./engine";
import type { Declared, PlanOptions } from "./plan";
import { SLICE_SIZE, slices } from "./slices";

/**
 * A plan split over worker processes. The SDK's mock engine costs memory and time per
 * registration and uses one core; customers are independent, so each worker declares the
 * platform (to hand its customers the same platform outputs) and one slice of the customers, and
 * sends back its customers' registrations and their access-list entries. This process then
 * declares the platform and the stack-wide parts (the Distribution service with every entry, the
 * deliveries), and the parts are merged: the same registrations the whole program makes in one
 * process (test/parallel-plan.test.ts compares the two on a mixed roster).
 */

/** One worker's task: the stack, and which customers to declare. */
export interface WorkerTask {
  settings: Settings;
  roster: Roster;
  ledger: Partial<Ledger>;
  config?: { values: Record<string, string>; secretKeys: string[] };
  customers: string[];
}

/** What a worker sends back. */
export interface WorkerResult {
  recorded: RecordedResource[];
  customers: Declared["customers"];
  aclEntries: [string, { value: unknown; secret: boolean }][];
}

/** The customers a stack's program declares (on a shard stack its slice; on a platform stack none). */
function declaredCustomers(settings: Settings, roster: Roster): string[] {
  const role = stackRole(settings);
  const mine = role === "all" ? roster.customers : role === "platform" ? [] : rosterForShard(roster, settings.shard!.index!, settings.shard!.count).customers;
  return mine.map((c) => c.id);
}

function workersOf(o: PlanOptions): number {
  return Math.max(1, Math.floor(o.workers ?? availableParallelism()));
}

/** Whether this plan is split: more than one worker allowed and more customers than one slice holds. */
export function inParts(settings: Settings, roster: Roster, o: PlanOptions): boolean {
  return workersOf(o) > 1 && declaredCustomers(settings, roster).length > (o.sliceSize ?? SLICE_SIZE);
}

export async function declareInParts(settings: Settings, roster: Roster, ledger: Partial<Ledger>, o: PlanOptions): Promise<Declared> {
  const ids = declaredCustomers(settings, roster);
  const parts = slices(ids, workersOf(o), o.sliceSize ?? SLICE_SIZE);
  const results: WorkerResult[] = new Array(parts.length);
  let next = 0;
  let done = 0;
  const children = new Set<ReturnType<typeof fork>>();
  const worker = async (): Promise<void> => {
    while (next < parts.length) {
      const i = next++;
      results[i] = await runWorker({ settings, roster, ledger, config: o.config, customers: parts[i] }, children);
      done += parts[i].length;
      o.onProgress?.(done, ids.length);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(workersOf(o), parts.length) }, worker));
  } finally {
    for (const c of children) c.kill();
  }
  const aclEntries = new Map(results.flatMap((r) => r.aclEntries)) as ProgramPart["aclEntries"];
  // The platform and the stack-wide parts, with every customer's entry, in this process.
  const { runUnderMocks } = await import("./engine.js");
  const { mockOptions } = await import("./plan.js");
  const { program } = await import("../program.js");
  const { resources } = await runUnderMocks(() => program(settings, roster, ledger, { customers: new Set(), stackWide: true, aclEntries }), mockOptions(settings, ledger));
  return { recorded: [...resources, ...results.flatMap((r) => r.recorded)], customers: results.flatMap((r) => r.customers) };
}

/** The worker module beside this one: compiled JavaScript, or TypeScript through tsx. */
function workerModule(): { file: string; execArgv: string[] } {
  const ts = __filename.endsWith(".ts");
  return { file: path.join(__dirname, `plan-worker.${ts ? "ts" : "js"}`), execArgv: ts ? ["--import", "tsx"] : [] };
}

function runWorker(task: WorkerTask, children: Set<ReturnType<typeof fork>>): Promise<WorkerResult> {
  const { file, execArgv } = workerModule();
  return new Promise((resolve, reject) => {
    const child = fork(file, [], { execArgv, serialization: "advanced", stdio: ["ignore", "inherit", "pipe", "ipc"] });
    children.add(child);
    let stderr = "";
    let result: WorkerResult | undefined;
    let failure: string | undefined;
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("message", (m: { result?: WorkerResult; error?: string }) => {
      result = m.result;
      failure = m.error;
    });
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      children.delete(child);
      if (result && code === 0) resolve(result);
      // The worker's own error, as the whole program in this process would have thrown it.
      else reject(new Error(failure ?? `plan worker for customers ${task.customers[0]}…${task.customers.at(-1)} exited ${code ?? signal}${stderr ? `: ${stderr.trim()}` : ""}`));
    });
    child.send(task);
  });
}
