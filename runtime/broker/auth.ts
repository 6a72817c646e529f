import * as crypto from "node:crypto";
import { availableParallelism } from "node:os";
import bcrypt from "bcrypt";
import { jwtVerify, type CryptoKey, type KeyObject } from "jose";
import PQueue from "p-queue";

/**
 * Password and credential checks that a flood cannot turn against the broker:
 * - bcrypt runs in native code on libuv's thread pool, never on the event loop, and at most
 *   `maxConcurrent` at a time with `maxQueued` waiting; past that a login is refused at once (429);
 * - failures are counted per (user name, source address) and per source address; past a limit
 *   that pair or source is refused without a bcrypt check, with a back-off that doubles up to
 *   `maxBackoffMs`. A name that fails from many sources is not locked (anyone could then keep a
 *   robot that logs in rarely from logging in): the checks of sources that failed for it are
 *   rationed to `userChecksPerSecond` together, and a source that never failed for it is checked
 *   at once, so the robot's right password gets through whatever the guessing;
 * - every refusal takes one path whatever the name: exactly `HASH_CHECKS` bcrypt checks (the
 *   robot's hash, its previous one during a rotation's overlap, else a dummy hash of the list's
 *   cost; an unknown name gets dummies only), and an offline-credential-shaped password that does
 *   not verify is then checked as a password, so neither the answer nor its timing says which
 *   robots exist or which are in an overlap;
 * - a (user name, source address) whose password was right once is trusted for `trustedTtlMs`:
 *   its checks skip the ration, the source's lock and the queue's limit, and go first;
 * - a (user, password, hash) verified once is remembered, so a robot that logs in again is served
 *   from memory, flood or not; a rotated hash misses that memory by construction;
 * - an offline credential (a JWT signed by the broker's key) must carry `exp` and `iat` and is
 *   refused past `credentialMaxAgeSeconds` of age, whatever its `exp` says.
 */
export interface AuthLimits {
  /**
   * bcrypt checks running at once (default: one per core, as many as a Go server such as
   * docker_auth runs; tokens are still served between them: signing is short and on the event
   * loop, bcrypt on the thread pool. A flood's checks are rationed and throttled before this).
   */
  maxConcurrent: number;
  /** bcrypt checks waiting for a slot; past that a login gets 429 at once (default 32). */
  maxQueued: number;
  /** Failures per (user name, source address), and per source address, within `windowMs` before back-off (defaults 5 and 20). */
  pairFailures: number;
  sourceFailures: number;
  /** Failures per user name from all sources within `windowMs` past which the checks of sources that failed for it are rationed (default 20)... */
  userFailures: number;
  /** ...to this many per second (default 5): the rest get 429 with Retry-After 1. */
  userChecksPerSecond: number;
  windowMs: number;
  /** First back-off once a limit is reached; doubles per further failure up to `maxBackoffMs` (defaults 1 s, 5 min). */
  backoffMs: number;
  maxBackoffMs: number;
  /** How long a verified password is remembered (default 15 min). */
  verifiedTtlMs: number;
  /** How long a (user name, source) whose password was right is trusted (default 7 days). */
  trustedTtlMs: number;
  /** Oldest offline credential accepted, by its `iat` (default 3600 s). */
  credentialMaxAgeSeconds: number;
}

const DEFAULT_AUTH_LIMITS: AuthLimits = {
  maxConcurrent: availableParallelism(),
  maxQueued: 32,
  pairFailures: 5,
  sourceFailures: 20,
  userFailures: 20,
  userChecksPerSecond: 5,
  windowMs: 5 * 60_000,
  backoffMs: 1_000,
  maxBackoffMs: 5 * 60_000,
  verifiedTtlMs: 15 * 60_000,
  trustedTtlMs: 7 * 24 * 3600_000,
  credentialMaxAgeSeconds: 3600,
};

/** Why a login failed, as a fixed word (the broker's metrics count by it; `reason` is for the log). */
export type LoginFailure = "unknown_user" | "wrong_password" | "credential_refused" | "throttled" | "busy";

/** The outcome of one login: ok, a refusal (401), or throttled (429 with Retry-After seconds). */
export type LoginResult =
  | { ok: true; via: "password" | "credential" }
  | { ok: false; throttled: false; reason: string; code: LoginFailure }
  | { ok: false; throttled: true; reason: string; code: LoginFailure; retryAfterSeconds: number };

