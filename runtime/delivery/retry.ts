import { CopyError } from "./copy";
import { RegistryError } from "../registry/errors";

export interface RetryPolicy {
  /** Tries in all, the first included. */
  attempts: number;
  /** The first back-off ceiling; it doubles on each retry up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseDelayMs: 500, maxDelayMs: 8000 };

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);
/** What skopeo and crane print for a refused or broken connection, a 5xx or a 429. */
const TOOL_TRANSIENT =
  /connection refused|connection reset|broken pipe|unexpected EOF|: EOF|i\/o timeout|timeout awaiting|TLS handshake timeout|too many requests|\b429\b|\b50[0-4]\b|internal server error|bad gateway|service unavailable|gateway timeout/i;
/** ...and what must never be retried, even when one of the above also appears. */
const TOOL_FINAL = /unauthorized|authentication required|denied|\b401\b|\b403\b|\b404\b|manifest unknown|name unknown|not found|invalid reference/i;

/**
 * Worth another try: network errors, 5xx and 429. Never 401/403/404 or a bad request: those
 * will not change by waiting.
 */
export function isTransient(e: unknown): boolean {
  if (e instanceof RegistryError) return e.status >= 500 || e.status === 429;
  if (e instanceof CopyError) return !TOOL_FINAL.test(e.stderr) && TOOL_TRANSIENT.test(e.stderr);
  if (e instanceof TypeError && /fetch failed|terminated|other side closed/i.test(e.message)) return true;
  const code = (e as { code?: string; cause?: { code?: string } })?.cause?.code ?? (e as { code?: string })?.code;
  return code !== undefined && NETWORK_CODES.has(code);
}

/** Full jitter: a random wait in [0, min(max, base·2^n)]. */
export function backoffMs(retry: number, p: RetryPolicy, random: () => number = Math.random): number {
  return Math.floor(random() * Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** retry));
}

/** Run `fn` until it succeeds, fails for good, or the tries run out. Reports each retry. */
export async function withRetry<T>(
  fn: () => Promise<T>,
  p: RetryPolicy,
  onRetry?: (attempt: number, error: unknown, delayMs: number) => void,
): Promise<{ value: T; attempts: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return { value: await fn(), attempts: attempt };
    } catch (e) {
      if (attempt >= p.attempts || !isTransient(e)) throw Object.assign(e as object, { attempts: attempt });
      const delay = backoffMs(attempt - 1, p);
      onRetry?.(attempt, e, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** How many tries an error thrown by withRetry took. */
export function attemptsOf(e: unknown): number {
  return (e as { attempts?: number })?.attempts ?? 1;
}

/** A one-line reason for a result, with the cause of a fetch failure. */
export function errorText(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err instanceof TypeError && err.cause) return `${err.message}: ${err.cause.code ?? err.cause.message ?? ""}`.trim();
  return err?.message ?? String(e);
}
