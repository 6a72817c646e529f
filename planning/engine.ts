import * as pulumi from "@pulumi/pulumi";
import { isGrpcError } from "@pulumi/pulumi/errors";
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

type Struct = Parameters<typeof pulumi.runtime.deserializeProperties>[0];

/** What the SDK reads of a protobuf Struct (deserializeProperties calls toJavaScript only), over a plain value. */
function asStruct(value: unknown): Struct {
  return { toJavaScript: () => value } as unknown as Struct;
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
 * What the SDK does per registration for a real deployment that a plan does not use, switched off
 * while a plan runs (INTAKE_PLAN_STACKS=1 keeps all of it, to debug a program):
 * - each of its promises wrapped for its leak report at exit (three properties, a set entry and
 *   two more promises each);
 * - each resource's source position and stack trace, taken from a full `new Error().stack` (with
 *   no frame limit) for the engine's diagnostics;
 * - the aliases a provider SDK merges into every resource's options for its own type under the
 *   names of older API versions (`{ type }` only: azure-native gives each ACR ScopeMap and Token
 *   twenty), which the engine uses to find state saved under those names. A plan has no state and
 *   records no aliases, and each one costs the SDK a URN built of Outputs and a wait per
 *   registration: half the time of a plan with ACR customers. Aliases the program itself gives
 *   a resource are kept (they come in the provider's first merge, its own in the second);
 * - one Output per property of every resource made at once, though a program reads few of them
 *   (lazyTransferProperties below makes each on first read).
 * Tens of thousands of registrations make the first two a fifth of a plan's time. Returns the
 * restore; test/plan-shortcuts.test.ts checks that a plan is the same with and without them.
 */
function planShortcuts(): () => void {
  const debuggable = require("@pulumi/pulumi/runtime/debuggable") as { debuggablePromise: <T>(p: Promise<T>, ctx: unknown) => Promise<T> };
  const rpc = require("@pulumi/pulumi/runtime/rpc") as { transferProperties: TransferProperties };
  const transferProperties = rpc.transferProperties;
  rpc.transferProperties = lazyTransferProperties;
  const resource = pulumi.Resource as unknown as { stackTrace: (skip: number) => unknown[] };
  // The CommonJS exports, which the provider SDKs call mergeOptions on (an ES namespace of them is read-only).
  const sdk = require("@pulumi/pulumi") as { mergeOptions: typeof pulumi.mergeOptions };
  const promise = debuggable.debuggablePromise;
  const stackTrace = resource.stackTrace;
  const mergeOptions = sdk.mergeOptions;
  debuggable.debuggablePromise = (p) => p;
  resource.stackTrace = () => [];
  // A provider SDK's constructor merges twice: its defaults with the program's options, then that
  // result with its own aliases. Only the second call's aliases are dropped (opts1 is a merge's
  // result): the program's own, even type-only, go through.
  const merged = new WeakSet<object>();
  sdk.mergeOptions = ((opts1: pulumi.ResourceOptions | undefined, opts2: pulumi.ResourceOptions | undefined) => {
    const out = mergeOptions(opts1, opts1 && merged.has(opts1) && typeAliasesOnly(opts2) ? {} : opts2);
    if (out && typeof out === "object") merged.add(out);
    return out;
  }) as typeof pulumi.mergeOptions;
  return () => {
    rpc.transferProperties = transferProperties;
    debuggable.debuggablePromise = promise;
    resource.stackTrace = stackTrace;
    sdk.mergeOptions = mergeOptions;
  };
}

type Resolver = (value: unknown, isKnown: boolean, isSecret: boolean, deps?: unknown[], err?: Error) => void;
type TransferProperties = (onto: Record<string, unknown>, label: string, props: Record<string, unknown>) => Record<string, Resolver>;

/**
 * The SDK's transferProperties (runtime/rpc.ts), which gives a new resource one Output per
 * property of its type (about fifty for a GitHub repository, most of them outputs of the cloud's
 * that the program never reads), each made of four pending promises and resolved when the
 * registration answers. Here a property is an accessor that makes its Output on first read,
 * pending until the answer or made from it: the same Output for whoever reads it, a quarter less
 * of a plan's time. What the answer carries is kept for a later read; a failed registration makes
 * the Output at once, rejected; an error the SDK ignores (a gRPC one, the engine shutting down)
 * still leaves the Output pending.
 */
function lazyTransferProperties(onto: Record<string, unknown>, label: string, props: Record<string, unknown>): Record<string, Resolver> {
  const resolvers: Record<string, Resolver> = {};
  for (const key of Object.keys(props)) {
    if (key === "id" || key === "urn") continue;
    if (Object.prototype.hasOwnProperty.call(onto, key)) throw new Error(`Property '${key}' is already initialized on target '${label}`);
    let answer: { value: unknown; isKnown: boolean; isSecret: boolean; deps: unknown[]; err?: Error } | undefined;
    let output: unknown;
    let pending: { resolve: (v: unknown) => void; reject: (e: Error) => void }[] | undefined;
    const read = () => {
      if (output) return output;
      let parts: Promise<unknown>[];
      if (answer) {
        const a = answer;
        parts = a.err ? [0, 1, 2, 3].map(() => Promise.reject(a.err)) : [a.value, a.isKnown, a.isSecret, a.deps].map((v) => Promise.resolve(v));
      } else {
        pending = [];
        parts = [0, 1, 2, 3].map(() => new Promise((resolve, reject) => pending!.push({ resolve, reject })));
      }
      const [value, isKnown, isSecret, deps] = parts;
      output = new (pulumi.Output as unknown as new (...args: unknown[]) => unknown)(onto, value, isKnown, isSecret, deps);
      return output;
    };
    Object.defineProperty(onto, key, { get: read, enumerable: true, configurable: true });
    resolvers[key] = (value, isKnown, isSecret, deps = [], err) => {
      if (err && isGrpcError(err)) return;
      answer = { value, isKnown, isSecret, deps, err };
      // A failed registration rejects now, as the SDK's Output does (its rejections reach the run's
      // fail-fast, not a read after the run).
      if (err && !output) read();
      if (!pending) return;
      if (err) for (const p of pending) p.reject(err);
      else [value, isKnown, isSecret, deps].forEach((v, i) => pending![i].resolve(v));
    };
  }
  return resolvers;
}

/** Options that are nothing but aliases of another type name: what provider SDKs merge in. */
export function typeAliasesOnly(opts: pulumi.ResourceOptions | undefined): boolean {
  if (!opts || Object.keys(opts).length !== 1 || !Array.isArray(opts.aliases) || opts.aliases.length === 0) return false;
  return opts.aliases.every((a) => typeof a === "object" && a !== null && !pulumi.Output.isInstance(a) && Object.keys(a).length === 1 && typeof (a as { type?: unknown }).type === "string");
}

/**
 * Turn off stack capture for the duration of a run; returns the function that restores it. The
 * SDK also takes every resource's call stack (raising the limit itself) for the source position
 * it sends the engine; the mock engine drops it, so the stack is not formatted.
 */
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
  // INTAKE_PLAN_STACKS=1 (debugging the program): stack traces, source positions, the SDK's
  // promise wrapping and its mock monitor as they are (test/plan-shortcuts.test.ts compares).
  const debugging = opts.stacks ?? process.env.INTAKE_PLAN_STACKS === "1";
  const sdkRegister = monitor.registerResource.bind(monitor);
  // The mock monitor's registration, with the recording, in one pass: the request's Struct is read
  // once (the SDK's mock reads it for the fake cloud, the recording read it again), and the answer
  // is no protobuf message for the SDK to read back but an object with the getters it calls (as
  // the SDK's own engine-less answer is), over the serialized state in the order a Struct gives it.
  const fastRegister = async (req: any, callback: (err: any, resp: any) => void) => {
    try {
      const struct = asStruct(req.getObject().toJavaScript());
      const id = req.getImportid();
      const result = await newResource({
        type: req.getType(),
        name: req.getName(),
        inputs: pulumi.runtime.deserializeProperties(struct),
        provider: req.getProvider(),
        custom: req.getCustom(),
        id,
      });
      const urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
      const state = await pulumi.runtime.serializeProperties("", result.state);
      monitor.resources.set(urn, { urn, id: result.id ?? null, state });
      try {
        record(req, struct, urn, result.id ?? "", state);
      } catch (e) {
        failures.push(e);
      }
      const properties = asStruct(structOrder(state));
      callback(null, { getUrn: () => urn, getId: () => result.id || "", getObject: () => properties, getPropertydependenciesMap: () => undefined, getResult: () => 0 });
    } catch (e) {
      failures.push(e);
      callback(e, undefined);
    }
  };
  // The SDK's own, recorded from its protobuf request and answer.
  const sdkRecordedRegister = (req: any, callback: (err: any, resp: any) => void) =>
    sdkRegister(req, (err, resp) => {
      try {
        if (err) failures.push(err);
        else record(req, req.getObject(), resp.getUrn(), resp.getId() ?? "", monitor.resources.get(resp.getUrn())?.state ?? {});
      } catch (e) {
        failures.push(e);
      }
      callback(err, resp);
    });
  monitor.registerResource = debugging ? sdkRecordedRegister : fastRegister;
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
  const record = (req: any, struct: Struct, urn: string, id: string, state: Record<string, unknown>) => {
    const secretInputs: string[] = [];
    const inputs = maskSecrets(pulumi.runtime.deserializeProperties(struct, true), "", secretInputs) as Record<string, unknown>;
    recorded.push({
      urn,
      id,
      type: req.getType(),
      name: req.getName(),
      parent: req.getParent() || undefined,
      custom: req.getCustom(),
      inputs,
      secretInputs,
      state: unwrapSecrets(state) as Record<string, unknown>,
      retainOnDelete: req.getRetainondelete?.() ?? false,
      ...(req.getImportid?.() ? { importId: req.getImportid() } : {}),
      protect: req.getProtect?.() ?? false,
      additionalSecretOutputs: req.getAdditionalsecretoutputsList?.() ?? [],
      ignoreChanges: req.getIgnorechangesList?.() ?? [],
      dependencies: req.getDependenciesList?.() ?? [],
    });
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
  let restoreStacks = () => {};
  let restoreShortcuts = () => {};
  try {
    // Inside the try: a patch that fails (an SDK that moved a module) undoes the others.
    if (!debugging) {
      restoreStacks = quietStacks();
      restoreShortcuts = planShortcuts();
    }
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

/**
 * A value as a protobuf Struct gives it back: every object's keys sorted (its fields are a map
 * that iterates in key order), lists as they are. The engine's answers come that way, so a program
 * that lists an output object's keys sees them in that order under the plan as under `pulumi up`.
 */
function structOrder(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(structOrder);
  if (typeof v === "object" && v !== null) {
    const o = v as Record<string, unknown>;
    return Object.fromEntries(Object.keys(o).sort().map((k) => [k, structOrder(o[k])]));
  }
  return v;
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
