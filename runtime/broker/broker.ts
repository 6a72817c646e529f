import { createHash, randomUUID, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { SignJWT } from "jose";
import pino, { type Logger } from "pino";
import { DEFAULT_TIER_TABLE, REGISTRY_KINDS, type RegistryKind, type TierTable } from "../../core/tiers";
import { AccessDenied, checkAccess } from "../../core/access";
import type { MintedCredential } from "../mint/types";
import { Authenticator, type AuthLimits, type LoginResult } from "./auth";
import { deliveryGrant, robotGrant, type GrantContext } from "./grant";
import { jwsSigner, type SigningKey } from "./keys";
import { parseScope, type Access } from "./scope";
import { BrokerStore } from "./store";

import { BrokerOptionError, TTL_BOUNDS } from "./ttl";

export { readAcl, readAclSource } from "./store";
export { BrokerOptionError, TTL_BOUNDS } from "./ttl";


export interface BrokerOptions {
  /** An access-list file, or a folder of parts (a sharded stack's), each reloaded on its own. */
  aclFile: string;
  rosterFile: string;
  key: SigningKey;
  service: string;
  issuer: string;
  /** Token lifetime, 60-3600 s; default 300 s, so a suspension bites within five minutes at worst. */
  ttlSeconds?: number;
  tierTable?: TierTable;
  /** Kinds the stack declares (default all): the broker's license decision is `checkAccess`'s. */
  enabledKinds?: readonly RegistryKind[];
  /** The stack's repo prefix: a robot's only allowed path is `<prefix>/<customer>/*`. */
  repoPrefix?: string;
  /** The day licenses are judged against; default today (UTC). */
  today?: () => string;
  logger?: Logger;
  /** Login throttling; defaults in DEFAULT_AUTH_LIMITS. */
  authLimits?: Partial<AuthLimits>;
  /** Poll interval of the file watchers (default 250 ms). */
  watchIntervalMs?: number;
  /** GET /registry/credentials: who may call it (a file of sha256 hex digests of bearer tokens, watched) and how to mint. */
  credentials?: {
    callerTokensFile: string;
    mint: (customer: string, kind: RegistryKind) => Promise<MintedCredential>;
  };
}

export interface TokenResponse {
  token: string;
  access_token: string;
  expires_in: number;
  issued_at: string;
}

/** The audience of the offline credentials `intake token --kind distribution --key` mints. */
export function credentialAudience(service: string): string {
  return `${service}#robot-credential`;
}

/** Mint the offline robot credential (at most 1 h: the broker refuses older ones): a JWT signed by the broker's key, accepted as the Basic-auth password. */
export async function mintRobotCredential(key: SigningKey, opts: { username: string; service: string; issuer: string; ttlSeconds?: number }): Promise<{ password: string; expiresAt: Date }> {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + Math.min(opts.ttlSeconds ?? 3600, 3600);
  const password = await new SignJWT({})
    .setProtectedHeader({ alg: key.alg })
    .setIssuer(opts.issuer)
    .setSubject(opts.username)
    .setAudience(credentialAudience(opts.service))
    .setIssuedAt(now)
    .setExpirationTime(exp)
    .setJti(randomUUID())
    .sign(key.privateKey);
  return { password, expiresAt: new Date(exp * 1000) };
}

/** Request limits: a registry client sends a few hundred bytes; anything far past that is not one. */
const LIMITS = { body: 16 * 1024, scopes: 64, username: 256, password: 4096, headers: 16 * 1024 };

type Send = (status: number, body: unknown, headers?: Record<string, string>) => void;

/** An answer of tokenFor: `json` is the body already serialized (a token response), else the body is. */
export interface Answer {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  json?: string;
}

const JSON_HEADERS: Readonly<Record<string, string>> = { "content-type": "application/json", "cache-control": "no-store" };

/** Write one JSON answer, unless the response is already answered or gone. */
function reply(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>, json?: string): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, headers ? { ...JSON_HEADERS, ...headers } : JSON_HEADERS);
  res.end(json ?? JSON.stringify(body));
}

/**
 * A token response as JSON, written out: JSON.stringify scans the token (twice, 1-2 KB each with
 * the certificate in x5c) for characters to escape, and took about as long as the rest of the
 * request's own work. Nothing here needs escaping: the token is base64url parts joined by dots
 * (jwsSigner), issued_at an ISO date, expires_in an integer.
 */
