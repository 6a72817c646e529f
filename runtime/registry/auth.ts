import { discard, readJson, RegistryError, TokenRefused } from "./errors";
import { nodeFetch } from "./transport";

export interface RegistryCredential {
  username: string;
  password: string;
}

/** Loopback registries are spoken to over plain HTTP; everything else over HTTPS. */
export function baseUrl(host: string): string {
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(host) ? `http://${host}` : `https://${host}`;
}

export interface Challenge {
  realm: string;
  service?: string;
  scope?: string;
}

/** Parse `Bearer realm="...",service="...",scope="..."`. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header || !/^Bearer\s/i.test(header)) return undefined;
  const params: Record<string, string> = {};
  for (const m of header.slice(7).matchAll(/(\w+)="([^"]*)"/g)) params[m[1].toLowerCase()] = m[2];
  return params.realm ? { realm: params.realm, service: params.service, scope: params.scope } : undefined;
}

/** The access a request needs: actions per repository (`pull`, `push`, `delete`, ...). */
type Access = Map<string, Set<string>>;

/** `repository:<name>:<actions>` scopes, as a token endpoint takes them, into access. */
function accessOf(scopes: string[]): Access {
  const access: Access = new Map();
  for (const s of scopes) {
    const m = /^repository(?:\([^)]*\))?:(.+):([^:]*)$/.exec(s);
    if (!m) continue;
    const actions = access.get(m[1]) ?? new Set<string>();
    for (const a of m[2].split(",")) if (a) actions.add(a);
    access.set(m[1], actions);
  }
  return access;
}

function covers(have: Access, need: Access): boolean {
  for (const [repository, actions] of need) {
    const got = have.get(repository);
    if (!got) return false;
    for (const a of actions) if (!got.has(a) && !got.has("*")) return false;
  }
  return true;
}

interface Token {
  token: string;
  until: number;
  /** What it was asked for (a token endpoint may grant less: a refusal is then the registry's 401). */
  access: Access;
}

/** Init of a request: the repository and actions its token must carry, and for a blob mount the repository mounted from. */
export type RegistryRequestInit = RequestInit & { repository: string; actions: string; mountFrom?: string };

/**
 * A registry's authentication as the client meets it: answers bearer challenges with the caller's
 * credential and reuses each token until it expires for every request its scope covers (a mount's
 * token, push on the target and pull on the source, also serves the manifest writes and reads
 * that follow). Once a host has sent one challenge, later requests fetch their token first
 * instead of being refused once each; concurrent requests that need the same scope share one
 * token request; a host that asks for Basic gets the credential with every later request.
 */
export class RegistryAuth {
  private readonly tokens = new Map<string, Token>();
  private readonly inflight = new Map<string, Promise<Token>>();
  /** Each host's token endpoint, learnt from its first Bearer challenge. */
  private readonly realms = new Map<string, Omit<Challenge, "scope">>();
  /** Hosts that answered with a Basic challenge (ECR): the credential goes with every request. */
  private readonly basic = new Set<string>();
  /** Token requests made, for callers that report (and tests that check reuse). */
  tokenRequests = 0;

  /** `fetchImpl`: the HTTP client (default: node:http(s) with keep-alive, see transport.ts). */
  constructor(
    private readonly credential?: RegistryCredential,
    private readonly fetchImpl: typeof fetch = nodeFetch,
  ) {}

  /** A token for `scope` at `ch`'s endpoint, stored under `cacheKey`; one request per scope at a time. */
  private token(ch: Challenge, cacheKey: string): Promise<Token> {
    const flight = `${ch.realm}\0${ch.service ?? ""}\0${ch.scope ?? ""}`;
    let p = this.inflight.get(flight);
    if (!p) {
      p = this.fetchToken(ch).finally(() => this.inflight.delete(flight));
      this.inflight.set(flight, p);
    }
    return p.then((t) => {
      this.tokens.set(cacheKey, t);
      return t;
    });
  }

