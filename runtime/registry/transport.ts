import http from "node:http";
import https from "node:https";
import { once } from "node:events";
import { Readable } from "node:stream";

/** Keep-alive pools, one per scheme: a fan-out sends hundreds of small requests to one registry. */
const agents = { "http:": new http.Agent({ keepAlive: true, maxSockets: 64 }), "https:": new https.Agent({ keepAlive: true, maxSockets: 64 }) };

/** Bodies up to this size are read before the response is handed over; larger ones stream. */
const BUFFERED = 64 * 1024;
/** No answer (or no progress of one) for this long: the request fails (as fetch's own timeouts). */
const TIMEOUT_MS = 300_000;

/**
 * The registry client's default transport: `fetch` as far as the client uses it (method, headers,
 * a Buffer, string or stream body; status, headers, body and url back; GET and HEAD redirects followed,
 * the authorization header dropped on a redirect to another origin), over node:http(s) with
 * keep-alive agents. It costs a fraction of undici's fetch per request, which a fan-out of
 * hundreds of small requests (mounts, manifest writes, HEADs) feels. A failure is a TypeError
 * "fetch failed" with the cause, as fetch throws it, so retries and reasons read it the same way.
 */
export const nodeFetch = (async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
  let url = new URL(input instanceof Request ? input.url : String(input));
  const method = (init.method ?? "GET").toUpperCase();
  const headers = new Headers(init.headers);
  for (let hop = 0; ; hop++) {
    const res = await send(url, method, headers, init.body ?? undefined);
    const location = res.headers.location;
    if (location && [301, 302, 303, 307, 308].includes(res.statusCode ?? 0) && (method === "GET" || method === "HEAD") && hop < 5) {
      res.resume();
      const next = new URL(location, url);
      // As fetch does: a credential never follows a redirect to another origin (a storage bucket).
      if (next.origin !== url.origin) headers.delete("authorization");
      url = next;
      continue;
    }
    const response = await toResponse(res, method);
    // As fetch's: the URL answered (after redirects), which a Location may be relative to.
    Object.defineProperty(response, "url", { value: url.href });
    return response;
  }
}) as typeof fetch;

function failed(cause: unknown): TypeError {
  return new TypeError("fetch failed", { cause });
}

function send(url: URL, method: string, headers: Headers, body: RequestInit["body"] | undefined): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const agent = agents[url.protocol as keyof typeof agents];
    if (!agent) return reject(failed(new Error(`${url.protocol} is not http or https`)));
    const h: Record<string, string> = {};
    headers.forEach((v, k) => (h[k] = v));
    let payload: Buffer | undefined;
    let stream: Readable | undefined;
    if (body === undefined || body === null) payload = method === "GET" || method === "HEAD" ? undefined : Buffer.alloc(0);
    else if (typeof body === "string") payload = Buffer.from(body);
    else if (body instanceof Uint8Array) payload = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    else if (body instanceof ReadableStream) stream = Readable.fromWeb(body as import("node:stream/web").ReadableStream);
    else return reject(failed(new Error("unsupported request body")));
    if (payload && h["content-length"] === undefined) h["content-length"] = String(payload.length);
    const req = (url.protocol === "https:" ? https : http).request(url, { method, headers: h, agent, timeout: TIMEOUT_MS }, resolve);
    req.on("error", (e) => reject(failed(e)));
    req.on("timeout", () => req.destroy(Object.assign(new Error(`no answer from ${url.host} in ${TIMEOUT_MS / 1000} s`), { code: "ETIMEDOUT" })));
    if (stream) {
      stream.on("error", (e) => req.destroy(e));
      stream.pipe(req);
    } else req.end(payload);
  });
}

async function toResponse(res: http.IncomingMessage, method: string): Promise<Response> {
  const headers = new Headers();
  for (let i = 0; i < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i], res.rawHeaders[i + 1]);
  const status = res.statusCode ?? 502;
  const init = { status, statusText: res.statusMessage, headers };
  if (method === "HEAD" || status === 204 || status === 304) {
    res.resume();
    await once(res, "end").catch(() => undefined);
    await pooled();
    return new Response(null, init);
  }
  const length = Number(res.headers["content-length"] ?? Number.NaN);
  if (!(length <= BUFFERED)) return new Response(Readable.toWeb(res) as ReadableStream, init);
  const chunks: Buffer[] = [];
  try {
    for await (const c of res) chunks.push(c as Buffer);
  } catch (e) {
    throw failed(e);
  }
  await pooled();
  return new Response(Buffer.concat(chunks), init);
}

/**
 * After a response's end, node hands its connection back to the pool on the next tick: wait for
 * that, so that a request sent right after reuses it instead of opening another.
 */
const pooled = () => new Promise<void>((r) => process.nextTick(r));