export function tokenJson(t: TokenResponse): string {
  return `{"token":"${t.token}","access_token":"${t.access_token}","expires_in":${t.expires_in},"issued_at":"${t.issued_at}"}`;
}

/** A request the broker refuses before any work, with the status it answers. */
class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Docker/Distribution token authentication for the self-hosted registry. A robot proves itself
 * with Basic auth (its password, or an offline credential); the token's `access` is the
 * intersection of what was asked, the robot's paths and what its customer's license allows now.
 * Its parts: the store (runtime/broker/store.ts: sources, reload, indexed lookups), the
 * authenticator (auth.ts: bcrypt off the event loop, throttling), the grant (grant.ts:
 * `checkAccess`) and this HTTP front, which answers every request, whatever it holds.
 */
export class TokenBroker {
  private readonly store: BrokerStore;
  private readonly auth: Authenticator;
  private readonly ttl: number;
  private readonly log: Logger;
  private readonly sign: (payload: object) => string;
  private server?: Server;
  /** Today (UTC) and the bounds of that day in ms; see today(). */
  private day = { date: "", from: 0, to: 0 };
  /** The grant context of `day.date`; see context(). */
  private dayContext?: GrantContext;
  /** issued_at of the current second (tokens carry whole seconds). */
  private issuedAt = { second: -1, iso: "" };
  /** Tokens decided this event-loop turn, signed together after its I/O (see issued()). */
  private toSign: (() => void)[] = [];

  constructor(private readonly opts: BrokerOptions) {
    this.ttl = opts.ttlSeconds ?? TTL_BOUNDS.default;
    if (!Number.isInteger(this.ttl) || this.ttl < TTL_BOUNDS.min || this.ttl > TTL_BOUNDS.max) {
      throw new BrokerOptionError(`--ttl ${this.ttl}: a token lifetime must be ${TTL_BOUNDS.min}-${TTL_BOUNDS.max} seconds (Distribution's minimum; an hour bounds how long a revocation lags)`);
    }
    this.sign = jwsSigner(opts.key, { x5c: opts.key.x5c, typ: "JWT" });
    this.log = opts.logger ?? pino({ base: { component: "intake-broker" } });
    this.store = new BrokerStore({
      acl: opts.aclFile,
      roster: opts.rosterFile,
      rosterOptions: { tierTable: opts.tierTable, prefix: { repoPrefix: opts.repoPrefix ?? "intake" } },
      service: opts.service,
      issuer: opts.issuer,
      callerTokens: opts.credentials?.callerTokensFile,
      log: this.log,
      watchIntervalMs: opts.watchIntervalMs,
    });
    this.auth = new Authenticator({ key: opts.key.publicKey as KeyObject, issuer: opts.issuer, audience: credentialAudience(opts.service) }, opts.authLimits);
  }

  /** Re-read every source now (each on its own; a bad one keeps its last good copy). */
  reload(): void {
    this.store.reloadAll();
  }

  /** The day licenses are judged against: `opts.today`, or today in UTC, formatted once a day rather than per request. */
  private today(): string {
    if (this.opts.today) return this.opts.today();
    const now = Date.now();
    if (now < this.day.from || now >= this.day.to) {
      const d = new Date(now);
      const from = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
      this.day = { date: d.toISOString().slice(0, 10), from, to: from + 86_400_000 };
    }
    return this.day.date;
  }

  /** What a grant is judged by now; the same object all day (checkAccess and the grants only read it). */
  private context(rosterLabel?: string): GrantContext {
    const asOf = this.today();
    if (!rosterLabel && this.dayContext?.asOf === asOf) return this.dayContext;
    const ctx: GrantContext = Object.freeze({
      tierTable: this.opts.tierTable ?? DEFAULT_TIER_TABLE,
      asOf,
      enabledKinds: this.opts.enabledKinds ?? REGISTRY_KINDS,
      repoPrefix: this.opts.repoPrefix ?? "intake",
      ...(rosterLabel ? { rosterLabel } : {}),
    });
    if (!rosterLabel) this.dayContext = ctx;
    return ctx;
  }

  /** The delivery robot's grant for these scopes (see grant.ts), judged now. */
  deliveryGrant(requested: Access[]): { granted: Access[]; refused: string[] } {
    return deliveryGrant(this.store.roster, requested, this.context());
  }

