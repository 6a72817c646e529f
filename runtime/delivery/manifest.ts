import { createHash } from "node:crypto";
import { apiHost, type ImageReference } from "../../core/reference";

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
      const challenge = r.headers.get("www-authenticate");
      // A registry that takes the credential itself (ECR answers `Basic realm=...`).
      if (challenge && /^Basic\s/i.test(challenge) && this.credential && !headers.has("authorization")) {
        await r.body?.cancel();
        headers.set("authorization", `Basic ${Buffer.from(`${this.credential.username}:${this.credential.password}`).toString("base64")}`);
        return this.fetchImpl(url, { ...init, headers });
      }
      const ch = parseChallenge(challenge);
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

  /** GET a manifest's bytes (by tag or digest) with its media type and the sha256 of the bytes. */
  async getManifest(host: string, repository: string, reference: string): Promise<Manifest> {
    const r = await this.request(host, `/v2/${repository}/manifests/${reference}`, { method: "GET", headers: { accept: MANIFEST_ACCEPT }, repository, actions: "pull" });
    await failUnlessOk(r, `GET manifest ${host}/${repository}:${reference}`);
    const bytes = Buffer.from(await r.arrayBuffer());
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
    await r.body?.cancel();
    return r.headers.get("docker-content-digest") ?? `sha256:${createHash("sha256").update(m.bytes).digest("hex")}`;
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
   * read access to `from`, or mounting switched off), the blob is streamed from `from` into the
   * upload it opened: bytes pass through this process, never to disk. Returns what happened and
   * the bytes sent.
   */
  async mountBlob(host: string, repository: string, from: string, blob: { digest: string; size: number }): Promise<{ how: "exists" | "mounted" | "uploaded"; bytes: number }> {
    if (await this.blobExists(host, repository, blob.digest)) return { how: "exists", bytes: 0 };
    const path = `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(blob.digest)}&from=${encodeURIComponent(from)}`;
    const r = await this.request(host, path, { method: "POST", repository: `${repository}+${from}`, actions: "mount" });
    if (r.status === 201) {
      await r.body?.cancel();
      return { how: "mounted", bytes: 0 };
    }
    await failUnlessOk(r, `POST blob upload ${host}/${repository} (mount ${blob.digest} from ${from})`);
    await r.body?.cancel();
    const location = r.headers.get("location");
    if (!location) throw new RegistryError(502, `${host}/${repository}: blob upload opened without a Location`);
    const get = await this.request(host, `/v2/${from}/blobs/${blob.digest}`, { method: "GET", repository: from, actions: "pull" });
    await failUnlessOk(get, `GET blob ${host}/${from}@${blob.digest}`);
    const put = new URL(location, `${baseUrl(host)}/`);
    put.searchParams.set("digest", blob.digest);
    const done = await this.request(host, `${put.pathname}${put.search}`, {
      method: "PUT",
      headers: { "content-type": "application/octet-stream", "content-length": String(blob.size) },
      body: get.body,
      duplex: "half",
      // The token the POST got (push on the target, pull on the source): a stream body cannot be re-sent after a 401.
      repository: `${repository}+${from}`,
      actions: "mount",
    } as RequestInit & { repository: string; actions: string });
    await failUnlessOk(done, `PUT blob ${host}/${repository}@${blob.digest}`);
    await done.body?.cancel();
    return { how: "uploaded", bytes: blob.size };
  }
}

export interface Manifest {
  bytes: Buffer;
  mediaType: string;
  digest: string;
}

async function failUnlessOk(r: Response, what: string): Promise<void> {
  if (r.ok) return;
  let detail = "";
  try {
    const body = (await r.json()) as { errors?: { code?: string; message?: string }[] };
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
