import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import * as path from "node:path";
import type { MintedCredential } from "./types";

/**
 * The credential helper's and `intake token`'s on-disk cache of minted credentials: one file per
 * (project, stack, roster, customer, kind or registry host, signing key, subscription), in a
 * folder of the user's own (0700, files 0600, both checked on every read), as
 * docker-credential-ecr-login keeps its tokens.
 *
 * A credential is answered from the cache only while the decision that allowed it still holds:
 * the decision is a function of the files it read (Pulumi.yaml, the stack files, the roster, the
 * signing key) and of the day, so each entry records those files' sha256 and the day, and any
 * change to either makes the next call decide again from the roster. A denial removes the entry.
 * A credential is minted again `refreshBeforeSeconds` (5 min) before it expires; one that cannot
 * expire (a GHCR PAT) is never written here.
 *
 * This module loads only node's own modules, so an answer from the cache costs a few file reads.
 */

/** What a cached credential is for: every value that changes which credential a call mints. */
export interface CacheKey {
  project: string;
  stack: string;
  /** The roster file when not the stack's own (INTAKE_ROSTER, --roster). */
  roster?: string;
  customer: string;
  /** The registry kind (`intake token`) or the host docker asked about (the helper). */
  target: string;
  /** The signing key file (distribution's offline credential). */
  signingKey?: string;
  /** The Azure subscription (acr). */
  subscription?: string;
}

interface Entry {
  v: 1;
  day: string;
  inputs: { file: string; sha256: string }[];
  credential: Omit<MintedCredential, "expiresAt"> & { expiresAt: string };
}

const REFRESH_BEFORE_SECONDS = 300;

export class DiskCredentialCache {
  constructor(
    readonly dir: string,
    private readonly now: () => number = Date.now,
    private readonly refreshBeforeSeconds = REFRESH_BEFORE_SECONDS,
  ) {}

  /**
   * The cache of this user: INTAKE_CREDENTIAL_CACHE (a folder, or "off"), else
   * $XDG_CACHE_HOME/registry-intake/credentials, else ~/.cache/registry-intake/credentials.
   * No cache (and why, for a warning) when it is turned off or the folder is not private.
   */
  static forUser(env: NodeJS.ProcessEnv = process.env): { cache?: DiskCredentialCache; warning?: string } {
    const setting = env.INTAKE_CREDENTIAL_CACHE;
    if (setting === "off") return {};
    const dir = setting ? path.resolve(setting) : path.join(env.XDG_CACHE_HOME || path.join(homedir(), ".cache"), "registry-intake", "credentials");
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    } catch (e) {
      // Something else is there: judged below (a file, a link).
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") {
        return { warning: `credential cache ${dir}: cannot create it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); minting on every call` };
      }
    }
    const why = notPrivate(lstatSync(dir), true);
    if (why) return { warning: `credential cache ${dir}: ${why}; not used (minting on every call) until it is fixed: chmod 700 ${dir}, owned by you` };
    return { cache: new DiskCredentialCache(dir) };
  }

  /** The file of one key: readable names (stack, customer, target) and a digest of the whole key. */
  fileOf(key: CacheKey): string {
    const digest = createHash("sha256")
      .update(JSON.stringify([key.project, key.stack, key.roster ?? "", key.customer, key.target, key.signingKey ?? "", key.subscription ?? ""]))
      .digest("hex");
    const safe = (s: string) => s.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 60);
    return path.join(this.dir, `${safe(key.stack)}-${safe(key.customer)}-${safe(key.target)}-${digest.slice(0, 16)}.json`);
  }

  /** The cached credential, if its decision's files and day are unchanged and it is not due to be minted again. */
  get(key: CacheKey, day: string): { credential: MintedCredential } | undefined {
    const entry = this.read(this.fileOf(key));
    if (!entry || entry.v !== 1 || entry.day !== day || !Array.isArray(entry.inputs) || !entry.credential) return undefined;
    for (const input of entry.inputs) if (sha256OfFile(input.file) !== input.sha256) return undefined;
    const expiresAt = new Date(entry.credential.expiresAt);
    const refreshAt = new Date(expiresAt.getTime() - this.refreshBeforeSeconds * 1000);
    if (!(refreshAt.getTime() > this.now())) return undefined;
    return { credential: { ...entry.credential, expiresAt } };
  }

  /** Keep a credential the decision on `day` allowed, with the files that decision read. */
  put(key: CacheKey, day: string, inputs: readonly string[], credential: MintedCredential): void {
    if (!credential.expiresAt || credential.longLived) return;
    const hashed: Entry["inputs"] = [];
    for (const file of new Set(inputs.map((f) => path.resolve(f)))) {
      const sha256 = sha256OfFile(file);
      if (!sha256) return; // a file the decision read is gone already: nothing to keep
      hashed.push({ file, sha256 });
    }
    const entry: Entry = { v: 1, day, inputs: hashed, credential: { ...credential, expiresAt: credential.expiresAt.toISOString() } };
    const file = this.fileOf(key);
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    // Created 0600 before a byte is written; renamed into place whole.
    const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      writeSync(fd, JSON.stringify(entry));
    } finally {
      closeSync(fd);
    }
    try {
      renameSync(tmp, file);
    } catch (e) {
      rmSync(tmp, { force: true });
      throw e;
    }
  }

  /** Forget a key's credential (its customer was denied). */
  drop(key: CacheKey): void {
    rmSync(this.fileOf(key), { force: true });
  }

  private read(file: string): Entry | undefined {
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch {
      return undefined;
    }
    try {
      // Another user's file, or one others can read or write, is not trusted (nor answered).
      if (notPrivate(fstatSync(fd), false)) return undefined;
      return JSON.parse(readFileSync(fd, "utf8")) as Entry;
    } catch {
      return undefined;
    } finally {
      closeSync(fd);
    }
  }
}

/** Why a cache folder or file is not this user's alone, or undefined when it is. */
function notPrivate(st: import("node:fs").Stats, folder: boolean): string | undefined {
  if (folder && !st.isDirectory()) return st.isSymbolicLink() ? "is a symbolic link" : "is not a folder";
  if (!folder && !st.isFile()) return "is not a file";
  if (typeof process.getuid === "function" && st.uid !== process.getuid()) return `belongs to user ${st.uid}`;
  if (st.mode & 0o077) return `has mode ${(st.mode & 0o777).toString(8)} (others may read it)`;
  return undefined;
}

function sha256OfFile(file: string): string | undefined {
  try {
    return createHash("sha256").update(readFileSync(file)).digest("hex");
  } catch {
    return undefined;
  }
}

/** The UTC day access is decided for: YYYY-MM-DD. */
export function decisionDay(now = new Date()): string {
  return now.toISOString().slice(0, 10);
}