interface Failures {
  count: number;
  first: number;
  lockedUntil: number;
}

/** bcrypt checks of every password login that is refused: the current hash and the previous one (or dummies). */
export const HASH_CHECKS = 2;

/** A password shaped like an offline credential (a compact JWS). */
function jwtShaped(password: string): boolean {
  return password.startsWith("ey") && password.split(".").length === 3;
}

/** Bounded maps: a flood of distinct names or addresses evicts the oldest records, never grows memory. */
const MAX_TRACKED = 100_000;

function bounded<K, V>(m: Map<K, V>, k: K, v: V): void {
  if (m.size >= MAX_TRACKED && !m.has(k)) m.delete(m.keys().next().value as K);
  m.set(k, v);
}

/** SHA-256 in hex: one call into native code where Node has crypto.hash (20.12 and later), else createHash. */
const sha256hex: (data: string) => string =
  typeof crypto.hash === "function" ? (data) => crypto.hash("sha256", data, "hex") : (data) => crypto.createHash("sha256").update(data).digest("hex");

/** The memory of a verified password is keyed by a digest of (user, password, hash): it never holds a password. */
function verifiedKey(username: string, password: string, hash: string): string {
  return sha256hex(`${username}\0${password}\0${hash}`);
}

export class Authenticator {
  private readonly limits: AuthLimits;
  /** bcrypt checks: trusted sources first, then sources that never failed for the name, then the rest. */
  private readonly queue: PQueue;
  private readonly trusted = new Map<string, number>();
  private readonly verified = new Map<string, number>();
  private readonly byPair = new Map<string, Failures>();
  private readonly byUser = new Map<string, Failures>();
  private readonly bySource = new Map<string, Failures>();
  private readonly dummies = new Map<string, string>();

  constructor(
    private readonly credential: { key: CryptoKey | KeyObject; issuer: string; audience: string },
    limits: Partial<AuthLimits> = {},
    private readonly now: () => number = Date.now,
  ) {
    this.limits = { ...DEFAULT_AUTH_LIMITS, ...limits };
    this.queue = new PQueue({ concurrency: this.limits.maxConcurrent });
  }

  /** bcrypt checks running and waiting (for metrics and tests). */
  get pending(): number {
    return this.queue.pending + this.queue.size;
  }

  /**
   * Check a password for `username`, whose bcrypt hashes are `hashes` (the current one, and during
   * a rotation's overlap the previous one; none: unknown user). A password shaped like an offline
   * credential is first checked as one (a JWT the broker's key signed for a known `username`).
   * `remote` is the source address, counted for failures.
   */
  async password(
    username: string,
    password: string,
    hashes: string | string[] | undefined,
    remote: string | undefined,
    typicalHash: string | undefined,
  ): Promise<LoginResult> {
    const all = hashes === undefined ? [] : Array.isArray(hashes) ? hashes : [hashes];
    const now = this.now();
    for (const hash of all) {
      const until = this.verified.get(verifiedKey(username, password, hash));
      if (until !== undefined && until > now) return { ok: true, via: "password" };
    }
    // A credential signed by the broker's key cannot be guessed: it passes every throttle.
    let refusedCredential: string | undefined;
    if (jwtShaped(password)) {
      const r = all.length ? await this.offline(username, password) : undefined;
      if (r?.ok) return r;
      refusedCredential = r?.reason ?? "credential refused: unknown user";
    }
    const source = remote ?? "";
    const pair = `${username}\0${source}`;
    const trusted = (this.trusted.get(pair) ?? 0) > now;
    const locked = Math.max(this.lockedUntil(this.byPair, pair, now), trusted ? 0 : this.lockedUntil(this.bySource, source, now));
    if (locked > now)
      return { ok: false, throttled: true, reason: "too many failed logins", code: "throttled", retryAfterSeconds: Math.ceil((locked - now) / 1000) };
    // A source that never failed for this name is not rationed: the robot's own first try passes.
    const failedBefore = this.byPair.has(pair);
    const rationed = failedBefore && !trusted ? this.ration(username, now) : 0;
    if (rationed) return { ok: false, throttled: true, reason: "too many failed logins for this name", code: "throttled", retryAfterSeconds: rationed };
    if (!trusted && this.pending >= this.limits.maxConcurrent + this.limits.maxQueued)
      return { ok: false, throttled: true, reason: "too many logins at once", code: "busy", retryAfterSeconds: 1 };
    const priority = trusted ? 2 : failedBefore ? 0 : 1;
    // The same work whatever the name: the hashes it has, then dummies of the list's cost.
    for (let i = 0; i < HASH_CHECKS; i++) {
      const hash = all[i] ?? (await this.dummy(typicalHash));
      const match = await this.queue.add(() => bcrypt.compare(password, hash), { priority });
      if (match && i < all.length) {
        this.byPair.delete(pair);
        this.byUser.delete(username);
        bounded(this.verified, verifiedKey(username, password, hash), this.now() + this.limits.verifiedTtlMs);
        bounded(this.trusted, pair, this.now() + this.limits.trustedTtlMs);
        return { ok: true, via: "password" };
      }
    }
    this.fail(this.byPair, pair, this.limits.pairFailures);
    this.fail(this.bySource, source, this.limits.sourceFailures);
    // Counted only: `ration` reads the count and keeps its own next-check time.
    this.fail(this.byUser, username, Infinity);
    if (refusedCredential && all.length) return { ok: false, throttled: false, reason: refusedCredential, code: "credential_refused" };
    return all.length
      ? { ok: false, throttled: false, reason: "wrong password", code: "wrong_password" }
      : { ok: false, throttled: false, reason: "unknown user", code: "unknown_user" };
  }

