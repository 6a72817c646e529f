import { createHash, randomUUID } from "node:crypto";
import { readdirSync, readFileSync, statSync, unwatchFile, watchFile } from "node:fs";
import * as path from "node:path";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import bcrypt from "bcryptjs";
import { jwtVerify, SignJWT } from "jose";
import pino, { type Logger } from "pino";
import { loadRoster, type Roster } from "../../customers/roster";
import { customerState } from "../../customers/status";
import { DEFAULT_TIER_TABLE, tierAllows, type TierTable } from "../../customers/tiers";
import { issueMessage } from "../../customers/messages";
import { aclSchema, ROBOT_ACTIONS, type Acl, type AclDelivery, type AclEntry } from "../acl";
import type { SigningKey } from "./keys";
import { REGISTRY_KINDS, type RegistryKind } from "../../customers/tiers";
import { AccessDenied } from "../access";
import type { MintedCredential } from "../mint/types";
import { grant, parseScope, type Access } from "./scope";

export interface BrokerOptions {
  aclFile: string;
  rosterFile: string;
  key: SigningKey;
  service: string;
  issuer: string;
  /** Token lifetime; Distribution wants ≥ 60 s and longer than the slowest blob upload. */
  ttlSeconds?: number;
  tierTable?: TierTable;
  /** The stack's repo prefix: a robot's only allowed path is `<prefix>/<customer>/*`. */
  repoPrefix?: string;
  /** The day licenses are judged against; default today (UTC). */
  today?: () => string;
  logger?: Logger;
  /** GET /registry/credentials: who may call it (sha256 hex of accepted bearer tokens) and how to mint. */
  credentials?: {
    callerTokenHashes: ReadonlySet<string>;
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

/** Mint the offline 1 h robot credential: a JWT signed by the broker's key, accepted as the Basic-auth password. */
export async function mintRobotCredential(key: SigningKey, opts: { username: string; service: string; issuer: string; ttlSeconds?: number }): Promise<{ password: string; expiresAt: Date }> {
  const now = Math.floor(Date.now() / 1000);
  const exp = now + (opts.ttlSeconds ?? 3600);
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

/** Who authenticated: a customer's robot, or the platform's delivery robot. */
type Principal = { role: "robot"; entry: AclEntry } | { role: "delivery"; entry: AclDelivery };
type Auth = ({ ok: true; via: "password" | "credential" } & Principal) | { ok: false; reason: string };

/**
 * Docker/Distribution token authentication for the self-hosted registry. A robot proves itself
 * with Basic auth (its password, or an offline credential); the token's `access` is the
 * intersection of what was asked, the robot's paths and what its customer's license allows now.
 */
export class TokenBroker {
  private acl!: Acl;
  private roster!: Roster;
  private readonly ttl: number;
  private readonly log: Logger;
  private readonly verified = new Map<string, number>();
  private server?: Server;

  constructor(private readonly opts: BrokerOptions) {
    this.ttl = opts.ttlSeconds ?? 3600;
    if (this.ttl < 60) throw new Error(`token lifetime ${this.ttl} s is below Distribution's 60 s minimum`);
    this.log = opts.logger ?? pino({ base: { component: "intake-broker" } });
    this.reload(true);
  }

  /** Re-read the access list and the roster; on a bad file keep serving the last good ones. */
  reload(first = false): void {
    try {
      const acl = readAclSource(this.opts.aclFile);
      if (acl.service !== this.opts.service || acl.issuer !== this.opts.issuer) {
        throw new Error(`access list is for service ${acl.service} / issuer ${acl.issuer}, the broker for ${this.opts.service} / ${this.opts.issuer}`);
      }
      const roster = loadRoster(this.opts.rosterFile, { tierTable: this.opts.tierTable, prefix: { repoPrefix: this.opts.repoPrefix ?? "intake" } });
      this.acl = acl;
      this.roster = roster;
      this.verified.clear();
      this.log.info({ event: "reload", robots: acl.entries.length, customers: roster.customers.length }, "access list and roster loaded");
    } catch (e) {
      if (first) throw e;
      this.log.error({ event: "reload-failed", error: (e as Error).message }, "kept the previous access list and roster");
    }
  }

  private today(): string {
    return this.opts.today?.() ?? new Date().toISOString().slice(0, 10);
  }

  private principal(username: string): Principal | undefined {
    const entry = this.acl.entries.find((e) => e.username === username);
    if (entry) return { role: "robot", entry };
    if (this.acl.delivery?.username === username) return { role: "delivery", entry: this.acl.delivery };
    return undefined;
  }

  async authenticate(username: string, password: string): Promise<Auth> {
    const who = this.principal(username);
    if (!who) return { ok: false, reason: "unknown user" };
    if (password.split(".").length === 3 && password.startsWith("ey")) {
      try {
        await jwtVerify(password, this.opts.key.publicKey, { issuer: this.opts.issuer, audience: credentialAudience(this.opts.service), subject: username });
        const current = this.principal(username);
        return current ? { ok: true, via: "credential", ...current } : { ok: false, reason: "unknown user" };
      } catch (e) {
        return { ok: false, reason: `credential refused: ${(e as Error).message}` };
      }
    }
    // bcrypt is slow by design; remember a verified (user, password, hash) for a minute.
    const cacheKey = createHash("sha256").update(`${username}\0${password}\0${who.entry.passwordHash}`).digest("hex");
    const until = this.verified.get(cacheKey);
    if (until && until > Date.now()) return { ok: true, via: "password", ...who };
    if (!(await bcrypt.compare(password, who.entry.passwordHash))) return { ok: false, reason: "wrong password" };
    // The access list may have been reloaded while bcrypt ran: judge by the current entry.
    const current = this.principal(username);
    if (!current || current.entry.passwordHash !== who.entry.passwordHash) return { ok: false, reason: "robot changed while authenticating" };
    this.verified.set(cacheKey, Date.now() + 60_000);
    return { ok: true, via: "password", ...current };
  }

  /** Why this customer may not have distribution access now, or undefined. */
  customerDenial(customerId: string): string | undefined {
    const c = this.roster.customers.find((x) => x.id === customerId);
    if (!c) return `customer ${customerId} is not in the roster`;
    const state = customerState(c, this.today());
    if (state.status !== "active") return `customer ${c.id} is ${state.status} (${state.reason})`;
    if (!tierAllows(c.tier, "distribution", this.opts.tierTable ?? DEFAULT_TIER_TABLE)) return `tier ${c.tier} does not allow distribution`;
    if (!c.registries.includes("distribution")) return `customer ${c.id} did not ask for distribution`;
    return undefined;
  }

  /**
   * The delivery robot's grant: pull and push on `<prefix>/<customer>/<repo...>` for each asked
   * repository whose customer may have distribution today; nothing outside customer namespaces.
   * Returns the grant and, per refused repository, why.
   */
  deliveryGrant(requested: Access[]): { granted: Access[]; refused: string[] } {
    const prefix = `${this.opts.repoPrefix ?? "intake"}/`;
    const granted: Access[] = [];
    const refused: string[] = [];
    for (const r of requested) {
      if (r.type !== "repository") continue;
      const parts = r.name.startsWith(prefix) ? r.name.slice(prefix.length).split("/") : [];
      if (parts.length < 2 || parts.some((p) => !p || p === "." || p === "..")) {
        refused.push(`${r.name}: not under ${prefix}<customer>/`);
        continue;
      }
      const why = this.customerDenial(parts[0]);
      if (why) {
        refused.push(`${r.name}: ${why}`);
        continue;
      }
      const actions = r.actions.filter((a) => (ROBOT_ACTIONS as readonly string[]).includes(a));
      if (actions.length === 0) continue;
      const existing = granted.find((g) => g.name === r.name);
      if (existing) existing.actions = [...new Set([...existing.actions, ...actions])];
      else granted.push({ type: "repository", name: r.name, actions: [...new Set(actions)] });
    }
    return { granted, refused };
  }

  /** Why this robot's customer may not have distribution access now, or undefined. */
  denial(entry: AclEntry): string | undefined {
    if (!entry.enabled) return "robot disabled in the access list";
    // Never trust a path the access list claims: a robot reaches its own customer's namespace only.
    const own = `${this.opts.repoPrefix ?? "intake"}/${entry.customer}/*`;
    const foreign = entry.paths.filter((p) => p !== own);
    if (foreign.length) return `access-list paths ${foreign.join(", ")} are outside customer ${entry.customer}'s namespace ${own}`;
    return this.customerDenial(entry.customer);
  }

  async issue(subject: string, access: Access[]): Promise<TokenResponse> {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: this.opts.key.alg, x5c: this.opts.key.x5c, typ: "JWT" })
      .setIssuer(this.opts.issuer)
      .setSubject(subject)
      .setAudience(this.opts.service)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + this.ttl)
      .setJti(randomUUID())
      .sign(this.opts.key.privateKey);
    return { token, access_token: token, expires_in: this.ttl, issued_at: new Date(now * 1000).toISOString() };
  }