  private async fetchToken(ch: Challenge): Promise<Token> {
    const url = new URL(ch.realm);
    if (ch.service) url.searchParams.set("service", ch.service);
    const scopes = ch.scope ? ch.scope.split(" ") : [];
    for (const s of scopes) url.searchParams.append("scope", s);
    const headers: Record<string, string> = {};
    if (this.credential) headers.authorization = this.basicAuth();
    this.tokenRequests++;
    const r = await this.fetchImpl(url, { headers });
    if (r.status === 401 || r.status === 403) {
      await discard(r);
      throw new TokenRefused(r.status, `${url.origin}${url.pathname}`);
    }
    if (!r.ok) throw new RegistryError(r.status, `token endpoint ${url.origin}${url.pathname} answered ${r.status}`);
    const body = await readJson<{ token?: string; access_token?: string; expires_in?: number }>(r, `token endpoint ${url.origin}${url.pathname}`);
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(502, `token endpoint ${url.origin}${url.pathname} returned no token`);
    // Renew 30 s early; 60 s is the spec's default lifetime when none is given.
    return { token, until: Date.now() + ((body.expires_in ?? 60) - 30) * 1000, access: accessOf(scopes) };
  }

  private basicAuth(): string {
    return `Basic ${Buffer.from(`${this.credential!.username}:${this.credential!.password}`).toString("base64")}`;
  }

  /** A live token asked for this key, else one whose scope covers `need` on the same host. */
  private cached(host: string, key: string, need: Access): Token | undefined {
    const now = Date.now();
    const exact = this.tokens.get(key);
    if (exact && exact.until > now) return exact;
    for (const [k, t] of this.tokens) if (k.startsWith(`${host}\0`) && t.until > now && covers(t.access, need)) return t;
    return undefined;
  }

  /** A request that follows one bearer challenge; `repository` and `actions` (and `mountFrom`) name the scope its token needs. */
  async request(host: string, path: string, init: RegistryRequestInit): Promise<Response> {
    const url = `${baseUrl(host)}${path}`;
    const { repository, actions, mountFrom, ...rest } = init;
    const key = `${host}\0${repository}\0${actions}${mountFrom ? `\0${mountFrom}` : ""}`;
    const scope = [`repository:${repository}:${actions}`, ...(mountFrom ? [`repository:${mountFrom}:pull`] : [])].join(" ");
    const need = accessOf(scope.split(" "));
    const headers = new Headers(rest.headers);
    let sent = this.cached(host, key, need);
    const realm = this.realms.get(host);
    // A host that challenged before will challenge again: ask for the token first.
    if (!sent && realm) sent = await this.token({ ...realm, scope }, key);
    if (sent) headers.set("authorization", `Bearer ${sent.token}`);
    else if (this.basic.has(host) && this.credential) headers.set("authorization", this.basicAuth());
    let r = await this.fetchImpl(url, { ...rest, headers });
    if (r.status === 401) {
      const challenge = r.headers.get("www-authenticate");
      // A registry that takes the credential itself (ECR answers `Basic realm=...`).
      if (challenge && /^Basic\s/i.test(challenge) && this.credential && !headers.has("authorization")) {
        await discard(r);
        this.basic.add(host);
        headers.set("authorization", this.basicAuth());
        return this.fetchImpl(url, { ...rest, headers });
      }
      const ch = parseChallenge(challenge);
      if (!ch) return r;
      this.realms.set(host, { realm: ch.realm, service: ch.service });
      // Refused with the token asked for exactly this: asking again would get the same token.
      if (sent && this.tokens.get(key) === sent && covers(sent.access, accessOf(ch.scope?.split(" ") ?? []))) return r;
      await discard(r);
      headers.set("authorization", `Bearer ${(await this.token(ch, key)).token}`);
      r = await this.fetchImpl(url, { ...rest, headers });
    }
    return r;
  }

  /**
   * Fetch (and keep) the token `request` would fetch for `actions` on `repository`, without a
   * registry request beyond learning the host's token endpoint once (`GET /v2/`). Throws
   * TokenRefused when the endpoint refuses the credential; a host that asks for no token, or for
   * Basic, needs nothing here.
   */
  async authorize(host: string, repository: string, actions: string): Promise<void> {
    if (!this.realms.has(host) && !this.basic.has(host)) {
      const r = await this.fetchImpl(`${baseUrl(host)}/v2/`, { method: "GET" });
      await discard(r);
      if (r.status !== 401) return;
      const challenge = r.headers.get("www-authenticate");
      if (challenge && /^Basic\s/i.test(challenge)) return void this.basic.add(host);
      const ch = parseChallenge(challenge);
      if (!ch) return;
      this.realms.set(host, { realm: ch.realm, service: ch.service });
    }
    const realm = this.realms.get(host);
    if (realm && !this.cached(host, `${host}\0${repository}\0${actions}`, accessOf([`repository:${repository}:${actions}`])))
      await this.token({ ...realm, scope: `repository:${repository}:${actions}` }, `${host}\0${repository}\0${actions}`);
  }
}
