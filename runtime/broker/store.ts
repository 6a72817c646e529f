import { createHash } from "node:crypto";
import { readdirSync, readlinkSync, statSync } from "node:fs";
import * as path from "node:path";
import type { Logger } from "pino";
import { issueMessage } from "../../customers/messages";
import { parseRoster, type Roster, type RosterOptions } from "../../customers/roster";
import { conflictText, mergeRosterParts, rosterPartFiles } from "../../customers/roster-parts";
import { customerById } from "../../core/access";
import { aclSchema, type Acl, type AclDelivery, type AclEntry } from "../../core/acl";
import { InvalidInput } from "../../core/errors";
import { parseJsonFile } from "../../core/json";
import type { ReloadSource } from "./metrics";
import { fileSignature } from "../../core/stack";
import { readSourceFile, readSourceFileSync, SourceFileRefused } from "./files";

/** Why a file could not be read, in a few words (never its contents). */
function unreadableWhy(e: unknown): string {
  if (e instanceof SourceFileRefused) return e.message;
  return (e as NodeJS.ErrnoException).code ?? (e as Error).message;
}

/** A part that failed is read again when its file changes, and at least this often (a chmod changes no signature). */
const RETRY_FAILED_MS = 10_000;
/** The same failure of the same file is logged again at most this often. */
const RELOG_FAILED_MS = 60_000;

/** A bad access-list file: names the file and the problem, never its contents. */
class AclFileError extends InvalidInput {}

/** Read and validate an access list; errors name the file and each problem, never a value. */
function readAcl(file: string): Acl {
  let text: string;
  try {
    text = readSourceFileSync(file);
  } catch (e) {
    throw new AclFileError(`${file}: cannot read the access list (${unreadableWhy(e)})`);
  }
  return parseAcl(text, file);
}

/** Validate access-list text; `file` names it in messages. */
export function parseAcl(text: string, file: string): Acl {
  const doc = parseJsonFile(file, text);
  // No reportInput: a plain password written where a hash belongs must not reach the log.
  const r = aclSchema.safeParse(doc);
  if (!r.success) {
    // Without the values, a field that is there but wrong is told what it must be, not "required".
    const present = (p: PropertyKey[]) =>
      p.reduce<unknown>((v, k) => (v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined), doc) !== undefined;
    const said = (i: (typeof r.error.issues)[number]) => (!present(i.path) ? issueMessage(i) : i.code === "invalid_type" ? `must be ${i.expected}` : i.message);
    throw new AclFileError(`${file}: not an access list:\n${r.error.issues.map((i) => `  ${i.path.join(".")}: ${said(i)}`).join("\n")}`);
  }
  return r.data;
}

/** The `*.json` parts of an access-list folder, sorted; hidden files (a half-written `.x.json`) left out. */
function aclParts(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json") && !f.startsWith("."))
    .sort()
    .map((f) => path.join(dir, f));
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch (e) {
    throw new AclFileError(
      `${p}: no such access-list file or folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}): write it with \`pulumi stack output distributionAcl --show-secrets > acl.json\` and pass --acl`,
    );
  }
}

/**
 * Merge access-list parts: they must agree on service and issuer; a user name in two parts, or
 * two delivery robots, is a conflict naming both files. `strict` throws on the first conflict
 * (start-up, `readAclSource`); otherwise the conflicting robots are left out (fail closed) and
 * every conflict is returned, so one bad part never takes the others' robots down.
 */
