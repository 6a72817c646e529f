import * as pulumi from "@pulumi/pulumi";
import * as settingsRuntime from "@pulumi/pulumi/runtime/settings";
import { fakeCloud, type FakeCloudContext } from "./fake-cloud";

/** One resource the program registered, as the engine saw it. */
export interface RecordedResource {
  urn: string;
  /** The id the (fake) cloud gave it; empty for components. */
  id: string;
  type: string;
  name: string;
  parent?: string;
  custom: boolean;
  /** Inputs with every secret value replaced by SECRET_MASK. */
  inputs: Record<string, unknown>;
  /** Dotted paths of inputs that were secret. */
  secretInputs: string[];
  /** Outputs the fake cloud returned (unmasked: for tests, never printed). */
  state: Record<string, unknown>;
  retainOnDelete: boolean;
  protect: boolean;
  additionalSecretOutputs: string[];
  ignoreChanges: string[];
  dependencies: string[];
  /** The cloud id of a resource adopted with the `import` option. */
  importId?: string;
  /** A read of an existing resource (a StackReference), not one this stack manages. */
  read?: boolean;
}

export const SECRET_MASK = "[secret]";

const SIG = pulumi.runtime.specialSigKey;
const SECRET_SIG = pulumi.runtime.specialSecretSig;

function isSecretValue(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG] === SECRET_SIG;
}

/** Replace secret wrappers by the mask, collecting their paths. */
export function maskSecrets(value: unknown, path = "", found: string[] = []): unknown {
  if (isSecretValue(value)) {
    found.push(path || "(root)");
    return SECRET_MASK;
  }
  if (Array.isArray(value)) return value.map((v, i) => maskSecrets(v, `${path}[${i}]`, found));
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, maskSecrets(v, path ? `${path}.${k}` : k, found)]));
  }
  return value;
}

interface MonitorLike {
  registerResource(req: any, callback: (err: any, resp: any) => void): Promise<void>;
  readResource(req: any, callback: (err: any, resp: any) => void): Promise<void>;
  resources: Map<string, { urn: string; id: string | null; state: any }>;
  newUrn(parent: string | undefined, type: string, name: string): string;
}

export interface MockRunOptions {
  project: string;
  stack: string;
  cloud: FakeCloudContext;
  /**
   * Keep full, source-mapped stack traces while the program runs. Off by default: the SDK
   * captures `new Error().stack` for every promise it tracks, and that capture (source-mapped
   * under tsx) is most of the time a plan takes. Set INTAKE_PLAN_STACKS=1 to debug a program.
   */
  stacks?: boolean;
}

/**
 * Turn off stack capture for the duration of a run; returns the function that restores it. The
 * SDK also takes every resource's call stack (raising the limit itself) for the source position
 * it sends the engine; the mock engine drops it, so the stack is not formatted (when
 * INTAKE_PLAN_STACKS=1 is not set).
 */
/**
 * What the SDK does per registration for a real deployment that a plan does not use, switched off
 * while a plan runs: each of its promises wrapped for its leak report at exit (three properties,
 * a set entry and two more promises each), and each resource's source position and stack trace
 * taken from a full `new Error().stack` (with no frame limit) for the engine's diagnostics. Tens
 * of thousands of registrations make both a fifth of a plan's time. Returns the restore.
 */
function planShortcuts(): () => void {
  const debuggable = require("@pulumi/pulumi/runtime/debuggable") as { debuggablePromise: <T>(p: Promise<T>, ctx: unknown) => Promise<T> };
  const resource = pulumi.Resource as unknown as { stackTrace: (skip: number) => unknown[] };
  const promise = debuggable.debuggablePromise;
  const stackTrace = resource.stackTrace;
  debuggable.debuggablePromise = (p) => p;
  resource.stackTrace = () => [];
  return () => {
    debuggable.debuggablePromise = promise;
    resource.stackTrace = stackTrace;
  };
}

function quietStacks(): () => void {
  const limit = Error.stackTraceLimit;
  const prepare = Error.prepareStackTrace;
  const sourceMaps = (process as { sourceMapsEnabled?: boolean }).sourceMapsEnabled;
  Error.stackTraceLimit = 0;
  Error.prepareStackTrace = () => "";
  process.setSourceMapsEnabled(false);
  return () => {
    Error.stackTraceLimit = limit;
    Error.prepareStackTrace = prepare;
    if (sourceMaps !== undefined) process.setSourceMapsEnabled(sourceMaps);
  };
}

/**
 * Run `fn` (which declares resources) under the Pulumi SDK's mock engine with the fake cloud,
 * wait until every registration has settled, and return what was registered. Invokes are
 * refused: the program must not depend on reading the cloud.
 */
