/**
 * The bookkeeping of the offline plan's shortcuts through Pulumi SDK internals (planning/engine.ts):
 * which ones this process runs, which it left off and why, and the one warning line a user sees
 * when the installed `@pulumi/pulumi` no longer has the shape a shortcut relies on. A shortcut
 * left off is never an error: the plan takes the SDK's own path there, slower and the same.
 */

/** Every shortcut, by the name its warning and INTAKE_PLAN_SHORTCUTS_OFF use. */
export const SHORTCUTS = ["quiet-stacks", "no-promise-tracking", "no-stack-traces", "no-provider-aliases", "lazy-properties", "fast-monitor"] as const;
export type ShortcutName = (typeof SHORTCUTS)[number];

const leftOff = new Map<ShortcutName, string>();
let sink: ((left: LeftOff) => void) | undefined;

/** The installed SDK's version, as its package.json says. */
export function sdkVersion(): string {
  try {
    return (require("@pulumi/pulumi/package.json") as { version: string }).version;
  } catch {
    return "unknown";
  }
}

/**
 * Shortcuts switched off by the user: INTAKE_PLAN_SHORTCUTS_OFF=name,name (or `all`), to compare
 * or debug; INTAKE_PLAN_STACKS=1 switches off every one. Silent: nothing is wrong.
 */
function offByUser(name: ShortcutName): boolean {
  const raw = process.env.INTAKE_PLAN_SHORTCUTS_OFF ?? "";
  // Read on every call of a patched function: parsed again only when the setting changed.
  if (raw !== userSetting.raw) userSetting = { raw, names: new Set(raw.split(",").map((s) => s.trim())) };
  return userSetting.names.has("all") || userSetting.names.has(name);
}
let userSetting = { raw: "", names: new Set<string>() };

/** Whether a shortcut runs in this process: not switched off by the user, not left off for its shape. */
export function shortcutOn(name: ShortcutName): boolean {
  return !leftOff.has(name) && !offByUser(name);
}

/**
 * Check, once per process, that the SDK has the shape a shortcut relies on: `shape` returns why
 * it has not (a missing function, another arity) or undefined. A shortcut whose check fails or
 * throws is left off, with one warning line.
 */
export function usable(name: ShortcutName, shape: () => string | undefined): boolean {
  if (!shortcutOn(name)) return false;
  // Every run of a plan (each worker slice) installs the shortcuts again; the SDK is checked once.
  if (fits.has(name)) return true;
  let why: string | undefined;
  try {
    why = shape();
  } catch (e) {
    why = `checking it threw ${e instanceof Error ? e.message : String(e)}`;
  }
  if (why === undefined) {
    fits.add(name);
    return true;
  }
  leaveOff(name, why);
  return false;
}
const fits = new Set<ShortcutName>();

/**
 * Leave a shortcut off for the rest of this process and say so once: its shape changed, or it
 * threw. What a plan worker reports is said here through the same call, so the user reads one line
 * per shortcut however many processes found it, and the planning process leaves it off too.
 */
export function leaveOff(name: ShortcutName, why: string): void {
  if (leftOff.has(name)) return;
  leftOff.set(name, why);
  const line = `warning: @pulumi/pulumi ${sdkVersion()}: the plan's shortcut ${name} is left off (${why}); the plan takes the SDK's own path there, the same plan, slower`;
  if (sink) sink({ shortcut: name, why, line });
  else process.stderr.write(`intake: ${line}\n`);
}

/** A shortcut a process left off, as a plan worker reports it. */
export interface LeftOff {
  shortcut: ShortcutName;
  why: string;
  /** The warning line as the user reads it. */
  line: string;
}

/** Send this process's warnings elsewhere (a plan worker hands them to the process that plans). */
export function noticesTo(to: ((left: LeftOff) => void) | undefined): void {
  sink = to;
}

/** The shortcuts left off in this process, and why. */
export function shortcutsLeftOff(): ReadonlyMap<ShortcutName, string> {
  return leftOff;
}

/** Forget what was left off (tests that plant an SDK change, one after another). */
export function resetShortcuts(): void {
  leftOff.clear();
  fits.clear();
}

/** `fn`'s shape, for the checks: "a function of N arguments" or what it is instead. */
export function fnShape(fn: unknown, arity: number, what: string): string | undefined {
  if (typeof fn !== "function") return `${what} is ${fn === undefined ? "missing" : `a ${typeof fn}`}`;
  if (fn.length !== arity) return `${what} takes ${fn.length} arguments, not ${arity}`;
  return undefined;
}

/** Whether `key` of `obj` can be replaced (a CommonJS export, a class's static method). */
export function writableShape(obj: object, key: string, what: string): string | undefined {
  const d = Object.getOwnPropertyDescriptor(obj, key);
  if (!d) return `${what} is not an own property`;
  if (!d.writable) return `${what} cannot be replaced`;
  return undefined;
}