function mergeAclParts(
  parts: { file: string; acl: Acl }[],
  strict: boolean,
): { acl: Omit<Acl, "service" | "issuer"> & Partial<Pick<Acl, "service" | "issuer">>; conflicts: string[] } {
  const conflicts: string[] = [];
  const fail = (m: string) => {
    if (strict) throw new AclFileError(m);
    conflicts.push(m);
  };
  const first = parts[0];
  const owner = new Map<string, string>();
  const dup = new Set<string>();
  let delivery: { file: string; entry: AclDelivery } | undefined;
  let twoDeliveries = false;
  const agreeing: AclEntry[] = [];
  for (const { file, acl } of parts) {
    if (acl.service !== first.acl.service || acl.issuer !== first.acl.issuer) {
      fail(`${file}: service ${acl.service} / issuer ${acl.issuer} differ from ${first.file}'s ${first.acl.service} / ${first.acl.issuer}`);
      continue;
    }
    agreeing.push(...acl.entries);
    for (const e of acl.entries) {
      const other = owner.get(e.username);
      if (other) {
        fail(`${file}: robot ${e.username} is also in ${other}`);
        dup.add(e.username);
      } else owner.set(e.username, file);
    }
    if (acl.delivery) {
      if (delivery) {
        fail(`${file}: a second delivery robot (the first is in ${delivery.file})`);
        twoDeliveries = true;
      } else delivery = { file, entry: acl.delivery };
    }
  }
  const entries = agreeing.filter((e) => !dup.has(e.username));
  return {
    acl: { version: 1, service: first?.acl.service, issuer: first?.acl.issuer, entries, ...(delivery && !twoDeliveries ? { delivery: delivery.entry } : {}) },
    conflicts,
  };
}

/**
 * One access list from a file, or from every `*.json` of a folder merged (a sharded stack's parts:
 * the platform stack's, with the delivery robot, and one per shard stack). Strict: any problem throws.
 */
export function readAclSource(fileOrDir: string): Acl {
  if (!isDir(fileOrDir)) return readAcl(fileOrDir);
  const files = aclParts(fileOrDir);
  if (!files.length) throw new AclFileError(`${fileOrDir}: no access-list files (*.json) in this folder`);
  return mergeAclParts(
    files.map((file) => ({ file, acl: readAcl(file) })),
    true,
  ).acl as Acl;
}

/** sha256 digests (hex, one per line, `#` comments) of the bearer tokens allowed to call /registry/credentials. */
function readCallerTokens(file: string): Set<string> {
  let text: string;
  try {
    text = readSourceFileSync(file);
  } catch (e) {
    throw new AclFileError(`${file}: cannot read the caller-token file (${unreadableWhy(e)})`);
  }
  return callerTokens(text, file);
}

/** Caller-token text into its digests; `file` names it in messages. */
function callerTokens(text: string, file: string): Set<string> {
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  const bad = lines.findIndex((h) => !/^[0-9a-f]{64}$/.test(h));
  if (bad >= 0) throw new AclFileError(`${file}: each line must be the sha256 of a caller token in hex (64 characters 0-9a-f); entry ${bad + 1} is not`);
  return new Set(lines);
}

export interface StoreOptions {
  /** An access-list file, or a folder of parts. */
  acl: string;
  /** A roster file, or a folder of parts (a sharded stack's, one per shard). */
  roster: string;
  rosterOptions: RosterOptions;
  /** The broker's service and issuer: a part for another registry is refused. */
  service: string;
  issuer: string;
  callerTokens?: string;
  log: Logger;
  /** How often the sources are looked at for changes (ms, default 250). */
  watchIntervalMs?: number;
  /** Told of every reload after start-up, and whether it took (the broker's metrics). */
  onReload?: (source: ReloadSource, ok: boolean) => void;
}

/**
 * Kubernetes writes a mounted ConfigMap or Secret volume atomically: the files are links into a
 * `..data` link that is swapped to a new folder on every change. One readlink of it tells whether
 * anything in the folder changed, so a folder of 2,000 parts costs one call per look, not 2,000 stats.
 */
function atomicWriterStamp(dir: string): string | undefined {
  try {
    return readlinkSync(path.join(dir, "..data"));
  } catch {
    return undefined;
  }
}

/**
 * A source read from a file or from a folder of parts: each part kept with the signature it had
 * when read and the digest of its text, so a look reads only the parts whose file changed and
 * parses only those whose text did (a Kubernetes volume swap gives every file a new inode), adds
 * new parts and forgets those gone.
 */
class Parts<T> {
  readonly folder: boolean;
  readonly parts = new Map<string, T>();
  private readonly seen = new Map<string, string>();
  private readonly digests = new Map<string, string>();
  private stamp?: string;
  private listing?: string;
  /** Parts that failed, with when they are tried again whatever their signature says. */
  private readonly failing = new Map<string, number>();