export async function runUnderMocks<T>(fn: () => T | Promise<T>, opts: MockRunOptions): Promise<{ result: T; resources: RecordedResource[] }> {
  const newResource = fakeCloud(opts.cloud);
  await pulumi.runtime.setMocks(
    {
      newResource,
      call: (args) => {
        throw new Error(`the offline plan has no fake for invoke ${args.token}: the program must not read the cloud`);
      },
    },
    opts.project,
    opts.stack,
    false,
    // The file backend's organization, so a program may name its own stack (a StackReference to itself).
    "organization",
  );
  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
  // The SDK's mock monitor qualifies a child's type with its parent's last type only; the engine
  // keeps the whole chain (`A$B$C`), so grandchildren got URNs `pulumi up` never gives them.
  monitor.newUrn = (parent, type, name) => {
    const parentType = parent ? parent.split("::")[2] : undefined;
    const qualified = parentType && parentType !== "pulumi:pulumi:Stack" ? `${parentType}$${type}` : type;
    return `urn:pulumi:${opts.stack}::${opts.project}::${qualified}::${name}`;
  };
  const recorded: RecordedResource[] = [];
  const failures: unknown[] = [];
  const original = monitor.registerResource.bind(monitor);
  monitor.registerResource = (req: any, callback) =>
    original(req, (err, resp) => {
      try {
        if (err) failures.push(err);
        else record(req, resp);
      } catch (e) {
        failures.push(e);
      }
      callback(err, resp);
    });
  // Reads (a StackReference) are recorded too, marked as such: they are not resources this stack manages.
  const originalRead = monitor.readResource.bind(monitor);
  monitor.readResource = (req: any, callback) =>
    originalRead(req, (err, resp) => {
      try {
        if (err) failures.push(err);
        else
          recorded.push({
            urn: resp.getUrn(),
            id: req.getId() ?? "",
            type: req.getType(),
            name: req.getName(),
            parent: req.getParent() || undefined,
            custom: true,
            read: true,
            inputs: maskSecrets(pulumi.runtime.deserializeProperties(req.getProperties(), true), "", []) as Record<string, unknown>,
            secretInputs: [],
            state: unwrapSecrets(pulumi.runtime.deserializeProperties(resp.getProperties(), true)) as Record<string, unknown>,
            retainOnDelete: false,
            protect: false,
            additionalSecretOutputs: [],
            ignoreChanges: [],
            dependencies: [],
          });
      } catch (e) {
        failures.push(e);
      }
      callback(err, resp);
    });
  const record = (req: any, resp: any) => {
    {
        const urn: string = resp.getUrn();
        const secretInputs: string[] = [];
        const inputs = maskSecrets(pulumi.runtime.deserializeProperties(req.getObject(), true), "", secretInputs) as Record<string, unknown>;
        const stored = monitor.resources.get(urn);
        recorded.push({
          urn,
          id: resp.getId() ?? "",
          type: req.getType(),
          name: req.getName(),
          parent: req.getParent() || undefined,
          custom: req.getCustom(),
          inputs,
          secretInputs,
          state: stored ? (unwrapSecrets(stored.state) as Record<string, unknown>) : {},
          retainOnDelete: req.getRetainondelete?.() ?? false,
          ...(req.getImportid?.() ? { importId: req.getImportid() } : {}),
          protect: req.getProtect?.() ?? false,
          additionalSecretOutputs: req.getAdditionalsecretoutputsList?.() ?? [],
          ignoreChanges: req.getIgnorechangesList?.() ?? [],
          dependencies: req.getDependenciesList?.() ?? [],
        });
    }
  };

  const rejections: unknown[] = [];
  // An Output that rejects (an apply that throws) leaves its resource waiting forever: fail
  // the run at the first such rejection instead of waiting for a registration that never comes.
  let failFast: (e: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (failFast = reject));
  failed.catch(() => {});
  const onRejection = (reason: unknown) => {
    rejections.push(reason);
    failFast(reason);
  };
  process.on("unhandledRejection", onRejection);
  // INTAKE_PLAN_STACKS=1 (debugging the program): stack traces, source positions and the SDK's promise wrapping as under the engine.
  const debugging = opts.stacks ?? process.env.INTAKE_PLAN_STACKS === "1";
  const restoreStacks = debugging ? () => {} : quietStacks();
  const restoreShortcuts = debugging ? () => {} : planShortcuts();
  try {
    let result: T;
    try {
      result = await Promise.race([fn(), failed]);
    } finally {
      // Even when the program throws part-way, let what it registered settle on this engine,
      // so none of it lands on the next one.
      await Promise.race([waitForRegistrations(), failed]);
    }
    const errors = [...failures, ...rejections];
    if (errors.length > 0) throw errors[0] instanceof Error ? errors[0] : new Error(String(errors[0]));
    return { result, resources: recorded };
  } finally {
    restoreStacks();
    restoreShortcuts();
    process.off("unhandledRejection", onRejection);
  }
}

function unwrapSecrets(v: unknown): unknown {
  if (isSecretValue(v)) return unwrapSecrets(v.value);
  if (Array.isArray(v)) return v.map(unwrapSecrets);
  if (typeof v === "object" && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrapSecrets(x)]));
  return v;
}

/** The SDK's own "RPC queue drained" barrier (the one `disconnect` waits on). */
async function waitForRegistrations(): Promise<void> {
  const wait = (settingsRuntime as unknown as { waitForRPCs?: () => Promise<void> }).waitForRPCs;
  if (typeof wait !== "function") throw new Error("this @pulumi/pulumi version has no waitForRPCs; pin the version in package.json");
  await wait();
}
