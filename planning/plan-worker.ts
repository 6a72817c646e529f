// One worker of a parallel plan (planning/parallel.ts): declares the platform and one slice of
// the customers under its own mock engine, and sends back that slice's registrations, its
// customers and their access-list entries.
import type { FromWorker, ToWorker, WorkerResult, WorkerStack } from "./parallel";
import { deferSdkClosureModules } from "./sdk-modules";
import { noticesTo, type LeftOff } from "./shortcuts";

// Before the SDK loads (the imports below are dynamic for that reason).
deferSdkClosureModules();

async function modules() {
  const pulumi = await import("@pulumi/pulumi");
  const { program } = await import("../program.js");
  const { runUnderMocks } = await import("./engine.js");
  const [{ mockOptions }, { ownerOf }] = await Promise.all([import("./mock-options.js"), import("./plan.js")]);
  return { pulumi, program, runUnderMocks, mockOptions, ownerOf };
}
// Loaded while the stack is on its way. A failure (the program or the SDK not loading) ends the
// worker with its stack on stderr, which the parent shows with the slice it was given.
const loaded = modules();
loaded.catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});

let stack: WorkerStack | undefined;
// What the plan has to tell the user goes back with the slice, for the planning process to say once.
let notices: LeftOff[] = [];
noticesTo((left) => notices.push(left));
/** What this worker left off since its last answer, for the planning process to say once. */
function takeNotices(): LeftOff[] {
  const told = notices;
  notices = [];
  return told;
}
let configured = false;

async function work(customers: string[]): Promise<WorkerResult> {
  const { pulumi, program, runUnderMocks, mockOptions, ownerOf } = await loaded;
  const task = stack!;
  if (task.config && !configured) pulumi.runtime.setAllConfig(task.config.values, task.config.secretKeys);
  configured = true;
  const mine = new Set(customers);
  const { result, resources } = await runUnderMocks(
    () => program(task.settings, task.roster, task.keptList, { customers: mine, stackWide: false }),
    mockOptions(task.settings, task.keptList),
  );
  // This slice's customers' registrations: the platform is declared again by the process that merges.
  const customerOf = ownerOf(new Map(resources.map((r) => [r.urn, r])));
  const ours = (r: (typeof resources)[number]) => mine.has(customerOf(r) ?? "");
  const aclEntries: WorkerResult["aclEntries"] = [];
  for (const c of result.customers) {
    if (!c.aclEntry) continue;
    const entry = c.aclEntry;
    const value = await new Promise<unknown>((resolve) => entry.apply((v) => resolve(v)));
    aclEntries.push([c.customerId, { value, secret: await pulumi.isSecret(entry) }]);
  }
  return {
    notices: takeNotices(),
    recorded: resources.filter((r) => !r.read && ours(r)),
    customers: result.customers.map(({ customerId, state, kinds }) => ({ customerId, state, kinds })),
    aclEntries,
  };
}

const reply = (m: FromWorker) => process.send!(m);

process.on("message", (m: ToWorker) => {
  if ("stack" in m) {
    stack = m.stack;
  } else if ("slice" in m) {
    work(m.slice).then(
      (result) => reply({ result }),
      (e: unknown) => reply({ error: e instanceof Error ? e.message : String(e), notices: takeNotices() }),
    );
  } else process.disconnect();
});
