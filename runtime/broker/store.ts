import { readdirSync, readFileSync, statSync, unwatchFile, watchFile } from "node:fs";
import * as path from "node:path";
import type { Logger } from "pino";
import { issueMessage } from "../../customers/messages";
import { loadRoster, type Roster, type RosterOptions } from "../../customers/roster";
import { customerById } from "../../core/access";
import { aclSchema, type Acl, type AclDelivery, type AclEntry } from "../../core/acl";
import { InvalidInput } from "../../core/errors";
import { parseJsonFile } from "../../core/json";
import type { ReloadSource } from "./metrics";

/** A bad access-list file: names the file and the problem, never its contents. */
export class AclFileError extends InvalidInput {}

/** Read and validate an access list; errors name the file and each problem, never a value. */
export function readAcl(file: string): Acl {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new AclFileError(`${file}: cannot read the access list (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const doc = parseJsonFile(file, text);
  // No reportInput: a plain password written where a hash belongs must not reach the log.
  const r = aclSchema.safeParse(doc);
  if (!r.success) throw new AclFileError(`${file}: not an access list:\n${r.error.issues.map((i) => `  ${i.path.join(".")}: ${issueMessage(i)}`).join("\n")}`);
  return r.data;
}

/** The `*.json` parts of an access-list folder, sorted; hidden files (a half-written `.x.json`) left out. */
function aclParts(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".json") && !f.startsWith(".")).sort().map((f) => path.join(dir, f));
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch (e) {
    throw new AclFileError(`${p}: no such access-list file or folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/**
 * Merge access-list parts: they must agree on service and issuer; a user name in two parts, or
 * two delivery robots, is a conflict naming both files. `strict` throws on the first conflict
 * (start-up, `readAclSource`); otherwise the conflicting robots are left out (fail closed) and
 * every conflict is returned, so one bad part never takes the others' robots down.
 */
export function mergeAclParts(parts: { file: string; acl: Acl }[], strict: boolean): { acl: Omit<Acl, "service" | "issuer"> & Partial<Pick<Acl, "service" | "issuer">>; conflicts: string[] } {
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
  return mergeAclParts(files.map((file) => ({ file, acl: readAcl(file) })), true).acl as Acl;
}

/** sha256 digests (hex, one per line, `#` comments) of the bearer tokens allowed to call /registry/credentials. */
export function readCallerTokens(file: string): Set<string> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new AclFileError(`${file}: cannot read the caller-token file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  const bad = lines.findIndex((h) => !/^[0-9a-f]{64}$/.test(h));
  if (bad >= 0) throw new AclFileError(`${file}: each line must be the sha256 of a caller token in hex (64 characters 0-9a-f); entry ${bad + 1} is not`);
  return new Set(lines);
}

export interface StoreOptions {
  /** An access-list file, or a folder of parts. */
  acl: string;
  roster: string;
  rosterOptions: RosterOptions;
  /** The broker's service and issuer: a part for another registry is refused. */
  service: string;
  issuer: string;
  callerTokens?: string;
  log: Logger;
  /** Poll interval of the file watchers. */
  watchIntervalMs?: number;
  /** Told of every reload after start-up, and whether it took (the broker's metrics). */
  onReload?: (source: ReloadSource, ok: boolean) => void;
}

/**
 * What the broker knows, each source kept on its own: the roster, every access-list part and the
 * caller tokens. A source that fails to load keeps its last good copy and is logged; it never
 * holds back a valid change of another (a suspension in the roster applies while an access-list
 * part is half written). Lookups are indexed, so a token request costs the same at any size.
 */
export class BrokerStore {
  private rosterValue!: Roster;
  private readonly parts = new Map<string, Acl>();
  private robots = new Map<string, AclEntry>();
  private deliveryEntry?: AclDelivery;
  private tokens: ReadonlySet<string> = new Set();
  private readonly watched = new Set<string>();
  private readonly folder: boolean;

  constructor(private readonly o: StoreOptions) {
    this.folder = isDir(o.acl);
    // Start-up is strict: a broker that starts on a bad file would serve nobody and say little.
    if (this.folder) {
      const files = aclParts(o.acl);
      if (!files.length) throw new AclFileError(`${o.acl}: no access-list files (*.json) in this folder`);
      for (const f of files) this.parts.set(f, this.checkedPart(f));
      this.merge(true);
    } else {
      this.parts.set(o.acl, this.checkedPart(o.acl));
      this.merge(true);
    }
    this.setRoster(loadRoster(o.roster, o.rosterOptions));
    if (o.callerTokens) this.tokens = readCallerTokens(o.callerTokens);
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

  private checkedPart(file: string): Acl {
    const acl = readAcl(file);
    if (acl.service !== this.o.service || acl.issuer !== this.o.issuer) {
      throw new AclFileError(`${file}: access list is for service ${acl.service} / issuer ${acl.issuer}, the broker for ${this.o.service} / ${this.o.issuer}`);
    }
    return acl;
  }

  private setRoster(r: Roster): void {
    customerById(r, ""); // index it now, not on the first token request
    this.rosterValue = r;
  }

  private merge(strict: boolean): void {
    const parts = [...this.parts].sort(([a], [b]) => (a < b ? -1 : 1)).map(([file, acl]) => ({ file, acl }));
    const { acl, conflicts } = parts.length ? mergeAclParts(parts, strict) : { acl: { entries: [] as AclEntry[], delivery: undefined }, conflicts: [] };
    for (const c of conflicts) this.o.log.error({ event: "reload-conflict", error: c }, "robots in conflict are refused until the parts agree");
    this.robots = new Map(acl.entries.map((e) => [e.username, e]));
    this.deliveryEntry = acl.delivery;
  }

  /** Re-read one source; on failure log it and keep that source's last good copy. */
  private attempt(kind: ReloadSource, source: string, load: () => void): boolean {
    try {
      load();
      this.o.log.info({ event: "reload", source, robots: this.robots.size, customers: this.rosterValue.customers.length }, `${source} reloaded`);
      this.o.onReload?.(kind, true);
      return true;
    } catch (e) {
      this.o.log.error({ event: "reload-failed", source, error: (e as Error).message }, `kept the last good ${source}`);
      this.o.onReload?.(kind, false);
      return false;
    }
  }

  reloadRoster(): boolean {
    return this.attempt("roster", "roster", () => {
      this.setRoster(loadRoster(this.o.roster, this.o.rosterOptions));
    });
  }

  reloadPart(file: string): boolean {
    return this.attempt("access_list", `access-list part ${path.basename(file)}`, () => {
      this.parts.set(file, this.checkedPart(file));
      this.merge(false);
    });
  }

  reloadCallerTokens(): boolean {
    if (!this.o.callerTokens) return true;
    const file = this.o.callerTokens;
    return this.attempt("caller_tokens", "caller tokens", () => {
      this.tokens = readCallerTokens(file);
    });
  }

  /** A folder's parts added or removed: load the new, drop the gone, and watch accordingly. */
  rescanFolder(): boolean {
    return this.attempt("access_list", "access-list folder", () => {
      const now = new Set(aclParts(this.o.acl));
      let changed = false;
      for (const f of [...this.parts.keys()]) {
        if (!now.has(f)) {
          this.parts.delete(f);
          this.unwatch(f);
          changed = true;
        }
      }
      for (const f of now) {
        if (this.parts.has(f)) continue;
        this.watch(f, () => this.reloadPart(f));
        try {
          this.parts.set(f, this.checkedPart(f));
          changed = true;
        } catch (e) {
          // A new part that is not yet whole: watched, and loaded when it is.
          this.o.log.error({ event: "reload-failed", source: `access-list part ${path.basename(f)}`, error: (e as Error).message }, "new part not loaded yet");
          this.o.onReload?.("access_list", false);
        }
      }
      if (changed) this.merge(false);
    });
  }

  /** Reload everything (SIGHUP, tests). */
  reloadAll(): void {
    this.reloadRoster();
    if (this.folder) {
      this.rescanFolder();
      for (const f of this.parts.keys()) this.reloadPart(f);
    } else this.reloadPart(this.o.acl);
    this.reloadCallerTokens();
  }

  private watch(file: string, onChange: () => void): void {
    if (this.watched.has(file)) return;
    this.watched.add(file);
    // Polling stat: it sees in-place edits, atomic renames and Kubernetes' symlink swaps alike.
    watchFile(file, { interval: this.o.watchIntervalMs ?? 250 }, (cur, prev) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) onChange();
    });
  }

  private unwatch(file: string): void {
    if (this.watched.delete(file)) unwatchFile(file);
  }

  /** Watch every source: the roster, the access list (each part, and the folder), the caller tokens. */
  startWatching(): void {
    this.watch(this.o.roster, () => this.reloadRoster());
    if (this.folder) {
      this.watch(this.o.acl, () => this.rescanFolder());
      for (const f of this.parts.keys()) this.watch(f, () => this.reloadPart(f));
    } else this.watch(this.o.acl, () => this.reloadPart(this.o.acl));
    if (this.o.callerTokens) {
      const file = this.o.callerTokens;
      this.watch(file, () => this.reloadCallerTokens());
    }
  }

  stopWatching(): void {
    for (const f of [...this.watched]) this.unwatch(f);
  }
}