  /** A registry token: `alg`, `x5c` (Distribution finds the key by it) and `typ` in the header; a single-string `aud`. */
  issue(subject: string, access: Access[]): TokenResponse {
    const now = Math.floor(Date.now() / 1000);
    const token = this.sign({ access, iss: this.opts.issuer, sub: subject, aud: this.opts.service, iat: now, nbf: now - 5, exp: now + this.ttl, jti: randomUUID() });
    if (this.issuedAt.second !== now) this.issuedAt = { second: now, iso: new Date(now * 1000).toISOString() };
    return { token, access_token: token, expires_in: this.ttl, issued_at: this.issuedAt.iso };
  }

  /**
   * A token answer, signed with the others decided in this event-loop turn: every request that
   * arrived in one poll is decided, then all their tokens are signed back to back (setImmediate),
   * then answered. Signatures made back to back cost less than signatures made one at a time
   * between requests (likely cache: a P-256 signature reads all of OpenSSL's ~150 KB precomputed
   * table, which the HTTP work in between evicts). At 8 connections this cut the broker's CPU per
   * token by about 14% (median of 10 alternated runs: 226 -> 194 us), at the cost of one
   * event-loop turn. Each token is still its own signature over its own decision, made before the
   * wait.
   */
  private issued(subject: string, access: Access[]): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const sign = () => {
        try {
          const body = this.issue(subject, access);
          resolve({ status: 200, body, json: tokenJson(body) });
        } catch (e) {
          reject(e);
        }
      };
      if (this.toSign.push(sign) === 1) setImmediate(() => this.signAll());
    });
  }

  private signAll(): void {
    const batch = this.toSign;
    this.toSign = [];
    for (const sign of batch) sign();
  }

  /** Log fields for a user name: the name only when it is a known principal (a swapped password must not reach the log). */
  private who(username: string): { user: string | null; knownUser: boolean } {
    const known = !!this.store.robot(username) || this.store.delivery?.username === username;
    return { user: known ? username : null, knownUser: known };
  }

  private async login(username: string, password: string, remote: string | undefined): Promise<LoginResult> {
    const robot = this.store.robot(username);
    const delivery = this.store.delivery?.username === username ? this.store.delivery : undefined;
    const hash = robot?.passwordHash ?? delivery?.passwordHash;
    if (hash && password.startsWith("ey") && password.split(".").length === 3) return this.auth.offline(username, password);
    // During a rotation's overlap the previous password works too, through its last day and never after.
    const principal = robot ?? delivery;
    const previous =
      principal?.previousPasswordHash && principal.previousUntil && this.today() <= principal.previousUntil ? [principal.previousPasswordHash] : [];
    return this.auth.password(username, password, hash && [hash, ...previous], remote, this.store.typicalHash());
  }

  private unauthorized(): Answer {
    return { status: 401, body: { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] }, headers: { "www-authenticate": `Basic realm="${this.opts.service}"` } };
  }

  /** One token request: credentials (or none) and the requested scopes. */
  async tokenFor(credentials: { username: string; password: string } | undefined, service: string | undefined, scopes: string[], remote?: string): Promise<Answer> {
    if (service !== undefined && service !== this.opts.service) {
      this.log.warn({ event: "deny", reason: "unknown service", remote }, "token denied");
      return { status: 400, body: { errors: [{ code: "UNSUPPORTED", message: `this broker serves ${this.opts.service}` }] } };
    }
    if (scopes.length > LIMITS.scopes) return { status: 400, body: { errors: [{ code: "BAD_REQUEST", message: `at most ${LIMITS.scopes} scopes per request` }] } };
    const requested = scopes.map(parseScope).filter((s): s is Access => s !== undefined);
    if (!credentials) {
      this.log.info({ event: "issue", user: null, requested: scopes, granted: [], remote }, "anonymous: empty token");
      return this.issued("", []);
    }
    const { username, password } = credentials;
    if (username.length > LIMITS.username || password.length > LIMITS.password) {
      this.log.warn({ event: "deny", user: null, knownUser: false, reason: "credentials too long", remote }, "authentication failed");
      return this.unauthorized();
    }
    const auth = await this.login(username, password, remote);
    // Judge by the access list as it is now: it may have been reloaded while bcrypt ran.
    const robot = this.store.robot(username);
    const delivery = this.store.delivery?.username === username ? this.store.delivery : undefined;
    if (!auth.ok || (!robot && !delivery)) {
      const reason = auth.ok ? "unknown user" : auth.reason;
      this.log.warn({ event: "deny", ...this.who(username), reason, requested: scopes, remote }, "authentication failed");
      if (!auth.ok && auth.throttled) {
        return { status: 429, body: { errors: [{ code: "TOOMANYREQUESTS", message: "too many failed logins: try again later" }] }, headers: { "retry-after": String(auth.retryAfterSeconds) } };
      }
      return this.unauthorized();
    }
    if (delivery) {
      const off = delivery.enabled ? undefined : "delivery robot disabled in the access list";
      const { granted, refused } = off ? { granted: [], refused: [] } : this.deliveryGrant(requested);
      this.log.info(
        { event: off || granted.length === 0 ? "deny" : "issue", user: username, role: "delivery", via: auth.via, requested: scopes, granted, refused, reason: off, remote },
        off ? "access denied: empty token" : "delivery token issued",
      );
      return this.issued(username, granted);
    }
    const { granted, reason } = robotGrant(this.store.roster, robot!, requested, this.context());
    this.log.info(
      { event: reason ? "deny" : "issue", user: username, customer: robot!.customer, via: auth.via, requested: scopes, granted, reason, remote },
      reason ? "access denied: empty token" : "token issued",
    );
    return this.issued(username, granted);
  }

  /** Answer one request; nothing a client sends escapes this (a bad URL, header or body is a 400). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      let url: URL;
      try {
        url = new URL(req.url ?? "/", "http://broker");
      } catch {
        throw new BadRequest(400, "malformed request target");
      }
      if (url.pathname === "/healthz") return reply(res, 200, { ok: true });
      if (url.pathname === "/registry/credentials") return await this.credentials(req, url, (status, body, headers) => reply(res, status, body, headers));
      if (url.pathname !== "/token" && url.pathname !== "/auth/token") return reply(res, 404, { errors: [{ code: "NOT_FOUND", message: "no such endpoint" }] });
      let credentials: { username: string; password: string } | undefined;
      let service = url.searchParams.get("service") ?? undefined;
      let scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
      if (req.method === "POST") {
        const form = new URLSearchParams(await readBody(req, LIMITS.body));
        if (form.get("grant_type") !== "password") return reply(res, 400, { error: "unsupported_grant_type", error_description: "only grant_type=password is supported" });
        credentials = { username: form.get("username") ?? "", password: form.get("password") ?? "" };
        service = form.get("service") ?? service;
        scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
      } else if (req.method === "GET" || req.method === "HEAD") {
        credentials = basicAuth(req.headers.authorization);
      } else {
        return reply(res, 405, { errors: [{ code: "UNSUPPORTED", message: "method not allowed" }] }, { allow: "GET, POST" });
      }
      const r = await this.tokenFor(credentials, service, scopes, req.socket.remoteAddress);
      reply(res, r.status, r.body, r.headers, r.json);
    } catch (e) {
      if (e instanceof BadRequest) return reply(res, e.status, { errors: [{ code: "BAD_REQUEST", message: e.message }] });
      const ref = randomUUID().slice(0, 8);
      this.log.error({ event: "error", ref, error: (e as Error).message }, "token request failed");
      reply(res, 500, { errors: [{ code: "UNKNOWN", message: `internal error (ref ${ref})` }] });
    }
  }

  /** Minted credentials for any kind, for callers holding a bearer token the broker accepts. */
  private async credentials(req: IncomingMessage, url: URL, send: Send): Promise<void> {
    const c = this.opts.credentials;
    if (!c) return send(404, { errors: [{ code: "NOT_FOUND", message: "the credentials endpoint is not enabled (--caller-tokens)" }] });
    if (req.method !== "GET") return send(405, { errors: [{ code: "UNSUPPORTED", message: "method not allowed" }] }, { allow: "GET" });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const caller = bearer ? createHash("sha256").update(bearer).digest("hex") : undefined;
    const remote = req.socket.remoteAddress;
    if (!caller || !this.store.callerTokenAccepted(caller)) {
      this.log.warn({ event: "deny", endpoint: "credentials", reason: "caller not authenticated", remote }, "credentials denied");
      return send(401, { errors: [{ code: "UNAUTHORIZED", message: "a bearer token the broker accepts is required" }] }, { "www-authenticate": 'Bearer realm="registry-intake"' });
    }
    const customer = url.searchParams.get("customer") ?? "";
    const kind = url.searchParams.get("kind") ?? "";
    if (!customer || !(REGISTRY_KINDS as readonly string[]).includes(kind)) {
      return send(400, { errors: [{ code: "BAD_REQUEST", message: `customer and kind (${REGISTRY_KINDS.join(", ")}) are required` }] });
    }
    const who = { caller: caller.slice(0, 12), customer, kind, remote };
    // The same decision as every other path, worded for a caller who does not see the broker's files.
    const decision = checkAccess(this.store.roster, customer, kind as RegistryKind, this.context("the roster"));
    if (!decision.allowed) {
      this.log.warn({ event: "deny", endpoint: "credentials", ...who, reason: decision.reason }, "credential denied");
      return send(403, { errors: [{ code: "DENIED", message: decision.reason }] });
    }
    try {
      const cred = await c.mint(customer, kind as RegistryKind);
      this.log.info({ event: "issue", endpoint: "credentials", ...who, expiresAt: cred.expiresAt?.toISOString() ?? null, longLived: cred.longLived ?? false }, "credential minted");
      send(200, { registry: cred.registry, namespace: cred.namespace, username: cred.username, password: cred.password, expiresAt: cred.expiresAt?.toISOString() ?? null, ...(cred.longLived ? { longLived: true } : {}) });
    } catch (e) {
      const denied = e instanceof AccessDenied;
      const ref = randomUUID().slice(0, 8);
      this.log.warn({ event: "deny", endpoint: "credentials", ...who, ref, reason: (e as Error).message }, denied ? "credential denied" : "credential failed");
      // The caller learns that minting failed and a reference; the details stay in the log.
      send(denied ? 403 : 502, { errors: [{ code: denied ? "DENIED" : "UPSTREAM", message: denied ? "denied by the stack's settings (see the broker log)" : "minting failed upstream", ref }] });
    }
  }

  /** Serve on host:port; watches every source for changes. Resolves to the bound port. */
  async listen(host: string, port: number): Promise<number> {
    await this.auth.warm(this.store.typicalHash());
    const server = createServer({ maxHeaderSize: LIMITS.headers, requestTimeout: 30_000, headersTimeout: 20_000, keepAliveTimeout: 15_000 }, (req, res) => {
      // The last line of defence: handle() catches everything, but a bug must not end the process.
      this.handle(req, res).catch((e) => {
        this.log.error({ event: "error", error: (e as Error).message }, "request handler failed");
        res.destroy();
      });
    });
    // A client idle mid-request (slow headers or body) is cut at 30 s rather than Node's 5 min.
    server.setTimeout(30_000, (socket) => socket.destroy());
    // CONNECT and Upgrade requests never reach the request handler: answer them here rather than drop them.
    const refuse = (_req: IncomingMessage, socket: import("node:stream").Duplex) => socket.end("HTTP/1.1 405 Method Not Allowed\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    server.on("connect", refuse);
    server.on("upgrade", refuse);
    server.on("clientError", (_e, socket) => {
      if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
      else socket.destroy();
    });
    this.server = server;
    this.store.startWatching();
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve((server.address() as { port: number }).port));
    });
  }

  close(): Promise<void> {
    this.store.stopWatching();
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

/** Basic credentials of an Authorization header, or undefined (anonymous) when there are none. */
function basicAuth(h: string | undefined): { username: string; password: string } | undefined {
  if (!h || !/^basic(\s|$)/i.test(h)) return undefined;
  const m = /^Basic\s+([A-Za-z0-9+/=_-]*)\s*$/i.exec(h);
  if (!m) throw new BadRequest(400, "malformed Basic credentials in the Authorization header");
  const decoded = Buffer.from(m[1], "base64").toString("utf8");
  const i = decoded.indexOf(":");
  return i < 0 ? { username: decoded, password: "" } : { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
}

function readBody(req: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new BadRequest(413, "request body too large"));
        req.resume();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", () => reject(new BadRequest(400, "the request body could not be read")));
  });
}
