import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { isGrpcError } from "@pulumi/pulumi/errors";
import * as settingsRuntime from "@pulumi/pulumi/runtime/settings";
import { fakeCloud, type FakeCloudContext } from "./fake-cloud";
import { fnShape, leaveOff, shortcutOn, usable, writableShape, type ShortcutName } from "./shortcuts";

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

const SECRET_MASK = "[secret]";

const SIG = pulumi.runtime.specialSigKey;
const SECRET_SIG = pulumi.runtime.specialSecretSig;

function isSecretValue(v: unknown): v is { value: unknown } {
  return typeof v === "object" && v !== null && (v as Record<string, unknown>)[SIG] === SECRET_SIG;
}

/** Replace secret wrappers by the mask, collecting their paths. */
function maskSecrets(value: unknown, path = "", found: string[] = []): unknown {
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
 * while a plan runs (INTAKE_PLAN_STACKS=1 keeps all of it, to debug a program; INTAKE_PLAN_SHORTCUTS_OFF
 * names some to keep):
 * - no-promise-tracking: each of its promises wrapped for its leak report at exit (three
 *   properties, a set entry and two more promises each: runtime/debuggable.ts debuggablePromise);
 * - no-stack-traces: each resource's source position and stack trace, taken from a full
 *   `new Error().stack` (with no frame limit) for the engine's diagnostics (resource.ts
 *   Resource.stackTrace, called by the Resource constructor);
 * - no-provider-aliases: the aliases a provider SDK merges into every resource's options for its
 *   own type under the names of older API versions (`{ type }` only: azure-native gives each ACR
 *   ScopeMap and Token twenty), which the engine uses to find state saved under those names. A plan
 *   has no state and records no aliases, and each one costs the SDK a URN built of Outputs and a
 *   wait per registration: half the time of a plan with ACR customers. Aliases the program itself
 *   gives a resource are kept (they come in the provider's first merge, its own in the second;
 *   resource.ts mergeOptions);
 * - lazy-properties: one Output per property of every resource made at once, though a program reads
 *   few of them (lazyTransferProperties below makes each on first read; runtime/rpc.ts
 *   transferProperties, called by runtime/resource.ts prepareResource).
 * Each is checked against the installed SDK once per process (planning/shortcuts.ts) and left off,
 * with one warning line, where the SDK no longer has the shape it relies on; the SDK's own path
 * then runs. Returns the restore; test/unit/planning/shortcuts.test.ts checks that a plan is the same with
 * and without them, and with each one's shape planted away.
 */