  /** One token request: credentials (or none) and the requested scopes. */
  async tokenFor(credentials: { username: string; password: string } | undefined, service: string | undefined, scopes: string[], remote?: string): Promise<{ status: number; body: unknown }> {
    if (service !== undefined && service !== this.opts.service) {
      this.log.warn({ event: "deny", reason: `unknown service ${service}`, remote }, "token denied");
      return { status: 400, body: { errors: [{ code: "UNSUPPORTED", message: `this broker serves ${this.opts.service}` }] } };
    }
    const requested = scopes.map(parseScope).filter((s): s is Access => s !== undefined);
    if (!credentials) {
      this.log.info({ event: "issue", user: null, requested: scopes, granted: [], remote }, "anonymous: empty token");
      return { status: 200, body: await this.issue("", []) };
    }
    const auth = await this.authenticate(credentials.username, credentials.password);
    if (!auth.ok) {
      this.log.warn({ event: "deny", user: credentials.username, reason: auth.reason, requested: scopes, remote }, "authentication failed");
      return { status: 401, body: { errors: [{ code: "UNAUTHORIZED", message: "authentication required" }] } };
    }
    if (auth.role === "delivery") {
      const off = auth.entry.enabled ? undefined : "delivery robot disabled in the access list";
      const { granted, refused } = off ? { granted: [], refused: [] } : this.deliveryGrant(requested);
      this.log.info(
        { event: off || granted.length === 0 ? "deny" : "issue", user: credentials.username, role: "delivery", via: auth.via, requested: scopes, granted, refused, reason: off, remote },
        off ? "access denied: empty token" : "delivery token issued",
      );
      return { status: 200, body: await this.issue(credentials.username, granted) };
    }
    const why = this.denial(auth.entry);
    const granted = why ? [] : grant(auth.entry, requested);
    this.log.info(
      { event: why ? "deny" : "issue", user: credentials.username, customer: auth.entry.customer, via: auth.via, requested: scopes, granted, reason: why, remote },
      why ? "access denied: empty token" : "token issued",
    );
    return { status: 200, body: await this.issue(credentials.username, granted) };
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://broker");
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      if (url.pathname === "/healthz") return send(200, { ok: true });
      if (url.pathname === "/registry/credentials") return await this.credentials(req, url, send);
      if (url.pathname !== "/token" && url.pathname !== "/auth/token") return send(404, { errors: [{ code: "NOT_FOUND", message: url.pathname }] });
      let credentials: { username: string; password: string } | undefined;
      let service = url.searchParams.get("service") ?? undefined;
      let scopes = url.searchParams.getAll("scope").flatMap((s) => s.split(" ")).filter(Boolean);
      if (req.method === "POST") {
        const form = new URLSearchParams(await readBody(req));
        if (form.get("grant_type") !== "password") return send(400, { error: "unsupported_grant_type", error_description: "only grant_type=password is supported" });
        credentials = { username: form.get("username") ?? "", password: form.get("password") ?? "" };
        service = form.get("service") ?? service;
        scopes = (form.get("scope") ?? "").split(" ").filter(Boolean);
      } else if (req.method === "GET") {
        const h = req.headers.authorization;
        if (h?.startsWith("Basic ")) {
          const decoded = Buffer.from(h.slice(6), "base64").toString("utf8");
          const i = decoded.indexOf(":");
          credentials = i < 0 ? { username: decoded, password: "" } : { username: decoded.slice(0, i), password: decoded.slice(i + 1) };
        }
      } else {
        return send(405, { errors: [{ code: "UNSUPPORTED", message: req.method }] });
      }
      const r = await this.tokenFor(credentials, service, scopes, req.socket.remoteAddress);
      send(r.status, r.body, r.status === 401 ? { "www-authenticate": `Basic realm="${this.opts.service}"` } : {});
    } catch (e) {
      this.log.error({ event: "error", error: (e as Error).message }, "token request failed");
      send(500, { errors: [{ code: "UNKNOWN", message: "internal error" }] });
    }
  }

  /** Minted credentials for any kind, for callers holding a bearer token the broker accepts. */
  private async credentials(req: IncomingMessage, url: URL, send: (status: number, body: unknown, headers?: Record<string, string>) => void): Promise<void> {
    const c = this.opts.credentials;
    if (!c) return send(404, { errors: [{ code: "NOT_FOUND", message: "the credentials endpoint is not enabled (--caller-tokens)" }] });
    if (req.method !== "GET") return send(405, { errors: [{ code: "UNSUPPORTED", message: req.method }] });
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? "")?.[1];
    const caller = bearer ? createHash("sha256").update(bearer).digest("hex") : undefined;
    const remote = req.socket.remoteAddress;
    if (!caller || !c.callerTokenHashes.has(caller)) {
      this.log.warn({ event: "deny", endpoint: "credentials", reason: "caller not authenticated", remote }, "credentials denied");
      return send(401, { errors: [{ code: "UNAUTHORIZED", message: "a bearer token the broker accepts is required" }] }, { "www-authenticate": 'Bearer realm="registry-intake"' });
    }
    const customer = url.searchParams.get("customer") ?? "";
    const kind = url.searchParams.get("kind") ?? "";
    if (!customer || !(REGISTRY_KINDS as readonly string[]).includes(kind)) {
      return send(400, { errors: [{ code: "BAD_REQUEST", message: `customer and kind (${REGISTRY_KINDS.join(", ")}) are required` }] });
    }
    const who = { caller: caller.slice(0, 12), customer, kind, remote };
    try {
      const cred = await c.mint(customer, kind as RegistryKind);
      this.log.info({ event: "issue", endpoint: "credentials", ...who, expiresAt: cred.expiresAt?.toISOString() ?? null, longLived: cred.longLived ?? false }, "credential minted");
      send(200, { registry: cred.registry, namespace: cred.namespace, username: cred.username, password: cred.password, expiresAt: cred.expiresAt?.toISOString() ?? null, ...(cred.longLived ? { longLived: true } : {}) });
    } catch (e) {
      const denied = e instanceof AccessDenied;
      this.log.warn({ event: "deny", endpoint: "credentials", ...who, reason: (e as Error).message }, denied ? "credential denied" : "credential failed");
      send(denied ? 403 : 502, { errors: [{ code: denied ? "DENIED" : "UPSTREAM", message: (e as Error).message }] });
    }
  }

  /** Serve on host:port; watches the access list and roster for changes. Resolves to the bound port. */
  listen(host: string, port: number): Promise<number> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    for (const f of [this.opts.aclFile, this.opts.rosterFile]) watchFile(f, { interval: 250 }, () => this.reload());
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve((server.address() as { port: number }).port));
    });
  }

  close(): Promise<void> {
    for (const f of [this.opts.aclFile, this.opts.rosterFile]) unwatchFile(f);
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new Error("request body too large"));
        req.destroy();
      } else chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/**
 * One access list from a file, or from every `*.json` of a folder merged (a sharded stack's parts:
 * the platform stack's, with the delivery robot, and one per shard stack). The parts must agree
 * on service and issuer; a user name in two parts, or two delivery robots, is an error naming both.
 */
