import Module from "node:module";
import * as path from "node:path";

/**
 * Modules the Pulumi SDK loads at start for function serialization (closures of dynamic providers
 * and callback functions): TypeScript's compiler (about 9 MB of JavaScript) and, in SDKs before
 * 3.276 (3.248 had it, 3.276 does not), npm's Arborist with its dependencies. Nothing the CLI and
 * the offline plan run serializes a function, yet they were most of the SDK's load time: about
 * 0.5 s of every process that loads it, the CLI's and each plan worker's. A module this SDK does
 * not load is left alone. `__esModule` is what the importer's interop helper asks first: Arborist is
 * imported with `__importStar`, which walks every key of a CommonJS module (and so would load it)
 * but takes an ES module's namespace as it is; the shim is required plainly.
 */
const DEFERRED: { request: string; esModule: boolean }[] = [
  { request: "./typescript-shim.js", esModule: false },
  { request: "@npmcli/arborist", esModule: true },
];

/**
 * Put a stand-in for each module above in Node's module cache, so that loading the SDK does not
 * load them; the first use of one (a property read, a call, `new`) loads the real module and
 * forwards to it from then on, so the SDK behaves as before, only later. Runs before the first
 * load of `@pulumi/pulumi` in the process (the commands that load it, plan, policy, shards,
 * onboard and offboard, and the plan worker call it first);
 * after that, or where a module is not where this SDK version keeps it, it leaves things as they are.
 */
export function deferSdkClosureModules(): void {
  let sdk: string;
  try {
    sdk = path.dirname(require.resolve("@pulumi/pulumi/package.json"));
  } catch {
    return;
  }
  if (require.cache[path.join(sdk, "index.js")]) return;
  for (const { request, esModule } of DEFERRED) {
    let file: string;
    try {
      file = require.resolve(request, { paths: [sdk] });
    } catch {
      continue;
    }
    if (require.cache[file]) continue;
    require.cache[file] = standIn(file, esModule);
  }
}

function standIn(file: string, esModule: boolean): Module {
  let real: object | undefined;
  const load = (): object => {
    if (!real) {
      delete require.cache[file];
      real = require(file) as object;
    }
    return real;
  };
  // A bound function as the target: callable and constructible like a module that is a class,
  // and without an own `prototype` (a plain function's is not configurable, which a proxy must
  // then report whatever the module has). `typeof` the stand-in is "function" whatever the module is.
  const exports = new Proxy(function deferred() {}.bind(null), {
    get: (_, key) => (key === "__esModule" ? esModule || Reflect.get(load(), key) : Reflect.get(load(), key)),
    has: (_, key) => Reflect.has(load(), key),
    ownKeys: () => Reflect.ownKeys(load()),
    getOwnPropertyDescriptor: (_, key) => {
      const d = Reflect.getOwnPropertyDescriptor(load(), key);
      // A proxy may not report a property as non-configurable that its own target lacks.
      return d && { ...d, configurable: true };
    },
    set: (_, key, value) => Reflect.set(load(), key, value),
    defineProperty: (_, key, d) => Reflect.defineProperty(load(), key, d),
    deleteProperty: (_, key) => Reflect.deleteProperty(load(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(load()),
    apply: (_, self, args) => Reflect.apply(load() as (...a: unknown[]) => unknown, self, args),
    construct: (_, args) => Reflect.construct(load() as new (...a: unknown[]) => object, args),
  });
  const m = new Module(file);
  m.filename = file;
  m.loaded = true;
  m.exports = exports;
  return m;
}
