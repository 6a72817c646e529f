import { createHash } from "node:crypto";
import { apiHost, type ImageReference } from "../../core/reference";
import { nodeFetch } from "./http";

/** Every manifest type a registry may hold: Distribution 2.8 answers 404 for a stored type not accepted. */
export const MANIFEST_ACCEPT = [
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.docker.distribution.manifest.v2+json",
].join(", ");

export interface RegistryCredential {
  username: string;
  password: string;
}

export interface ManifestState {
  exists: boolean;
  digest?: string;
  mediaType?: string;
  size?: number;
}

export class RegistryError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
    this.name = "RegistryError";
  }
}

/** The token endpoint refused the credential itself (not a scope): 401 or 403 from the realm. */
export class TokenRefused extends RegistryError {
  constructor(status: number, readonly endpoint: string) {
    super(status, `token endpoint ${endpoint} answered ${status}`);
    this.name = "TokenRefused";
  }
}

/** Loopback registries are spoken to over plain HTTP; everything else over HTTPS. */
export function baseUrl(host: string): string {
  return /^(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?$/.test(host) ? `http://${host}` : `https://${host}`;
}

interface Challenge {
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
 * A small OCI distribution client: answers bearer challenges with the caller's credential and
 * reuses each token until it expires for every request its scope covers (a mount's token, push on
 * the target and pull on the source, also serves the manifest writes and reads that follow). Once
 * a host has sent one challenge, later requests fetch their token first instead of being refused
 * once each; concurrent requests that need the same scope share one token request; a host that
 * asks for Basic gets the credential with every later request.
 */
export class RegistryClient {
  private readonly tokens = new Map<string, Token>();
  private readonly inflight = new Map<string, Promise<Token>>();
  /** Each host's token endpoint, learnt from its first Bearer challenge. */
  private readonly realms = new Map<string, Omit<Challenge, "scope">>();
  /** Hosts that answered with a Basic challenge (ECR): the credential goes with every request. */
  private readonly basic = new Set<string>();
  /** Token requests made, for callers that report (and tests that check reuse). */
  tokenRequests = 0;

  /** `fetchImpl`: the HTTP client (default: node:http(s) with keep-alive, see http.ts). */
  constructor(private readonly credential?: RegistryCredential, private readonly fetchImpl: typeof fetch = nodeFetch) {}

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

  /** Does `ref` exist, and with which digest? A HEAD with all four manifest types accepted. */
  async headManifest(ref: ImageReference): Promise<ManifestState> {
    const reference = ref.digest ?? ref.tag ?? "latest";
    const r = await this.request(apiHost(ref), `/v2/${ref.repository}/manifests/${reference}`, {
      method: "HEAD",
      headers: { accept: MANIFEST_ACCEPT },
      repository: ref.repository,
      actions: "pull",
    });
    if (r.status === 404) return { exists: false };
    if (r.status === 401 || r.status === 403) throw new RegistryError(r.status, `not allowed to read ${ref.registry}/${ref.repository} (${r.status})`);
    if (!r.ok) throw new RegistryError(r.status, `HEAD manifest ${ref.registry}/${ref.repository}:${reference} answered ${r.status}`);
    const length = r.headers.get("content-length");
    return {
      exists: true,
      digest: r.headers.get("docker-content-digest") ?? undefined,
      mediaType: r.headers.get("content-type") ?? undefined,
      size: length ? Number(length) : undefined,
    };
  }

  /** GET a manifest's bytes (by tag or digest) with its media type and the sha256 of the bytes. */
  async getManifest(host: string, repository: string, reference: string): Promise<Manifest> {
    const r = await this.request(host, `/v2/${repository}/manifests/${reference}`, { method: "GET", headers: { accept: MANIFEST_ACCEPT }, repository, actions: "pull" });
    await failUnlessOk(r, `GET manifest ${host}/${repository}:${reference}`);
    // Distribution refuses manifests over 4 MiB: a larger answer is not read.
    const bytes = await readLimited(r, READ_LIMITS.manifest);
    if (!bytes) throw new RegistryError(502, `GET manifest ${host}/${repository}:${reference}: the registry sent more than ${READ_LIMITS.manifest} bytes`);
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (reference.startsWith("sha256:") && reference !== digest) throw new RegistryError(502, `${host}/${repository}@${reference}: the registry sent bytes whose digest is ${digest}`);
    const mediaType = (r.headers.get("content-type") ?? "").split(";")[0].trim() || (JSON.parse(bytes.toString("utf8")) as { mediaType?: string }).mediaType || "";
    return { bytes, mediaType, digest };
  }

  /** PUT manifest bytes under a tag or digest; returns the digest the registry computed. */
  async putManifest(host: string, repository: string, reference: string, m: Pick<Manifest, "bytes" | "mediaType">): Promise<string> {
    const r = await this.request(host, `/v2/${repository}/manifests/${reference}`, {
      method: "PUT",
      headers: { "content-type": m.mediaType },
      body: m.bytes,
      repository,
      actions: "pull,push",
    });
    await failUnlessOk(r, `PUT manifest ${host}/${repository}:${reference}`);
    await discard(r);
    return r.headers.get("docker-content-digest") ?? `sha256:${createHash("sha256").update(m.bytes).digest("hex")}`;
  }

  /**
   * The manifests that name `digest` as their subject, from the registry's referrers API (OCI
   * distribution 1.1); undefined where the registry has no such API (Distribution 2.8 answers
   * 404 for the route), so that the caller reads the `sha256-<hex>` tag instead.
   */
  async referrers(host: string, repository: string, digest: string): Promise<Descriptor[] | undefined> {
    const r = await this.request(host, `/v2/${repository}/referrers/${digest}`, {
      method: "GET",
      headers: { accept: "application/vnd.oci.image.index.v1+json" },
      repository,
      actions: "pull",
    });
    if (r.status === 401 || r.status === 403) throw new RegistryError(r.status, `not allowed to read ${host}/${repository} (${r.status})`);
    const type = (r.headers.get("content-type") ?? "").split(";")[0].trim();
    if (!r.ok || type !== "application/vnd.oci.image.index.v1+json") {
      await discard(r);
      return undefined;
    }
    const body = await readJson<{ manifests?: Descriptor[] }>(r, `GET referrers ${host}/${repository}`);
    return body.manifests ?? [];
  }

  /**
   * Upload a blob whose bytes come from elsewhere (another registry's GET): one POST and one
   * monolithic PUT with the stream, so the bytes pass through this process and never reach a disk.
   */
  async uploadBlob(host: string, repository: string, blob: { digest: string; size: number }, body: ReadableStream<Uint8Array> | Buffer): Promise<void> {
    const r = await this.request(host, `/v2/${repository}/blobs/uploads/`, { method: "POST", repository, actions: "pull,push" });
    await failUnlessOk(r, `POST blob upload ${host}/${repository}`);
    await discard(r);
    const location = r.headers.get("location");
    if (!location) throw new RegistryError(502, `${host}/${repository}: blob upload opened without a Location`);
    const upload = new URL(location, `${baseUrl(host)}/`);
    upload.searchParams.set("digest", blob.digest);
    const done = await this.request(host, `${upload.pathname}${upload.search}`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream", "content-length": String(blob.size) },
      body,
      duplex: "half",
      repository,
      actions: "pull,push",
    } as RegistryRequestInit);
    await failUnlessOk(done, `PUT blob ${host}/${repository}@${blob.digest}`);
    await discard(done);
  }

  /** GET a blob: the response, its body unread (the caller streams or reads it). */
  async getBlob(host: string, repository: string, digest: string): Promise<Response> {
    const r = await this.request(host, `/v2/${repository}/blobs/${digest}`, { method: "GET", repository, actions: "pull" });
    await failUnlessOk(r, `GET blob ${host}/${repository}@${digest}`);
    return r;
  }

  /**
   * The repository's tags from the registry's first page of its listing (none when the repository
   * does not exist yet); undefined when there are more pages (the caller asks per tag instead).
   */
  async listTags(host: string, repository: string): Promise<string[] | undefined> {
    const r = await this.request(host, `/v2/${repository}/tags/list`, { method: "GET", repository, actions: "pull" });
    if (r.status === 404) {
      await discard(r);
      return [];
    }
    await failUnlessOk(r, `GET tags ${host}/${repository}`);
    const body = await readJson<{ tags?: string[] | null }>(r, `GET tags ${host}/${repository}`);
    return /rel="?next"?/.test(r.headers.get("link") ?? "") ? undefined : (body.tags ?? []);
  }

  /** Does the repository hold this manifest? A GET: this registry closes the connection after every HEAD, a GET keeps it. */
  async hasManifest(host: string, repository: string, digest: string): Promise<boolean> {
    const r = await this.request(host, `/v2/${repository}/manifests/${digest}`, { method: "GET", headers: { accept: MANIFEST_ACCEPT }, repository, actions: "pull" });
    if (r.status === 404) {
      await discard(r);
      return false;
    }
    await failUnlessOk(r, `GET manifest ${host}/${repository}@${digest}`);
    await discard(r);
    return true;
  }

  /** Does the repository hold this blob? */
  async blobExists(host: string, repository: string, digest: string): Promise<boolean> {
    const r = await this.request(host, `/v2/${repository}/blobs/${digest}`, { method: "HEAD", repository, actions: "pull" });
    if (r.status === 404) return false;
    await failUnlessOk(r, `HEAD blob ${host}/${repository}@${digest}`);
    return true;
  }

  /**
   * Link a blob from another repository of the same registry into `repository` without sending
   * its bytes (POST .../blobs/uploads/?mount=&from=). When the registry does not mount (202: no
   * read access to `from`, or mounting switched off), a blob already in `repository` is left as
   * it is (the upload opened is cancelled); otherwise the blob is streamed from `from` into the
   * upload: bytes pass through this process, never to disk. Returns what happened and the bytes sent.
   */
  async mountBlob(host: string, repository: string, from: string, blob: { digest: string; size: number }): Promise<{ how: "exists" | "mounted" | "uploaded"; bytes: number }> {
    const path = `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(from)}`;
    const r = await this.request(host, path, { method: "POST", repository, actions: "pull,push", mountFrom: from });
    if (r.status === 201) {
      await discard(r);
      return { how: "mounted", bytes: 0 };
    }
    await failUnlessOk(r, `POST blob upload ${host}/${repository} (mount ${blob.digest} from ${from})`);
    await discard(r);
    const location = r.headers.get("location");
    if (!location) throw new RegistryError(502, `${host}/${repository}: blob upload opened without a Location`);
    const upload = new URL(location, `${baseUrl(host)}/`);
    if (await this.blobExists(host, repository, blob.digest)) {
      // Nothing to send; the registry would purge the idle upload in time anyway.
      const cancel = await this.request(host, `${upload.pathname}${upload.search}`, { method: "DELETE", repository, actions: "pull,push", mountFrom: from }).catch(() => undefined);
      if (cancel) await discard(cancel);
      return { how: "exists", bytes: 0 };
    }
    const get = await this.request(host, `/v2/${from}/blobs/${blob.digest}`, { method: "GET", repository: from, actions: "pull" });
    await failUnlessOk(get, `GET blob ${host}/${from}@${blob.digest}`);
    upload.searchParams.set("digest", blob.digest);
    const done = await this.request(host, `${upload.pathname}${upload.search}`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream", "content-length": String(blob.size) },
      body: get.body,
      duplex: "half",
      // The token the POST got (push on the target, pull on the source): a stream body cannot be re-sent after a 401.
      repository,
      actions: "pull,push",
      mountFrom: from,
    } as RegistryRequestInit);
    await failUnlessOk(done, `PUT blob ${host}/${repository}@${blob.digest}`);
    await discard(done);
    return { how: "uploaded", bytes: blob.size };
  }
}

