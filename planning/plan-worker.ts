// One worker of a parallel plan (planning/parallel.ts): declares the platform and one slice of
// the customers under its own mock engine, and sends back that slice's registrations, its
// customers and their access-list entries.
import * as pulumi from "@pulumi/pulumi";
import { program } from "../program";
import { runUnderMocks, type RecordedResource } from "./engine";
import type { FromWorker, ToWorker, WorkerResult, WorkerStack } from "./parallel";
import { mockOptions, ownerOf } from "./plan";

let stack: WorkerStack | undefined;

async function work(customers: string[]): Promise<WorkerResult> {
  const task = stack!;
  const mine = new Set(customers);
  const { result, resources } = await runUnderMocks(() => program(task.settings, task.roster, task.ledger, { customers: mine, stackWide: false }), mockOptions(task.settings, task.ledger));
  // This slice's customers' registrations: the platform is declared again by the process that merges.
  const customerOf = ownerOf(new Map(resources.map((r) => [r.urn, r])));
  const ours = (r: RecordedResource) => mine.has(customerOf(r) ?? "");
  const aclEntries: WorkerResult["aclEntries"] = [];
  for (const c of result.customers) {
    if (!c.aclEntry) continue;
    const entry = c.aclEntry;
    const value = await new Promise<unknown>((resolve) => entry.apply((v) => resolve(v)));
    aclEntries.push([c.customerId, { value, secret: await pulumi.isSecret(entry) }]);
  }
  return {
    recorded: resources.filter((r) => !r.read && ours(r)),
    customers: result.customers.map(({ customerId, state, kinds }) => ({ customerId, state, kinds })),
    aclEntries,
  };
}

const reply = (m: FromWorker) => process.send!(m);

process.on("message", (m: ToWorker) => {
  if ("stack" in m) {
    stack = m.stack;
    if (stack.config) pulumi.runtime.setAllConfig(stack.config.values, stack.config.secretKeys);
  } else if ("slice" in m) {
    work(m.slice).then(
      (result) => {
        reply({ result });
        // What this slice made is garbage now: collect it before the next, so memory stays one slice's.
        (globalThis as { gc?: () => void }).gc?.();
      },
      (e: unknown) => reply({ error: e instanceof Error ? e.message : String(e) }),
    );
  } else process.disconnect();
});