  constructor(
    readonly where: string,
    private readonly list: (dir: string) => string[],
    private readonly parse: (text: string, file: string) => T,
    private readonly unreadable: (file: string, e: NodeJS.ErrnoException) => Error,
    private readonly now: () => number = Date.now,
  ) {
    let folder = false;
    try {
      folder = statSync(where).isDirectory();
    } catch {
      // Not there: reading it says so in the source's own words.
    }
    this.folder = folder;
  }

  private files(): string[] {
    return this.folder ? this.list(this.where) : [this.where];
  }

  /** Keep one part's text: true when it differs from what was parsed last (then parsed and kept). */
  private take(file: string, text: string): boolean {
    const digest = createHash("sha256").update(text).digest("hex");
    if (this.digests.get(file) === digest && this.parts.has(file)) return false;
    this.parts.set(file, this.parse(text, file));
    this.digests.set(file, digest);
    return true;
  }

  /** Read every part (start-up, before anything is served): any problem throws; a folder must hold at least one. */
  loadAll(empty: string): void {
    this.stamp = this.folder ? atomicWriterStamp(this.where) : undefined;
    this.listing = this.folder ? fileSignature(this.where) : undefined;
    const files = this.files();
    if (this.folder && !files.length) throw new AclFileError(`${this.where}: ${empty}`);
    for (const f of files) {
      this.seen.set(f, fileSignature(f));
      let text: string;
      try {
        text = readSourceFileSync(f);
      } catch (e) {
        throw this.unreadable(f, e as NodeJS.ErrnoException);
      }
      this.take(f, text);
    }
  }

  /**
   * Look for changes: the parts changed, added or gone since the last look, each re-read off the
   * event loop (regular files only, at most MAX_SOURCE_BYTES: a FIFO or a huge file never stalls
   * token requests). A part that fails keeps its last good copy and is read again when its file
   * changes, or after RETRY_FAILED_MS. Nothing is looked at in an atomic-writer folder whose
   * `..data` did not move.
   */
  async look(): Promise<{ changed: string[]; failed: { file: string; error: Error }[] }> {
    const changed: string[] = [];
    const failed: { file: string; error: Error }[] = [];
    const now = this.now();
    const retry = [...this.failing.values()].some((at) => at <= now);
    if (this.folder) {
      const stamp = atomicWriterStamp(this.where);
      const listing = fileSignature(this.where);
      // Unchanged `..data` and folder: nothing was written.
      if (stamp !== undefined && stamp === this.stamp && listing === this.listing && !retry) return { changed, failed };
      this.stamp = stamp;
      this.listing = listing;
    }
    const present = new Set(this.files());
    for (const f of [...this.parts.keys()]) {
      if (present.has(f) || !this.folder) continue;
      this.parts.delete(f);
      this.seen.delete(f);
      this.digests.delete(f);
      this.failing.delete(f);
      changed.push(f);
    }
    for (const f of [...this.failing.keys()]) if (!present.has(f)) this.failing.delete(f);
    for (const f of present) {
      const sig = fileSignature(f);
      const due = (this.failing.get(f) ?? Infinity) <= now;
      if (this.seen.get(f) === sig && !due) continue;
      this.seen.set(f, sig);
      try {
        const text = await readSourceFile(f).catch((e: NodeJS.ErrnoException) => {
          throw this.unreadable(f, e);
        });
        if (this.take(f, text)) changed.push(f);
        this.failing.delete(f);
      } catch (e) {
        // A half-written part is read again once its writer is done (its signature changes).
        this.failing.set(f, now + RETRY_FAILED_MS);
        failed.push({ file: f, error: e as Error });
      }
    }
    return { changed, failed };
  }

  /** Forget what was seen: the next look re-reads every part (SIGHUP). */
  forget(): void {
    this.seen.clear();
    this.digests.clear();
    this.failing.clear();
    this.stamp = undefined;
    this.listing = undefined;
  }

  sorted(): { file: string; value: T }[] {
    return [...this.parts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([file, value]) => ({ file, value }));
  }
}