export interface Manifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

/** An OCI content descriptor, as an index or a referrers listing holds it. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

/**
 * Done with a response: a small body is read to its end, so that its connection goes back to the
 * pool (cancelling a body closes the connection); a large or unknown one is cancelled.
 */
/** Caps on what is read whole from a registry: anything larger is refused, read no further. */
export const READ_LIMITS = { manifest: 4 * 1024 * 1024, json: 4 * 1024 * 1024, error: 64 * 1024 } as const;

/**
 * A response body read whole, up to `max` bytes: the bytes, or undefined once more arrive (the
 * rest is never read). A body that claims more than `max` in its content-length is not read at all.
 */
export async function readLimited(r: Response, max: number): Promise<Buffer | undefined> {
  if (!r.body) return Buffer.alloc(0);
  if (Number(r.headers.get("content-length") ?? 0) > max) {
    await r.body.cancel().catch(() => undefined);
    return undefined;
  }
  const chunks: Uint8Array[] = [];
  let n = 0;
  const reader = r.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    n += value.byteLength;
    if (n > max) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, n);
}

/** A JSON body of at most `max` bytes, else a RegistryError(502) naming `what`. */
async function readJson<T>(r: Response, what: string, max: number = READ_LIMITS.json): Promise<T> {
  const bytes = await readLimited(r, max);
  if (!bytes) throw new RegistryError(502, `${what}: the registry sent more than ${max} bytes`);
  try {
    return JSON.parse(bytes.toString("utf8")) as T;
  } catch {
    throw new RegistryError(502, `${what}: the registry sent something that is not JSON`);
  }
}

