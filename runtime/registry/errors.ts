// What a registry answered that is no success, and reading an answer's body within bounds.

export class RegistryError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "RegistryError";
  }
}

/** The token endpoint refused the credential itself (not a scope): 401 or 403 from the realm. */
export class TokenRefused extends RegistryError {
  constructor(
    status: number,
    readonly endpoint: string,
  ) {
    super(status, `token endpoint ${endpoint} answered ${status}`);
    this.name = "TokenRefused";
  }
}

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
export async function readJson<T>(r: Response, what: string, max: number = READ_LIMITS.json): Promise<T> {
  const bytes = await readLimited(r, max);
  if (!bytes) throw new RegistryError(502, `${what}: the registry sent more than ${max} bytes`);
  try {
    return JSON.parse(bytes.toString("utf8")) as T;
  } catch {
    throw new RegistryError(502, `${what}: the registry sent something that is not JSON`);
  }
}

/**
 * Done with a response: a small body is read to its end, so that its connection goes back to the
 * pool (cancelling a body closes the connection); a large or unknown one is cancelled.
 */
export async function discard(r: Response): Promise<void> {
  if (!r.body) return;
  if (Number(r.headers.get("content-length") ?? Number.NaN) <= 64 * 1024) await r.arrayBuffer().catch(() => undefined);
  else await r.body.cancel().catch(() => undefined);
}

export async function failUnlessOk(r: Response, what: string): Promise<void> {
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
