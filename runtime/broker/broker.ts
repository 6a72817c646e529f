import type { Roster } from "../../customers/roster";
import { createHash, randomUUID, type KeyObject } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { SignJWT } from "jose";
import pino, { type Logger } from "pino";
import { DEFAULT_TIER_TABLE, REGISTRY_KINDS, type RegistryKind, type TierTable } from "../../core/tiers";
import { AccessDenied, checkAccess, customerById } from "../../core/access";
import { PullLimits } from "./pull-limits";
import { credentialJson, type MintedCredential } from "../mint/types";
import { Authenticator, type AuthLimits, type LoginResult } from "./auth";
import { catalogueOf, deliveryGrant, robotGrant, type GrantContext } from "./grant";
import { jwsSigner, type SigningKey } from "./keys";
import { BrokerMetrics, routeOf, type DenyCode, type Endpoint, type Route } from "./metrics";
import { NO_CUSTOMER } from "./principal";
import { parseScope, type Access } from "./scope";
import { BrokerStore } from "./store";
import type { Catalogue, TierEntitlements } from "../../customers/entitlements";

import { BrokerOptionError, TTL_BOUNDS } from "./ttl";

export { readAclSource } from "./store";

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
  /** The stack's product catalogue (setting `products`): the roster's entitlements name it, and robots reach only their customer's entitled products. */
  products?: Catalogue;
  tierEntitlements?: TierEntitlements;
  /** The stack's repo prefix: a robot's only allowed path is `<prefix>/<customer>/*`. */
  repoPrefix?: string;
  /** The day licenses are judged against; default today (UTC). */
  today?: () => string;
  logger?: Logger;
  /** Login throttling; defaults in DEFAULT_AUTH_LIMITS. */
  authLimits?: Partial<AuthLimits>;
  /** The clock of login throttling and of the verified-password memory, in ms (default Date.now). */
  authClock?: () => number;
  /** Poll interval of the file watchers (default 250 ms). */
  watchIntervalMs?: number;
  /** Also export the process's own metrics (CPU, memory, event loop, GC) on /metrics; default off (`intake broker` turns them on). */
  processMetrics?: boolean;
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
export async function mintRobotCredential(
  key: SigningKey,
  opts: { username: string; service: string; issuer: string; ttlSeconds?: number },
): Promise<{ password: string; expiresAt: Date }> {
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

  /** The roster as the broker holds it now (reloaded as its files change). */
  get roster(): Roster {
    return this.store.roster;
  }
  private readonly auth: Authenticator;
  private readonly ttl: number;
  private readonly log: Logger;
  private readonly sign: (payload: object) => string;
  /** What /metrics serves (listenMetrics): a registry of this broker's own. */
  readonly metrics: BrokerMetrics;
  private server?: Server;
  /** Today (UTC) and the bounds of that day in ms; see today(). */
  private day = { date: "", from: 0, to: 0 };
  /** The grant context of `day.date`; see context(). */
  private dayContext?: GrantContext;
  /** Pulls per customer and product today, against their entitlements' maxPullsPerDay. */
  private readonly pullLimits = new PullLimits();
  /** issued_at of the current second (tokens carry whole seconds). */
  private issuedAt = { second: -1, iso: "" };
  /** Tokens decided this event-loop turn, signed together after its I/O (see issued()). */
  private toSign: (() => void)[] = [];

  constructor(private readonly opts: BrokerOptions) {
    this.ttl = opts.ttlSeconds ?? TTL_BOUNDS.default;
    if (!Number.isInteger(this.ttl) || this.ttl < TTL_BOUNDS.min || this.ttl > TTL_BOUNDS.max) {
      throw new BrokerOptionError(
        `--ttl ${this.ttl}: a token lifetime must be ${TTL_BOUNDS.min}-${TTL_BOUNDS.max} seconds (Distribution's minimum; an hour bounds how long a revocation lags)`,
      );
    }
    this.sign = jwsSigner(opts.key, { x5c: opts.key.x5c, typ: "JWT" });
    this.log = opts.logger ?? pino({ base: { component: "intake-broker" } });
    this.metrics = new BrokerMetrics({ pendingLogins: () => this.auth.pending, processMetrics: opts.processMetrics });
    this.store = new BrokerStore({
      acl: opts.aclFile,
      roster: opts.rosterFile,
      rosterOptions: { tierTable: opts.tierTable, prefix: { repoPrefix: opts.repoPrefix ?? "intake" }, products: opts.products },
      service: opts.service,
      issuer: opts.issuer,
      callerTokens: opts.credentials?.callerTokensFile,
      log: this.log,
      watchIntervalMs: opts.watchIntervalMs,
      onReload: (source, ok) => this.metrics.reloaded(source, ok),
    });
    this.auth = new Authenticator(
      { key: opts.key.publicKey as KeyObject, issuer: opts.issuer, audience: credentialAudience(opts.service) },
      opts.authLimits,
      opts.authClock,
    );
  }

  /** Re-read every source now (each on its own; a bad one keeps its last good copy). */
  reload(): Promise<void> {
    return this.store.reloadAll();
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
      ...(this.opts.products ? { products: this.opts.products, tierEntitlements: this.opts.tierEntitlements ?? {} } : {}),
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
    const token = this.sign({
      access,
      iss: this.opts.issuer,
      sub: subject,
      aud: this.opts.service,
      iat: now,
      nbf: now - 5,
      exp: now + this.ttl,
      jti: randomUUID(),
    });
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

  /**
   * Log fields, and the metrics' customer label, for a user name: the name (with its customer or
   * role) only when it is a known principal; a swapped password must reach neither the log nor a label.
   */
  private who(username: string): { fields: { user: string | null; knownUser: boolean; customer?: string; role?: "delivery" }; label: string } {
    const robot = this.store.robot(username);
    if (robot) return { fields: { user: username, knownUser: true, customer: robot.customer }, label: robot.customer };
    if (this.store.delivery?.username === username) return { fields: { user: username, knownUser: true, role: "delivery" }, label: NO_CUSTOMER.delivery };
    return { fields: { user: null, knownUser: false }, label: NO_CUSTOMER.unknown };
  }

  /** A token or credential given: one log line and one count. */
  private logIssue(endpoint: Endpoint, customer: string, fields: object, msg: string): void {
    this.log.info({ event: "issue", ...fields }, msg);
    this.metrics.issued(customer, endpoint);
  }

  /** A denial: one log line and one count, with the same customer and reason code. */
  private logDeny(endpoint: Endpoint, customer: string, code: DenyCode, fields: object, msg: string, level: "info" | "warn" = "warn"): void {
    this.log[level]({ event: "deny", ...fields, code }, msg);
    this.metrics.denied(customer, endpoint, code);
  }

  private async login(username: string, password: string, remote: string | undefined): Promise<LoginResult> {
    const robot = this.store.robot(username);
    const delivery = this.store.delivery?.username === username ? this.store.delivery : undefined;
    const hash = robot?.passwordHash ?? delivery?.passwordHash;
    // During a rotation's overlap the previous password works too, through its last day and never after.
    const principal = robot ?? delivery;
    const previous =
      principal?.previousPasswordHash && principal.previousUntil && this.today() <= principal.previousUntil ? [principal.previousPasswordHash] : [];
    return this.auth.password(username, password, hash && [hash, ...previous], remote, this.store.typicalHash());
  }

  private unauthorized(): Answer {
    return {
      status: 401,
      body: { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] },
      headers: { "www-authenticate": `Basic realm="${this.opts.service}"` },
    };
  }

  /**
   * One token request: credentials (or none) and the requested scopes. Each decision is logged
   * once (`issue` or `deny`) and counted once. A request that asked for scopes and was granted none
   * of them is a denial (`nothing_allowed`), though the answer is an empty token as Distribution expects.
   */
  async tokenFor(
    credentials: { username: string; password: string } | undefined,
    service: string | undefined,
    scopes: string[],
    remote?: string,
  ): Promise<Answer> {
    if (service !== undefined && service !== this.opts.service) {
      this.logDeny("token", NO_CUSTOMER.unknown, "unknown_service", { reason: "unknown service", remote }, "token denied");
      return { status: 400, body: { errors: [{ code: "UNSUPPORTED", message: `this broker serves ${this.opts.service}` }] } };
    }
    if (scopes.length > LIMITS.scopes)
      return { status: 400, body: { errors: [{ code: "BAD_REQUEST", message: `at most ${LIMITS.scopes} scopes per request` }] } };
    const requested = scopes.map(parseScope).filter((s): s is Access => s !== undefined);
    if (!credentials) {
      this.logIssue("token", NO_CUSTOMER.anonymous, { user: null, requested: scopes, granted: [], remote }, "anonymous: empty token");
      return this.issued("", []);
    }
    const { username, password } = credentials;
    if (username.length > LIMITS.username || password.length > LIMITS.password) {
      this.metrics.authFailed("credentials_too_long");
      this.logDeny(
        "token",
        NO_CUSTOMER.unknown,
        "credentials_too_long",
        { user: null, knownUser: false, reason: "credentials too long", remote },
        "authentication failed",
      );
      return this.unauthorized();
    }
    const auth = await this.login(username, password, remote);
    // Judge by the access list as it is now: it may have been reloaded while bcrypt ran.
    const robot = this.store.robot(username);
    const delivery = this.store.delivery?.username === username ? this.store.delivery : undefined;
    if (!auth.ok || (!robot && !delivery)) {
      const { reason, code } = auth.ok ? { reason: "unknown user", code: "unknown_user" as const } : auth;
      const who = this.who(username);
      this.metrics.authFailed(code);
      this.logDeny("token", who.label, code, { ...who.fields, reason, requested: scopes, remote }, "authentication failed");
      if (!auth.ok && auth.throttled) {
        return {
          status: 429,
          body: { errors: [{ code: "TOOMANYREQUESTS", message: "too many failed logins: try again later" }] },
          headers: { "retry-after": String(auth.retryAfterSeconds) },
        };
      }
      return this.unauthorized();
    }
    if (delivery) {
      const off = delivery.enabled ? undefined : "delivery robot disabled in the access list";
      const { granted, refused } = off ? { granted: [], refused: [] } : this.deliveryGrant(requested);
      const fields = { user: username, role: "delivery", via: auth.via, requested: scopes, granted, refused, remote };
      if (off) this.logDeny("token", NO_CUSTOMER.delivery, "delivery_disabled", { ...fields, reason: off }, "access denied: empty token", "info");
      else if (scopes.length > 0 && granted.length === 0)
        this.logDeny(
          "token",
          NO_CUSTOMER.delivery,
          "nothing_allowed",
          { ...fields, reason: "no requested scope is allowed" },
          "access denied: empty token",
          "info",
        );
      else this.logIssue("token", NO_CUSTOMER.delivery, fields, "delivery token issued");
      return this.issued(username, granted);
    }
    const { granted, reason, code } = robotGrant(this.store.roster, robot!, requested, this.context());
    const customer = robot!.customer;
    const fields = { user: username, customer, via: auth.via, requested: scopes, granted, remote };
    // A product's maxPullsPerDay: a token that would pull past it is refused (429), and counts nothing.
    const catalogue = granted.length ? catalogueOf(this.store.roster, this.context()) : undefined;
    const entry = catalogue && customerById(this.store.roster, customer);
    const over = entry && this.pullLimits.take(this.today(), entry, this.opts.repoPrefix ?? "intake", granted, catalogue.tierEntitlements);
    if (over) {
      const message = `customer ${customer} has pulled ${over.product} ${over.pulled} times today, its limit (maxPullsPerDay ${over.limit}); more after 00:00 UTC`;
      this.logDeny("token", customer, "pull_limit", { ...fields, granted: [], product: over.product, reason: message }, "pull limit reached", "info");
      const retry = Math.max(1, Math.ceil((Date.parse(`${this.today()}T00:00:00Z`) + 86_400_000 - Date.now()) / 1000));
      return { status: 429, body: { errors: [{ code: "TOOMANYREQUESTS", message }] }, headers: { "retry-after": String(retry) } };
    }
    if (code) this.logDeny("token", customer, code, { ...fields, reason }, "access denied: empty token", "info");
    else if (scopes.length > 0 && granted.length === 0) {
      const own = `${this.context().repoPrefix}/${customer}/*`;
      this.logDeny(
        "token",
        customer,
        "nothing_allowed",
        { ...fields, reason: `no requested scope is allowed (this robot's namespace: ${own})` },
        "access denied: empty token",
        "info",
      );
    } else this.logIssue("token", customer, fields, "token issued");
    return this.issued(username, granted);
  }

  /** Answer one request, and time it by route and status class; nothing a client sends escapes this (a bad URL, header or body is a 400). */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const at: { route: Route } = { route: "other" };
    try {
      await this.answer(req, res, at);
    } finally {
      this.metrics.observe(at.route, res.headersSent ? res.statusCode : 0, (performance.now() - started) / 1000);
    }
  }

  private async answer(req: IncomingMessage, res: ServerResponse, at: { route: Route }): Promise<void> {
    try {
      let url: URL;
      try {
        url = new URL(req.url ?? "/", "http://broker");
      } catch {
        throw new BadRequest(400, "malformed request target");
      }
      at.route = routeOf(url.pathname);
      if (at.route === "healthz") return reply(res, 200, { ok: true });
      if (at.route === "credentials") return await this.credentials(req, url, (status, body, headers) => reply(res, status, body, headers));
      if (at.route !== "token") return reply(res, 404, { errors: [{ code: "NOT_FOUND", message: "no such endpoint" }] });
      let credentials: { username: string; password: string } | undefined;
      let service = url.searchParams.get("service") ?? undefined;
      let scopes = url.searchParams
        .getAll("scope")
        .flatMap((s) => s.split(" "))
        .filter(Boolean);
      if (req.method === "POST") {
        const form = new URLSearchParams(await readBody(req, LIMITS.body));
        if (form.get("grant_type") !== "password")
          return reply(res, 400, { error: "unsupported_grant_type", error_description: "only grant_type=password is supported" });
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
      this.metrics.authFailed("caller_not_authenticated");
      this.logDeny(
        "credentials",
        NO_CUSTOMER.unknown,
        "caller_not_authenticated",
        { endpoint: "credentials", reason: "caller not authenticated", remote },
        "credentials denied",
      );
      return send(
        401,
        { errors: [{ code: "UNAUTHORIZED", message: "a bearer token the broker accepts is required" }] },
        { "www-authenticate": 'Bearer realm="registry-intake"' },
      );
    }
    const customer = url.searchParams.get("customer") ?? "";
    const kind = url.searchParams.get("kind") ?? "";
    if (!customer || !(REGISTRY_KINDS as readonly string[]).includes(kind)) {
      return send(400, { errors: [{ code: "BAD_REQUEST", message: `customer and kind (${REGISTRY_KINDS.join(", ")}) are required` }] });
    }
    const who = { caller: caller.slice(0, 12), customer, kind, remote };
    // The same decision as every other path, worded for a caller who does not see the broker's files.
    const decision = checkAccess(this.store.roster, customer, kind as RegistryKind, this.context("the roster"));
    // The label is a roster id or _unknown: never a name the caller made up.
    const label = decision.allowed || decision.code !== "no_customer" ? customer : NO_CUSTOMER.unknown;
    if (!decision.allowed) {
      this.logDeny("credentials", label, decision.code, { endpoint: "credentials", ...who, reason: decision.reason }, "credential denied");
      return send(403, { errors: [{ code: "DENIED", message: decision.reason }] });
    }
    try {
      const cred = await c.mint(customer, kind as RegistryKind);
      this.logIssue(
        "credentials",
        label,
        { endpoint: "credentials", ...who, expiresAt: cred.expiresAt?.toISOString() ?? null, longLived: cred.longLived ?? false },
        "credential minted",
      );
      send(200, credentialJson(cred));
    } catch (e) {
      const denied = e instanceof AccessDenied;
      const ref = randomUUID().slice(0, 8);
      this.logDeny(
        "credentials",
        label,
        denied ? "mint_denied" : "mint_failed",
        { endpoint: "credentials", ...who, ref, reason: (e as Error).message },
        denied ? "credential denied" : "credential failed",
      );
      // The caller learns that minting failed and a reference; the details stay in the log.
      send(denied ? 403 : 502, {
        errors: [
          { code: denied ? "DENIED" : "UPSTREAM", message: denied ? "denied by the stack's settings (see the broker log)" : "minting failed upstream", ref },
        ],
      });
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
    const refuse = (_req: IncomingMessage, socket: import("node:stream").Duplex) =>
      socket.end("HTTP/1.1 405 Method Not Allowed\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    server.on("connect", refuse);
    server.on("upgrade", refuse);
    server.on("connection", (socket) => {
      this.metrics.connectionOpened();
      socket.once("close", () => this.metrics.connectionClosed());
    });
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

  /**
   * Serve GET /metrics (Prometheus text) on a listener of its own, never on the token listener:
   * that one is public, and the labels name the customers. Resolves to the bound port.
   */
  listenMetrics(host: string, port: number): Promise<number> {
    return this.metrics.listen(host, port);
  }

  async close(): Promise<void> {
    this.store.stopWatching();
    const server = this.server;
    await this.metrics.close();
    if (!server) return;
    await new Promise<void>((resolve) => {
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