export function readAclSource(fileOrDir: string): Acl {
  if (!statSync(fileOrDir).isDirectory()) return readAcl(fileOrDir);
  const files = readdirSync(fileOrDir).filter((f) => f.endsWith(".json") && !f.startsWith(".")).sort().map((f) => path.join(fileOrDir, f));
  if (!files.length) throw new Error(`${fileOrDir}: no access-list files (*.json) in this folder`);
  const parts = files.map((f) => ({ file: f, acl: readAcl(f) }));
  const first = parts[0];
  const seen = new Map<string, string>();
  let delivery: { file: string; entry: NonNullable<Acl["delivery"]> } | undefined;
  for (const { file, acl } of parts) {
    if (acl.service !== first.acl.service || acl.issuer !== first.acl.issuer) {
      throw new Error(`${file}: service ${acl.service} / issuer ${acl.issuer} differ from ${first.file}'s ${first.acl.service} / ${first.acl.issuer}`);
    }
    for (const e of acl.entries) {
      const other = seen.get(e.username);
      if (other) throw new Error(`${file}: robot ${e.username} is also in ${other}`);
      seen.set(e.username, file);
    }
    if (acl.delivery) {
      if (delivery) throw new Error(`${file}: a second delivery robot (the first is in ${delivery.file})`);
      delivery = { file, entry: acl.delivery };
    }
  }
  return { version: 1, service: first.acl.service, issuer: first.acl.issuer, entries: parts.flatMap((p) => p.acl.entries), ...(delivery ? { delivery: delivery.entry } : {}) };
}

/** Read and validate an access list; errors name the file and each problem. */
export function readAcl(file: string): Acl {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: ${(e as Error).message}`);
  }
  // No reportInput: a plain password written where a hash belongs must not reach the log.
  const r = aclSchema.safeParse(doc);
  if (!r.success) throw new Error(`${file}: not an access list:\n${r.error.issues.map((i) => `  ${i.path.join(".")}: ${issueMessage(i)}`).join("\n")}`);
  return r.data;
}
