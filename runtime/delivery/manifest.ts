import { apiHost, type ImageReference } from "./reference";

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

/**
 * A small OCI distribution client: answers bearer challenges with the caller's credential and
 * reuses each token for every request on the same repository and actions until it expires.
 */
export class RegistryClient {
  private readonly tokens = new Map<string, { token: string; until: number }>();
  /** Token requests made, for callers that report (and tests that check reuse). */
  tokenRequests = 0;

  constructor(private readonly credential?: RegistryCredential, private readonly fetchImpl: typeof fetch = fetch) {}

  private async token(ch: Challenge, cacheKey: string): Promise<string> {
    const cached = this.tokens.get(cacheKey);
    if (cached && cached.until > Date.now()) return cached.token;
    const url = new URL(ch.realm);
    if (ch.service) url.searchParams.set("service", ch.service);
    if (ch.scope) for (const s of ch.scope.split(" ")) url.searchParams.append("scope", s);
    const headers: Record<string, string> = {};
    if (this.credential) headers.authorization = `Basic ${Buffer.from(`${this.credential.username}:${this.credential.password}`).toString("base64")}`;
    this.tokenRequests++;
    const r = await this.fetchImpl(url, { headers });
    if (!r.ok) throw new RegistryError(r.status, `token endpoint ${url.origin}${url.pathname} answered ${r.status}`);
    const body = (await r.json()) as { token?: string; access_token?: string; expires_in?: number };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(502, `token endpoint ${url.origin}${url.pathname} returned no token`);
    // Renew 30 s early; 60 s is the spec's default lifetime when none is given.
    this.tokens.set(cacheKey, { token, until: Date.now() + ((body.expires_in ?? 60) - 30) * 1000 });
    return token;
  }

  /** A request that follows one bearer challenge; `actions` names the scope the token is cached under. */
  async request(host: string, path: string, init: RequestInit & { repository: string; actions: string }): Promise<Response> {
    const url = `${baseUrl(host)}${path}`;
    const key = `${host}\0${init.repository}\0${init.actions}`;
    const cached = this.tokens.get(key);
    const headers = new Headers(init.headers);
    if (cached && cached.until > Date.now()) headers.set("authorization", `Bearer ${cached.token}`);
    let r = await this.fetchImpl(url, { ...init, headers });
    if (r.status === 401) {
      const ch = parseChallenge(r.headers.get("www-authenticate"));
      if (!ch) return r;
      await r.body?.cancel();
      headers.set("authorization", `Bearer ${await this.token(ch, key)}`);
      r = await this.fetchImpl(url, { ...init, headers });
    }
    return r;
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
}
