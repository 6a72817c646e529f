import { InvalidArgumentError } from "commander";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { EXIT_MEANINGS, InvalidInput } from "../core/errors";
import { environmentHelp } from "../core/environment";
import { REGISTRY_KINDS, type RegistryKind } from "../core/tiers";
import { TTL_BOUNDS } from "../runtime/broker/ttl";
import { PACKAGE_ROOT } from "../core/package";

/** `1 customer`, `2 customers`. */
export const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/** This package's version (package.json). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(PACKAGE_ROOT, "package.json"), "utf8")) as { version: string }).version;
}

/** Exit codes and environment variables, after every command's help. */
export const HELP_AFTER = `
Exit codes (every command):
${Object.entries(EXIT_MEANINGS)
  .map(([code, meaning]) => `  ${code}  ${meaning}`)
  .join("\n")}

Environment:
${environmentHelp("intake")}`;

/** A bad flag value: names the flag and the rule. */
export class InputError extends InvalidInput {}

/** `--project DIR`, else the project folder found from the working folder. */
export function projectDirOf(opts: { project?: string }): string {
  return opts.project ? path.resolve(opts.project) : findProjectDir();
}

/** The project folder: the nearest folder up from `start` that holds Pulumi.yaml, else this package. */
export function findProjectDir(start = process.cwd()): string {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
    if (path.dirname(dir) === dir) return PACKAGE_ROOT;
  }
}

/**
 * A file a command writes (`--json`, `--markdown`), checked before any work: not a folder, under a
 * folder (or a path that can become one) this user may write. `-` is stdout.
 */
export function outputFile(v: string): string {
  if (v === "-") return v;
  const full = path.resolve(v);
  if (existsSync(full) && statSync(full).isDirectory()) throw new InvalidArgumentError(`${v} is a folder; give the path of a file in it`);
  let up = path.dirname(full);
  while (!existsSync(up)) up = path.dirname(up);
  if (!statSync(up).isDirectory()) throw new InvalidArgumentError(`${up} is a file, not a folder: the path cannot be made`);
  try {
    accessSync(up, constants.W_OK);
  } catch {
    throw new InvalidArgumentError(`${up} is not writable by this user`);
  }
  return v;
}

/** Write a command's output file (its folder made if missing); a failure names the flag. */
export function writeOut(file: string, text: string, flag = "--json"): void {
  try {
    // Each missing folder made in turn: a recursive mkdir spins forever where mkdir answers ENOENT
    // under a folder that exists (/proc).
    const missing: string[] = [];
    for (let dir = path.dirname(path.resolve(file)); !existsSync(dir); dir = path.dirname(dir)) missing.unshift(dir);
    for (const dir of missing) mkdirSync(dir);
    writeFileSync(file, text);
  } catch (e) {
    throw new InputError(`${flag} ${file}: cannot be written (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

export function listenAddress(v: string): { host: string; port: number } {
  const m = /^(\[[0-9a-f:]+\]|[\w.-]+):(\d{1,5})$/i.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError("must be host:port, e.g. 127.0.0.1:5001 (port 0 picks a free one)");
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}

export function registryKind(v: string): RegistryKind {
  if (!(REGISTRY_KINDS as readonly string[]).includes(v)) throw new InvalidArgumentError(`must be one of ${REGISTRY_KINDS.join(", ")}`);
  return v as RegistryKind;
}

export function outputFormat(v: string): "json" | "docker-config" {
  if (v !== "json" && v !== "docker-config") throw new InvalidArgumentError("must be json or docker-config");
  return v;
}

export function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError("must be a whole number above 0");
  return Number(v);
}

export function ttlSeconds(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < TTL_BOUNDS.min || n > TTL_BOUNDS.max)
    throw new InvalidArgumentError(`must be a whole number of seconds from ${TTL_BOUNDS.min} to ${TTL_BOUNDS.max}`);
  return n;
}

const DURATION = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * `--since`: an ISO date (midnight UTC), an ISO date and time (UTC unless it gives an offset), or a
 * duration back from `now` (90m, 24h, 7d). A one-line InputError names the flag otherwise.
 */
export function sinceTime(v: string, now = Date.now()): Date {
  const fail = () =>
    new InputError(
      `--since ${v}: must be an ISO date or time (2026-11-22, 2026-11-22T09:30:00Z; UTC unless it gives an offset) or a duration back from now (90m, 24h, 7d)`,
    );
  const d = /^(\d+)([smhd])$/.exec(v);
  if (d) return new Date(now - Number(d[1]) * DURATION[d[2] as keyof typeof DURATION]);
  const m = /^(\d{4}-\d{2}-\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(v);
  if (!m) throw fail();
  // A day that does not exist (2026-02-30) is refused, not moved into the next month.
  const day = new Date(`${m[1]}T00:00:00Z`);
  if (Number.isNaN(day.getTime()) || day.toISOString().slice(0, 10) !== m[1]) throw fail();
  const t = v.length === 10 ? day : new Date(m[2] ? v : `${v}Z`);
  if (Number.isNaN(t.getTime())) throw fail();
  return t;
}

export function stackName(v: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(v)) throw new InvalidArgumentError("a stack name holds only letters, digits, '_', '.' and '-'");
  return v;
}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Raw writes to a terminal, for live progress; absent when stderr is not one. */
  tty?: (s: string) => void;
}

export const processIo: Io = {
  out: (s) => process.stdout.write(s + "\n"),
  err: (s) => process.stderr.write(s + "\n"),
  tty: process.stderr.isTTY ? (s) => process.stderr.write(s) : undefined,
};

export function idList(v: string, previous: string[] = []): string[] {
  const ids = v
    .split(",")
    .map((x) => x.trim())
    .filter(Boolean);
  if (!ids.length) throw new InvalidArgumentError("must name at least one customer id");
  return [...new Set([...previous, ...ids])];
}

export function kindList(v: string, previous: RegistryKind[] = []): RegistryKind[] {
  return [...new Set([...previous, ...v.split(",").map((k) => registryKind(k.trim()))])];
}

/** What a command's action is handed: where to write, and how to set the exit code. */
export interface CommandContext {
  io: Io;
  exit: (code: number) => void;
}

/**
 * Call `stop` once, on SIGTERM or SIGINT, or when the npm process that started this one is gone
 * (`npx intake broker`, `npm exec`, `npm run`: npm does not pass a SIGTERM on to its child, which
 * would run on, orphaned). The parent is looked at each second only under npm.
 */
export function untilStopped(stop: (why: string) => void, env: NodeJS.ProcessEnv = process.env): void {
  const parent = process.ppid;
  let timer: NodeJS.Timeout | undefined;
  let done = false;
  const once = (why: string) => {
    if (done) return;
    done = true;
    if (timer) clearInterval(timer);
    stop(why);
  };
  process.once("SIGTERM", () => once("SIGTERM"));
  process.once("SIGINT", () => once("SIGINT"));
  if (env.npm_command) {
    timer = setInterval(() => process.ppid !== parent && once("its npm launcher exited"), 1000);
    timer.unref();
  }
}