function planShortcuts(): () => void {
  const restores: (() => void)[] = [];
  const restore = () => {
    for (const r of restores.splice(0).reverse()) r();
  };
  const install = (name: ShortcutName, shape: () => string | undefined, patch: () => () => void) => {
    if (!usable(name, shape)) return;
    try {
      restores.push(patch());
    } catch (e) {
      leaveOff(name, `installing it threw ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  try {
    install("quiet-stacks", () => fnShape(process.setSourceMapsEnabled, 1, "process.setSourceMapsEnabled"), quietStacks);

    const debuggable = sdkModule<{ debuggablePromise: <T>(p: Promise<T>, ctx: unknown) => Promise<T> }>("runtime/debuggable");
    install(
      "no-promise-tracking",
      () =>
        missing(debuggable, "runtime/debuggable") ??
        fnShape(debuggable!.debuggablePromise, 2, "runtime/debuggable debuggablePromise(p, ctx)") ??
        writableShape(debuggable!, "debuggablePromise", "debuggablePromise"),
      () => {
        const promise = debuggable!.debuggablePromise;
        debuggable!.debuggablePromise = (p) => p;
        return () => void (debuggable!.debuggablePromise = promise);
      },
    );

    const resource = pulumi.Resource as unknown as { stackTrace: (skip: number) => unknown[] };
    install(
      "no-stack-traces",
      () => fnShape(resource.stackTrace, 1, "Resource.stackTrace(skip)") ?? writableShape(resource, "stackTrace", "Resource.stackTrace"),
      () => {
        const stackTrace = resource.stackTrace;
        resource.stackTrace = () => [];
        return () => void (resource.stackTrace = stackTrace);
      },
    );

    // The CommonJS exports, which the provider SDKs call mergeOptions on (an ES namespace of them is read-only).
    const sdk = require("@pulumi/pulumi") as { mergeOptions: typeof pulumi.mergeOptions };
    install(
      "no-provider-aliases",
      () => fnShape(sdk.mergeOptions, 2, "mergeOptions(opts1, opts2)") ?? writableShape(sdk, "mergeOptions", "the export mergeOptions"),
      () => {
        const mergeOptions = sdk.mergeOptions;
        // A provider SDK's constructor merges twice: its defaults with the program's options, then that
        // result with its own aliases. Only the second call's aliases are dropped (opts1 is a merge's
        // result): the program's own, even type-only, go through.
        const merged = new WeakSet<object>();
        sdk.mergeOptions = ((opts1: pulumi.ResourceOptions | undefined, opts2: pulumi.ResourceOptions | undefined) => {
          let drop = false;
          if (shortcutOn("no-provider-aliases")) {
            try {
              drop = !!opts1 && merged.has(opts1) && typeAliasesOnly(opts2);
            } catch (e) {
              leaveOff("no-provider-aliases", `it threw ${e instanceof Error ? e.message : String(e)}`);
            }
          }
          const out = mergeOptions(opts1, drop ? {} : opts2);
          if (out && typeof out === "object") merged.add(out);
          return out;
        }) as typeof pulumi.mergeOptions;
        return () => void (sdk.mergeOptions = mergeOptions);
      },
    );

    const rpc = sdkModule<{ transferProperties: TransferProperties }>("runtime/rpc");
    install(
      "lazy-properties",
      () =>
        missing(rpc, "runtime/rpc") ??
        fnShape(rpc!.transferProperties, 3, "runtime/rpc transferProperties(onto, label, props)") ??
        writableShape(rpc!, "transferProperties", "transferProperties") ??
        // The Output it makes: new Output(resources, promise, isKnown, isSecret, allResources).
        fnShape(pulumi.Output, 5, "new Output(resources, promise, isKnown, isSecret, allResources)") ??
        lazyPropertiesShape(rpc!.transferProperties),
      () => {
        const transferProperties = rpc!.transferProperties;
        rpc!.transferProperties = (onto, label, props) => {
          // A property already there is the SDK's own error, which its own function throws.
          const clash = Object.keys(props).some((key) => key !== "id" && key !== "urn" && Object.prototype.hasOwnProperty.call(onto, key));
          if (shortcutOn("lazy-properties") && !clash) {
            try {
              return lazyTransferProperties(onto, label, props);
            } catch (e) {
              // What it defined is taken back: the SDK's own starts from the same resource.
              leaveOff("lazy-properties", `it threw ${e instanceof Error ? e.message : String(e)}`);
            }
          }
          return transferProperties(onto, label, props);
        };
        return () => void (rpc!.transferProperties = transferProperties);
      },
    );
  } catch (e) {
    // Whatever was patched before an unexpected error is undone: the run fails as the SDK would.
    restore();
    throw e;
  }
  return restore;
}

/** A module of the installed SDK by its path inside the package, or undefined where it has none. */
function sdkModule<T>(rel: string): T | undefined {
  try {
    return require(`@pulumi/pulumi/${rel}`) as T;
  } catch {
    return undefined;
  }
}

function missing(mod: unknown, rel: string): string | undefined {
  return mod === undefined ? `@pulumi/pulumi/${rel} cannot be loaded` : undefined;
}

/**
 * lazy-properties against the SDK's own transferProperties, on a scratch object each: the same
 * properties, each an Output of the same make, and resolvers of the same arity (value, isKnown,
 * isSecret, deps = [], err). Both are resolved at once, so nothing is left pending for the SDK's
 * leak report.
 */
function lazyPropertiesShape(sdkTransfer: TransferProperties): string | undefined {
  const props = { a: undefined, b: undefined };
  const theirs: Record<string, unknown> = {};
  const ours: Record<string, unknown> = {};
  const theirResolvers = sdkTransfer(theirs, "shape", props);
  const ourResolvers = lazyTransferProperties(ours, "shape", props);
  for (const r of [...Object.values(theirResolvers), ...Object.values(ourResolvers)]) r("v", true, false, []);
  if (Object.keys(theirs).join() !== Object.keys(ours).join())
    return `transferProperties defines ${Object.keys(theirs).join(", ")}, the shortcut ${Object.keys(ours).join(", ")}`;
  const [theirOutput, ourOutput] = [theirs.a, ours.a];
  if (!pulumi.Output.isInstance(theirOutput)) return "transferProperties no longer makes an Output per property";
  if (!pulumi.Output.isInstance(ourOutput) || Object.getPrototypeOf(theirOutput) !== Object.getPrototypeOf(ourOutput))
    return "the Output the shortcut makes is not the SDK's";
  if (theirResolvers.a.length !== ourResolvers.a.length)
    return `transferProperties' resolvers take ${theirResolvers.a.length} arguments, not ${ourResolvers.a.length}`;
  return undefined;
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
function lazyTransferProperties(onto: Record<string, unknown>, _label: string, props: Record<string, unknown>): Record<string, Resolver> {
  const resolvers: Record<string, Resolver> = {};
  const defined: string[] = [];
  try {
    for (const key of Object.keys(props)) {
      if (key === "id" || key === "urn") continue;
      defineLazy(onto, key, resolvers);
      defined.push(key);
    }
  } catch (e) {
    for (const key of defined) delete onto[key];
    throw e;
  }
  return resolvers;
}

function defineLazy(onto: Record<string, unknown>, key: string, resolvers: Record<string, Resolver>): void {
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

/** Options that are nothing but aliases of another type name: what provider SDKs merge in. */
export function typeAliasesOnly(opts: pulumi.ResourceOptions | undefined): boolean {
  if (!opts || Object.keys(opts).length !== 1 || !Array.isArray(opts.aliases) || opts.aliases.length === 0) return false;
  return opts.aliases.every(
    (a) =>
      typeof a === "object" && a !== null && !pulumi.Output.isInstance(a) && Object.keys(a).length === 1 && typeof (a as { type?: unknown }).type === "string",
  );
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
  // INTAKE_PLAN_STACKS=1 (debugging the program): stack traces, source positions, the SDK's
  // promise wrapping and its mock monitor as they are (test/unit/planning/shortcuts.test.ts compares).
  const debugging = opts.stacks ?? process.env.INTAKE_PLAN_STACKS === "1";
  const { recorded, failures } = recordRegistrations(monitor, newResource, debugging);

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
  let restoreShortcuts = () => {};
  try {
    // Inside the try: a patch that fails (an SDK that moved a module) undoes the others.
    if (!debugging) {
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
    restoreShortcuts();
    process.off("unhandledRejection", onRejection);
  }
}

type Register = (req: any, callback: (err: any, resp: any) => void) => Promise<void>;
type RecordFn = (req: any, struct: Struct, urn: string, id: string, state: Record<string, unknown>) => void;

/**
 * Have the mock monitor record every registration and read into `recorded` (failures into
 * `failures`): through the SDK's own registration, or, unless debugging, fast-monitor's one pass.
 */
function recordRegistrations(
  monitor: MonitorLike,
  newResource: ReturnType<typeof fakeCloud>,
  debugging: boolean,
): { recorded: RecordedResource[]; failures: unknown[] } {
  const recorded: RecordedResource[] = [];
  const failures: unknown[] = [];
  const record: RecordFn = (req, struct, urn, id, state) => {
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

  const sdkRegister = monitor.registerResource.bind(monitor);
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
  monitor.registerResource = debugging ? sdkRecordedRegister : fastRegistration(monitor, newResource, record, failures, sdkRecordedRegister);
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
  return { recorded, failures };
}

/** fast-monitor's registration if this SDK has the shape it relies on, else the SDK's own (`fallback`). */
function fastRegistration(
  monitor: MonitorLike,
  newResource: ReturnType<typeof fakeCloud>,
  record: RecordFn,
  failures: unknown[],
  fallback: Register,
): Register {
  // fast-monitor: the mock monitor's registration (runtime/mocks.ts MockMonitor.registerResource),
  // with the recording, in one pass: the request's Struct is read once (the SDK's mock reads it for
  // the fake cloud, the recording read it again), and the answer's object is no protobuf Struct for
  // the SDK to read back but the serialized state itself, in the order a Struct gives it. The answer
  // is the SDK's own RegisterResourceResponse with only getObject replaced, so a field a later SDK
  // asks of it (getUnknown from 3.256) has the protobuf default, as the SDK's mock answer has.
  const answers = sdkModule<{ RegisterResourceResponse: new () => any }>("proto/resource_pb");
  const fast = usable("fast-monitor", () => fastMonitorShape(monitor, answers?.RegisterResourceResponse));
  const fastRegister = async (req: any, callback: (err: any, resp: any) => void) => {
    // A request with transforms (none in this program) or a shortcut left off: the SDK's own.
    if (!shortcutOn("fast-monitor") || req.getTransformsList?.()?.length) return fallback(req, callback);
    let struct: Struct;
    let args: pulumi.runtime.MockResourceArgs;
    try {
      struct = asStruct(req.getObject().toJavaScript());
      args = {
        type: req.getType(),
        name: req.getName(),
        inputs: pulumi.runtime.deserializeProperties(struct),
        provider: req.getProvider(),
        custom: req.getCustom(),
        id: req.getImportid(),
      };
    } catch (e) {
      // Nothing registered yet: the SDK's own takes this request from the start.
      leaveOff("fast-monitor", `reading a registration threw ${e instanceof Error ? e.message : String(e)}`);
      return fallback(req, callback);
    }
    try {
      const result = await newResource(args);
      const urn = monitor.newUrn(req.getParent(), req.getType(), req.getName());
      const state = await pulumi.runtime.serializeProperties("", result.state);
      monitor.resources.set(urn, { urn, id: result.id ?? null, state });
      try {
        record(req, struct, urn, result.id ?? "", state);
      } catch (e) {
        failures.push(e);
      }
      let resp: any;
      try {
        resp = new answers!.RegisterResourceResponse();
        resp.setUrn(urn);
        resp.setId(result.id || "");
        const properties = asStruct(structOrder(state));
        resp.getObject = () => properties;
      } catch (e) {
        // The fake cloud has answered: this registration is finished the SDK's way, not run again.
        leaveOff("fast-monitor", `answering a registration threw ${e instanceof Error ? e.message : String(e)}`);
        resp = sdkAnswer(urn, result.id, state);
      }
      callback(null, resp);
    } catch (e) {
      failures.push(e);
      callback(e, undefined);
    }
  };
  return fast ? fastRegister : fallback;
}

/**
 * What fast-monitor relies on, checked once per process: the mock monitor's registerResource(req,
 * callback), its `resources` map and `newUrn`; an answer the SDK builds with setUrn and setId and
 * reads with getObject; and deserializeProperties reading nothing of a Struct but toJavaScript()
 * (the same value from a real Struct and from a stand-in).
 */
function fastMonitorShape(monitor: MonitorLike, Answer: (new () => any) | undefined): string | undefined {
  const registered = fnShape(monitor.registerResource, 2, "the mock monitor's registerResource(req, callback)");
  if (registered) return registered;
  if (!(monitor.resources instanceof Map)) return "the mock monitor has no resources map";
  if (typeof Answer !== "function") return "proto/resource_pb has no RegisterResourceResponse";
  for (const m of ["setUrn", "setId", "getObject", "getUrn", "getId"])
    if (typeof Answer.prototype[m] !== "function") return `RegisterResourceResponse has no ${m}`;
  const Struct = structClass();
  const sample = { a: "x", n: [1.5, { b: true, z: null }], s: { [SIG]: SECRET_SIG, value: { k: "v" } }, u: pulumi.runtime.unknownValue };
  const viaStruct = JSON.stringify(pulumi.runtime.deserializeProperties(Struct.fromJavaScript(sample), true));
  const viaValue = JSON.stringify(pulumi.runtime.deserializeProperties(asStruct(sample), true));
  if (viaStruct !== viaValue) return "deserializeProperties reads more of a Struct than its value";
  return undefined;
}

/** google-protobuf's Struct, the one the SDK's messages are made of. */
function structClass(): { fromJavaScript(v: unknown): Struct } {
  const sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
  return (require(require.resolve("google-protobuf/google/protobuf/struct_pb", { paths: [sdk] })) as { Struct: { fromJavaScript(v: unknown): Struct } }).Struct;
}

/** The mock monitor's answer as the SDK's own MockMonitor makes it (a real Struct). */
function sdkAnswer(urn: string, id: string | undefined, state: Record<string, unknown>): unknown {
  const { RegisterResourceResponse } = require("@pulumi/pulumi/proto/resource_pb") as { RegisterResourceResponse: new () => any };
  const Struct = structClass();
  const resp = new RegisterResourceResponse();
  resp.setUrn(urn);
  resp.setId(id || "");
  resp.setObject(Struct.fromJavaScript(state));
  return resp;
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
    return Object.fromEntries(
      Object.keys(o)
        .sort()
        .map((k) => [k, structOrder(o[k])]),
    );
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