  /**
   * A name that failed `userFailures` times from anywhere gets its checks rationed: one each
   * 1/`userChecksPerSecond` s, the rest refused. The seconds to wait, or 0 when this one may go.
   */
  private ration(username: string, now: number): number {
    const f = this.byUser.get(username);
    if (!f || f.count < this.limits.userFailures) return 0;
    if (now - f.first > this.limits.windowMs) {
      this.byUser.delete(username);
      return 0;
    }
    if (f.lockedUntil > now) return Math.ceil((f.lockedUntil - now) / 1000);
    f.lockedUntil = now + 1000 / this.limits.userChecksPerSecond;
    return 0;
  }

  /** Check an offline credential (a JWT the broker's key signed for `username`). */
  async offline(username: string, jwt: string): Promise<LoginResult> {
    try {
      await jwtVerify(jwt, this.credential.key, {
        issuer: this.credential.issuer,
        audience: this.credential.audience,
        subject: username,
        requiredClaims: ["exp", "iat"],
        maxTokenAge: this.limits.credentialMaxAgeSeconds,
        clockTolerance: 60,
      });
      return { ok: true, via: "credential" };
    } catch (e) {
      return { ok: false, throttled: false, reason: `credential refused: ${(e as Error).message}`, code: "credential_refused" };
    }
  }

  private lockedUntil(m: Map<string, Failures>, key: string, now: number): number {
    const f = m.get(key);
    if (!f) return 0;
    if (now - f.first > this.limits.windowMs && f.lockedUntil <= now) {
      m.delete(key);
      return 0;
    }
    return f.lockedUntil;
  }

  private fail(m: Map<string, Failures>, key: string, max: number): void {
    const now = this.now();
    const f = m.get(key);
    const rec = f && now - f.first <= this.limits.windowMs ? f : { count: 0, first: now, lockedUntil: 0 };
    rec.count++;
    if (rec.count >= max) rec.lockedUntil = now + Math.min(this.limits.maxBackoffMs, this.limits.backoffMs * 2 ** (rec.count - max));
    bounded(m, key, rec);
  }

  /** A hash of a random secret at the same bcrypt cost (and so the same work) as `typical`. */
  private async dummy(typical: string | undefined): Promise<string> {
    const cost = Number(/^\$2[aby]?\$(\d{2})\$/.exec(typical ?? "")?.[1] ?? 10);
    const key = String(cost);
    const known = this.dummies.get(key);
    if (known) return known;
    const made = await bcrypt.hash(crypto.randomBytes(24).toString("base64"), cost);
    this.dummies.set(key, made);
    return made;
  }

  /** Make the dummy hash ahead of the first unknown user, so that one is not slower. */
  async warm(typical: string | undefined): Promise<void> {
    await this.dummy(typical);
  }
}
