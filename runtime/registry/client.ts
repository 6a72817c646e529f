import { createHash } from "node:crypto";
import { apiHost, type ImageReference } from "../../core/reference";
import { baseUrl, RegistryAuth, type RegistryCredential, type RegistryRequestInit } from "./auth";
import { discard, failUnlessOk, readJson, readLimited, READ_LIMITS, RegistryError } from "./errors";
import { MANIFEST_ACCEPT, type Descriptor, type Manifest, type ManifestState } from "./manifests";
import { nodeFetch } from "./transport";

/**
 * A small OCI distribution client: the registry API's endpoints the delivery and the isolation
 * proof use, each request authenticated by RegistryAuth (tokens asked once per scope and reused).
 */
export class RegistryClient {
  private readonly auth: RegistryAuth;

  /** `fetchImpl`: the HTTP client (default: node:http(s) with keep-alive, see transport.ts). */
  constructor(credential?: RegistryCredential, fetchImpl: typeof fetch = nodeFetch) {
    this.auth = new RegistryAuth(credential, fetchImpl);
  }

  /** Token requests made, for callers that report (and tests that check reuse). */
  get tokenRequests(): number {
    return this.auth.tokenRequests;
  }

  /** A request that follows one bearer challenge; `repository` and `actions` (and `mountFrom`) name the scope its token needs. */
  request(host: string, path: string, init: RegistryRequestInit): Promise<Response> {
    return this.auth.request(host, path, init);
  }

  /** Fetch (and keep) the token `request` would fetch for `actions` on `repository` (see RegistryAuth.authorize). */
  authorize(host: string, repository: string, actions: string): Promise<void> {
    return this.auth.authorize(host, repository, actions);
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
    const r = await this.request(host, `/v2/${repository}/manifests/${reference}`, {
      method: "GET",
      headers: { accept: MANIFEST_ACCEPT },
      repository,
      actions: "pull",
    });
    await failUnlessOk(r, `GET manifest ${host}/${repository}:${reference}`);
    // Distribution refuses manifests over 4 MiB: a larger answer is not read.
    const bytes = await readLimited(r, READ_LIMITS.manifest);
    if (!bytes) throw new RegistryError(502, `GET manifest ${host}/${repository}:${reference}: the registry sent more than ${READ_LIMITS.manifest} bytes`);
    const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
    if (reference.startsWith("sha256:") && reference !== digest)
      throw new RegistryError(502, `${host}/${repository}@${reference}: the registry sent bytes whose digest is ${digest}`);
    const mediaType =
      (r.headers.get("content-type") ?? "").split(";")[0].trim() || (JSON.parse(bytes.toString("utf8")) as { mediaType?: string }).mediaType || "";
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
    const r = await this.request(host, `/v2/${repository}/manifests/${digest}`, {
      method: "GET",
      headers: { accept: MANIFEST_ACCEPT },
      repository,
      actions: "pull",
    });
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
  async mountBlob(
    host: string,
    repository: string,
    from: string,
    blob: { digest: string; size: number },
  ): Promise<{ how: "exists" | "mounted" | "uploaded"; bytes: number }> {
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
      const cancel = await this.request(host, `${upload.pathname}${upload.search}`, {
        method: "DELETE",
        repository,
        actions: "pull,push",
        mountFrom: from,
      }).catch(() => undefined);
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
