import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import { z } from "zod";
import { InvalidInput } from "../core/errors";
import { parseJsonFile } from "../core/json";

/** What a caller may do: read (GET), or read and write. */
export type Role = "read" | "write";

export interface Caller {
  /** The token's name, or the OIDC subject (`oidc:<sub>`): what the audit records. */
  name: string;
  role: Role;
}

/** A request the service refuses: 401 (who are you) or 403 (not allowed). One line. */
export class AuthError extends Error {
  constructor(
    readonly status: 401 | 403 | 503,
    message: string,
  ) {
    super(message);
  }
}

const tokensFile = z.strictObject({
  tokens: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(100),
        sha256: z.string().regex(/^[0-9a-f]{64}$/, { message: "must be the hex SHA-256 of the token (sha256sum), 64 lowercase hex digits" }),
        role: z.enum(["read", "write"], { message: "must be read or write" }),
      }),
    )
    .min(1, { message: "must hold at least one token" }),
});

export interface AuthOptions {
  /** The bearer tokens file: JSON `{ tokens: [{ name, sha256, role }] }` (only hashes). */
  tokensFile?: string;
  /** OIDC: the issuer (its discovery document names the JWKS) and the audience tokens must carry. */
  oidc?: { issuer: string; audience: string };
}

/**
 * Who is calling: a bearer token whose SHA-256 is in the tokens file, or an OIDC JWT from the
 * issuer, for the audience, signed by a key of the issuer's JWKS (jose). An OIDC caller's role is
 * its `scope` (or `scp`): `intake:write` writes, `intake:read` reads.
 */
export class Authenticator {
  private readonly tokens: { name: string; hash: Buffer; role: Role }[];
  private jwks?: ReturnType<typeof createRemoteJWKSet>;

  constructor(private readonly o: AuthOptions) {
    this.tokens = o.tokensFile ? readTokens(o.tokensFile) : [];
    if (!o.tokensFile && !o.oidc)
      throw new InvalidInput("intake serve: no way to authenticate callers: give --tokens FILE, or --oidc-issuer URL with --oidc-audience AUD");
  }

  async caller(authorization: string | undefined): Promise<Caller> {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
    if (!m) throw new AuthError(401, "no bearer token: send Authorization: Bearer <token>");
    const token = m[1];
    if (token.split(".").length === 3 && this.o.oidc) return this.oidcCaller(token);
    const hash = createHash("sha256").update(token).digest();
    // Every entry compared, in constant time each: the answer's timing says nothing of which.
    let found: (typeof this.tokens)[number] | undefined;
    for (const t of this.tokens) if (timingSafeEqual(t.hash, hash)) found ??= t;
    if (!found) throw new AuthError(401, "the bearer token is not one of the service's tokens");
    return { name: found.name, role: found.role };
  }

  private async oidcCaller(token: string): Promise<Caller> {
    const { issuer, audience } = this.o.oidc!;
    let payload: JWTPayload;
    try {
      this.jwks ??= createRemoteJWKSet(new URL(await jwksUri(issuer)));
      ({ payload } = await jwtVerify(token, this.jwks, { issuer, audience, clockTolerance: 30 }));
    } catch (e) {
      if (e instanceof joseErrors.JWTClaimValidationFailed)
        throw new AuthError(
          401,
          `the token's ${e.claim} claim is not accepted here (${e.reason === "check_failed" ? "expected " + (e.claim === "aud" ? audience : e.claim === "iss" ? issuer : "another value") : e.reason})`,
        );
      if (e instanceof joseErrors.JWTExpired) throw new AuthError(401, "the token has expired");
      if (e instanceof joseErrors.JOSEError) throw new AuthError(401, `the token is not valid (${e.code})`);
      throw new AuthError(503, `the token could not be checked: the issuer's keys are not reachable (${(e as Error).message.split("\n")[0]}); try again`);
    }
    if (typeof payload.sub !== "string" || !payload.sub) throw new AuthError(401, "the token has no sub claim: the service records who wrote");
    const claim = payload.scope ?? payload.scp ?? "";
    const scopes = new Set((Array.isArray(claim) ? claim.map(String) : String(claim).split(/\s+/)).filter(Boolean));
    const role: Role | undefined = scopes.has("intake:write") ? "write" : scopes.has("intake:read") ? "read" : undefined;
    if (!role) throw new AuthError(403, "the token carries neither scope intake:read nor intake:write");
    return { name: `oidc:${payload.sub}`, role };
  }
}

/** The JWKS address from the issuer's discovery document. */
async function jwksUri(issuer: string): Promise<string> {
  const url = `${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`;
  const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!r.ok) throw new Error(`${url} answered ${r.status}`);
  const doc = (await r.json()) as { jwks_uri?: unknown };
  if (typeof doc.jwks_uri !== "string") throw new Error(`${url} names no jwks_uri`);
  return doc.jwks_uri;
}

function readTokens(file: string): { name: string; hash: Buffer; role: Role }[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new InvalidInput(`--tokens ${file}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message.split("\n")[0]}`);
  }
  // Its parse error names a position, never the text (the file holds digests).
  const raw = parseJsonFile(`--tokens ${file}`, text);
  const r = tokensFile.safeParse(raw);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new InvalidInput(
      `--tokens ${file}: ${i.path.join(".") || "(file)"}: ${i.message}; the file is {"tokens":[{"name":"crm","sha256":"<hex sha256 of the token>","role":"write"}]}`,
    );
  }
  return r.data.tokens.map((t) => ({ name: t.name, role: t.role, hash: Buffer.from(t.sha256, "hex") }));
}