export async function discard(r: Response): Promise<void> {
  if (!r.body) return;
  if (Number(r.headers.get("content-length") ?? Number.NaN) <= 64 * 1024) await r.arrayBuffer().catch(() => undefined);
  else await r.body.cancel().catch(() => undefined);
}

async function failUnlessOk(r: Response, what: string): Promise<void> {
  if (r.ok) return;
  let detail = "";
  try {
    const body = await readJson<{ errors?: { code?: string; message?: string }[] }>(r, what, READ_LIMITS.error);
    detail = body.errors?.map((e) => `${e.code ?? ""} ${e.message ?? ""}`.trim()).join("; ") ?? "";
  } catch {
    /* no JSON body */
  }
  throw new RegistryError(r.status, `${what} answered ${r.status}${detail ? `: ${detail}` : ""}`);
}

/** A manifest's parts, for copying it between repositories. */
export interface ManifestParts {
  /** Child manifests of an index (with their platform), or none. */
  children: { digest: string; mediaType: string; size: number; platform?: { architecture: string; os: string; variant?: string } }[];
  /** Config and layers of an image manifest, or none. */
  blobs: { digest: string; size: number }[];
}

export function manifestParts(m: Pick<Manifest, "bytes" | "mediaType">): ManifestParts {
  const doc = JSON.parse(m.bytes.toString("utf8")) as {
    manifests?: ManifestParts["children"];
    config?: { digest: string; size: number };
    layers?: { digest: string; size: number; urls?: string[] }[];
  };
  if (doc.manifests) return { children: doc.manifests.map((c) => ({ digest: c.digest, mediaType: c.mediaType, size: c.size, platform: c.platform })), blobs: [] };
  if (!doc.config) throw new RegistryError(502, `manifest of type ${m.mediaType || "(none)"} has neither manifests nor config`);
  // Foreign layers (urls) are not stored in the registry: nothing to mount.
  return { children: [], blobs: [doc.config, ...(doc.layers ?? []).filter((l) => !l.urls?.length)].map((b) => ({ digest: b.digest, size: b.size })) };
}