/**
 * What the broker knows, each source kept on its own: the roster (a file, or one part per shard),
 * every access-list part and the caller tokens. A source that fails to load keeps its last good
 * copy and is logged; it never holds back a valid change of another (a suspension in the roster
 * applies while an access-list part is half written). Lookups are indexed, so a token request
 * costs the same at any size. One timer looks at every source; a change re-reads only the parts
 * that changed.
 */
export class BrokerStore {
  private rosterValue!: Roster;
  private readonly rosterParts: Parts<Roster>;
  private readonly aclParts: Parts<Acl>;
  private robots = new Map<string, AclEntry>();
  private deliveryEntry?: AclDelivery;
  private tokens: ReadonlySet<string> = new Set();
  private tokensSeen?: string;
  /** When a caller-token file that failed is read again whatever its signature. */
  private tokensRetry?: number;
  private looking?: Promise<void>;
  private timer?: NodeJS.Timeout;

  constructor(private readonly o: StoreOptions) {
    isDir(o.acl); // a missing access list is named as such
    this.aclParts = new Parts(
      o.acl,
      aclParts,
      (text, f) => this.checkedPart(text, f),
      (f, e) => new AclFileError(`${f}: cannot read the access list (${unreadableWhy(e)})`),
    );
    this.rosterParts = new Parts(
      o.roster,
      rosterPartFiles,
      (text, f) => parseRoster(text, f, o.rosterOptions),
      (f, e) => new AclFileError(`${f}: cannot read the roster (${unreadableWhy(e)})`),
    );
    // Start-up is strict: a broker that starts on a bad file would serve nobody and say little.
    this.aclParts.loadAll("no access-list files (*.json) in this folder");
    this.mergeAcl(true);
    this.rosterParts.loadAll("no roster parts (*.yaml) in this folder: each shard stack writes its own");
    this.mergeRoster(true);
    if (o.callerTokens) {
      this.tokensSeen = fileSignature(o.callerTokens);
      this.tokens = readCallerTokens(o.callerTokens);
    }
    o.log.info({ event: "reload", source: "all", robots: this.robots.size, customers: this.rosterValue.customers.length }, "access list and roster loaded");
  }

  get roster(): Roster {
    return this.rosterValue;
  }

  robot(username: string): AclEntry | undefined {
    return this.robots.get(username);
  }

  get delivery(): AclDelivery | undefined {
    return this.deliveryEntry;
  }

  callerTokenAccepted(sha256hex: string): boolean {
    return this.tokens.has(sha256hex);
  }

  /** A typical bcrypt cost of the list (unknown users are checked against a dummy hash of it). */
  typicalHash(): string | undefined {
    return this.robots.values().next().value?.passwordHash ?? this.deliveryEntry?.passwordHash;
  }

  private checkedPart(text: string, file: string): Acl {
    const acl = parseAcl(text, file);
    if (acl.service !== this.o.service || acl.issuer !== this.o.issuer) {
      throw new AclFileError(`${file}: access list is for service ${acl.service} / issuer ${acl.issuer}, the broker for ${this.o.service} / ${this.o.issuer}`);
    }
    return acl;
  }

  private mergeRoster(strict: boolean): void {
    let roster: Roster;
    if (!this.rosterParts.folder) roster = this.rosterParts.parts.get(this.o.roster)!;
    else {
      const merged = mergeRosterParts(
        this.o.roster,
        this.rosterParts.sorted().map(({ file, value }) => ({ file, roster: value })),
      );
      if (strict && merged.conflicts.length) throw new AclFileError(conflictText(merged.conflicts[0]));
      for (const c of merged.conflicts)
        this.o.log.error({ event: "reload-conflict", error: conflictText(c) }, "customers in conflict are refused until the parts agree");
      roster = merged.roster;
    }
    customerById(roster, ""); // index it now, not on the first token request
    this.rosterValue = roster;
  }

  private mergeAcl(strict: boolean): void {
    const parts = this.aclParts.sorted().map(({ file, value }) => ({ file, acl: value }));
    const { acl, conflicts } = parts.length ? mergeAclParts(parts, strict) : { acl: { entries: [] as AclEntry[], delivery: undefined }, conflicts: [] };
    for (const c of conflicts) this.o.log.error({ event: "reload-conflict", error: c }, "robots in conflict are refused until the parts agree");
    this.robots = new Map(acl.entries.map((e) => [e.username, e]));
    this.deliveryEntry = acl.delivery;
  }

  /** The last failure logged per file, and when: the same one is logged again at most every RELOG_FAILED_MS. */
  private readonly logged = new Map<string, { error: string; at: number }>();

  /** Log and count one source's look: what was reloaded, what kept its last good copy. */
  private report(kind: ReloadSource, label: (file: string) => string, r: { changed: string[]; failed: { file: string; error: Error }[] }): boolean {
    for (const f of r.changed) {
      this.logged.delete(f);
      this.o.log.info({ event: "reload", source: label(f), robots: this.robots.size, customers: this.rosterValue.customers.length }, `${label(f)} reloaded`);
      this.o.onReload?.(kind, true);
    }
    const now = Date.now();
    for (const { file, error } of r.failed) {
      this.o.onReload?.(kind, false);
      const last = this.logged.get(file);
      if (last && last.error === error.message && now - last.at < RELOG_FAILED_MS) continue;
      this.logged.set(file, { error: error.message, at: now });
      this.o.log.error({ event: "reload-failed", source: label(file), error: error.message }, `kept the last good ${label(file)}`);
    }
    return r.failed.length === 0;
  }

  /** Look at the roster: the parts that changed are re-read, then merged. */
  async reloadRoster(): Promise<boolean> {
    const r = await this.rosterParts.look();
    if (r.changed.length) this.mergeRoster(false);
    return this.report("roster", (f) => (this.rosterParts.folder ? `roster part ${path.basename(f)}` : "roster"), r);
  }

  /** Look at the access list: the parts that changed (or were added or removed) are re-read, then merged. */
  async reloadAcl(): Promise<boolean> {
    const r = await this.aclParts.look();
    if (r.changed.length) this.mergeAcl(false);
    return this.report("access_list", (f) => `access-list part ${path.basename(f)}`, r);
  }

  async reloadCallerTokens(): Promise<boolean> {
    const file = this.o.callerTokens;
    if (!file) return true;
    const sig = fileSignature(file);
    if (sig === this.tokensSeen && (this.tokensRetry ?? Infinity) > Date.now()) return true;
    this.tokensSeen = sig;
    try {
      this.tokens = callerTokens(
        await readSourceFile(file).catch((e) => {
          throw new AclFileError(`${file}: cannot read the caller-token file (${unreadableWhy(e)})`);
        }),
        file,
      );
      this.tokensRetry = undefined;
      return this.report("caller_tokens", () => "caller tokens", { changed: [file], failed: [] });
    } catch (e) {
      this.tokensRetry = Date.now() + RETRY_FAILED_MS;
      return this.report("caller_tokens", () => "caller tokens", { changed: [], failed: [{ file, error: e as Error }] });
    }
  }

  /** Look at every source now; a look already under way is waited for, not doubled. */
  look(): Promise<void> {
    this.looking ??= (async () => {
      try {
        await this.reloadRoster();
        await this.reloadAcl();
        await this.reloadCallerTokens();
      } catch (e) {
        // A listing that failed (the folder gone): said once per minute like any failure.
        this.report("access_list", () => "sources", { changed: [], failed: [{ file: this.o.acl, error: e as Error }] });
      } finally {
        this.looking = undefined;
      }
    })();
    return this.looking;
  }

  /** Re-read everything (SIGHUP, tests). */
  async reloadAll(): Promise<void> {
    await this.looking;
    this.rosterParts.forget();
    this.aclParts.forget();
    this.tokensSeen = undefined;
    await this.look();
  }

  /**
   * Look at every source on one timer. A look costs one stat per file, or for a Kubernetes volume
   * one readlink per folder; what was read at start-up is the baseline, so a change made before
   * this is called is still seen.
   */
  startWatching(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.look(), this.o.watchIntervalMs ?? 250);
    this.timer.unref();
  }

  stopWatching(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
