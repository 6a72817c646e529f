import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { generateKeyPairSync, randomUUID } from "node:crypto";
import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { stringify } from "yaml";
import { TokenBroker, tokenJson, type TokenResponse } from "../../../../runtime/broker/broker";
import { jwsSigner, KeyFileError, loadSigningKey, type SigningKey } from "../../../../runtime/broker/keys";
import { grant, parseScope, pathCovers } from "../../../../runtime/broker/scope";
import { mintFor } from "../../../../runtime/mint";
import { customer, testRoster, testSettings } from "../../../../testing/helpers";
import { e2eUnavailable, makeKeyPair, writeBrokerFixture } from "../../../../testing/e2e";
import { tempDir } from "../../../../testing/tmp";

const unavailable = e2eUnavailable();
if (unavailable) console.log(`skipping the broker's HTTP tests: ${unavailable}`);

describe("scopes", () => {
  it("parses repository scopes, plugin types and catalog; refuses malformed ones", () => {
    expect(parseScope("repository:intake/acme/app:pull,push")).toEqual({ type: "repository", name: "intake/acme/app", actions: ["pull", "push"] });
    expect(parseScope("repository(plugin):intake/acme/app:pull")).toEqual({ type: "repository", name: "intake/acme/app", actions: ["pull"] });
    expect(parseScope("registry:catalog:*")).toEqual({ type: "registry", name: "catalog", actions: ["*"] });
    for (const bad of ["", "repository", "repository:intake/acme/app", "repository::pull", "repository:x:"]) expect(parseScope(bad)).toBeUndefined();
  });

  it("a path glob covers its own subtree only", () => {
    expect(pathCovers("intake/acme/*", "intake/acme/app")).toBe(true);
    expect(pathCovers("intake/acme/*", "intake/acme/a/b")).toBe(true);
    expect(pathCovers("intake/acme/*", "intake/acme")).toBe(false);
    expect(pathCovers("intake/acme/*", "intake/acme-eu/app")).toBe(false);
    expect(pathCovers("intake/acme/*", "intake/acme/../acme-eu/app")).toBe(false);
  });

  it("grants the intersection of what was asked and what the entry allows, never catalog", () => {
    const entry = { customer: "acme", username: "r", passwordHash: "", paths: ["intake/acme/*"], actions: ["pull" as const], enabled: true };
    const asked = [
      "repository:intake/acme/app:pull,push,delete",
      "repository:intake/acme-eu/app:pull",
      "registry:catalog:*",
      "repository:intake/acme/app:pull",
    ].map((s) => parseScope(s)!);
    expect(grant(entry, asked)).toEqual([{ type: "repository", name: "intake/acme/app", actions: ["pull"] }]);
  });
});

describe("token signing", () => {
  it("jwsSigner makes the JWS jose's SignJWT makes: same header and claims, verified by jose; RS256 byte for byte", async () => {
    const pairs = { ES256: generateKeyPairSync("ec", { namedCurve: "prime256v1" }), RS256: generateKeyPairSync("rsa", { modulusLength: 2048 }) };
    for (const [alg, { privateKey, publicKey }] of Object.entries(pairs) as [SigningKey["alg"], (typeof pairs)["ES256"]][]) {
      const key: SigningKey = { alg, privateKey, publicKey, x5c: ["MIIBfake"] };
      const now = Math.floor(Date.now() / 1000);
      const claims = {
        access: [{ type: "repository", name: "intake/acme/app", actions: ["pull", "push"] }],
        iss: "iss",
        sub: "robot-acme",
        aud: "svc",
        iat: now,
        nbf: now - 5,
        exp: now + 300,
        jti: randomUUID(),
      };
      const ours = jwsSigner(key, { x5c: key.x5c, typ: "JWT" })(claims);
      const jose = await new SignJWT({ access: claims.access })
        .setProtectedHeader({ alg, x5c: key.x5c, typ: "JWT" })
        .setIssuer(claims.iss)
        .setSubject(claims.sub)
        .setAudience(claims.aud)
        .setIssuedAt(claims.iat)
        .setNotBefore(claims.nbf)
        .setExpirationTime(claims.exp)
        .setJti(claims.jti)
        .sign(privateKey);
      const [h, p, sig] = ours.split(".");
      expect(`${h}.${p}`).toBe(jose.split(".").slice(0, 2).join("."));
      expect(Buffer.from(sig, "base64url")).toHaveLength(alg === "ES256" ? 64 : 256);
      if (alg === "RS256") expect(ours).toBe(jose);
      const { payload, protectedHeader } = await jwtVerify(ours, publicKey, { issuer: "iss", audience: "svc", subject: "robot-acme" });
      expect(protectedHeader).toEqual({ alg, x5c: key.x5c, typ: "JWT" });
      expect(payload).toEqual(claims);
    }
  });

  it("tokenJson writes the token response JSON.stringify would", () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const token = jwsSigner({ alg: "ES256", privateKey, publicKey, x5c: ["MIIBfake+/="] }, { x5c: ["MIIBfake+/="], typ: "JWT" })({ sub: "robot-acme" });
    const body = { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() };
    expect(tokenJson(body)).toBe(JSON.stringify(body));
  });
});

describe("tokens asked at once", () => {
  it("are signed together after the event-loop turn, each over its own request's grant", async () => {
    const dir = tempDir("batch-");
    const files = writeBrokerFixture(dir, { username: "robot-acme", password: "pw", cost: 4 });
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const broker = new TokenBroker({
      ...files,
      key: { alg: "ES256", privateKey, publicKey, x5c: [] },
      service: "svc",
      issuer: "iss",
      logger: pino({ level: "silent" }),
    });
    await broker.tokenFor({ username: "robot-acme", password: "pw" }, "svc", []); // bcrypt once; the rest is remembered
    const repos = Array.from({ length: 20 }, (_, i) => `intake/acme/app${i}`);
    const answers = await Promise.all(
      repos.map((r, i) => broker.tokenFor({ username: "robot-acme", password: "pw" }, "svc", [`repository:${r}:${i % 2 ? "pull" : "pull,push"}`])),
    );
    const jtis = new Set<unknown>();
    for (const [i, a] of answers.entries()) {
      expect(a.status).toBe(200);
      const { payload } = await jwtVerify((a.body as TokenResponse).token, publicKey, { issuer: "iss", audience: "svc", subject: "robot-acme" });
      expect(payload.access).toEqual([{ type: "repository", name: repos[i], actions: i % 2 ? ["pull"] : ["pull", "push"] }]);
      jtis.add(payload.jti);
    }
    expect(jtis.size).toBe(repos.length);
  });
});

describe("the broker's clock", () => {
  it("judges a license by today's UTC date, the next day from midnight on, and writes the token response as JSON.stringify would", async () => {
    const dir = tempDir("clock-");
    const files = writeBrokerFixture(dir, { username: "robot-acme", password: "pw", cost: 4 });
    writeFileSync(files.rosterFile, stringify({ customers: [{ id: "acme", name: "Acme", tier: "enterprise", license: { expires: "2030-06-01" } }] }));
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(new Date("2030-06-01T23:59:59.250Z"));
      const broker = new TokenBroker({
        ...files,
        key: { alg: "ES256", privateKey, publicKey, x5c: [] },
        service: "svc",
        issuer: "iss",
        logger: pino({ level: "silent" }),
      });
      const ask = async () => {
        const r = await broker.tokenFor({ username: "robot-acme", password: "pw" }, "svc", ["repository:intake/acme/app:pull"]);
        const body = r.body as TokenResponse;
        expect(JSON.parse(r.json!)).toEqual(body);
        expect(r.json).toBe(JSON.stringify(body));
        return { access: decodeJwt(body.token).access, issuedAt: body.issued_at };
      };
      const pull = [{ type: "repository", name: "intake/acme/app", actions: ["pull"] }];
      expect(await ask()).toEqual({ access: pull, issuedAt: "2030-06-01T23:59:59.000Z" });
      vi.setSystemTime(new Date("2030-06-02T00:00:00.100Z"));
      expect(await ask()).toEqual({ access: [], issuedAt: "2030-06-02T00:00:00.000Z" });
      // A clock stepped back over midnight judges by the earlier day again.
      vi.setSystemTime(new Date("2030-06-01T23:59:58.900Z"));
      expect(await ask()).toEqual({ access: pull, issuedAt: "2030-06-01T23:59:58.000Z" });
    } finally {
      vi.useRealTimers();
    }
  });
});

describe.skipIf(!!unavailable)("token broker over HTTP", () => {
  let dir: string;
  let broker: TokenBroker;
  let base: string;
  let cert: string;
  const logs: string[] = [];

  beforeAll(async () => {
    dir = tempDir("broker-");
    const pair = makeKeyPair(dir);
    cert = pair.cert;
    broker = new TokenBroker({
      ...writeBrokerFixture(dir, { username: "robot-acme", password: "pw", cost: 4 }),
      key: loadSigningKey(pair.key, pair.cert),
      service: "svc",
      issuer: "iss",
      today: () => "2026-11-22",
      logger: pino({}, { write: (s: string) => void logs.push(s) }),
    });
    base = `http://127.0.0.1:${await broker.listen("127.0.0.1", 0)}`;
  });
  afterAll(() => broker.close());

  const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString("base64")}`;

  it("GET with Basic auth and repeated scopes: a JWT Distribution accepts (single aud, x5c, ES256)", async () => {
    const r = await fetch(`${base}/token?service=svc&scope=repository:intake/acme/app:pull,push&scope=repository:intake/other/app:pull`, {
      headers: { authorization: basic("robot-acme", "pw") },
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { token: string; access_token: string; expires_in: number; issued_at: string };
    expect(body.access_token).toBe(body.token);
    expect(body.expires_in).toBe(300);
    const header = decodeProtectedHeader(body.token);
    expect(header.alg).toBe("ES256");
    expect(header.x5c).toHaveLength(1);
    const { X509Certificate } = await import("node:crypto");
    const { readFileSync } = await import("node:fs");
    const { payload } = await jwtVerify(body.token, new X509Certificate(readFileSync(cert)).publicKey, { issuer: "iss", audience: "svc" });
    expect(typeof payload.aud).toBe("string");
    expect(payload.access).toEqual([{ type: "repository", name: "intake/acme/app", actions: ["pull", "push"] }]);
    expect(payload.sub).toBe("robot-acme");
  });

  it("the OAuth2 POST form", async () => {
    const r = await fetch(`${base}/token`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({
        grant_type: "password",
        username: "robot-acme",
        password: "pw",
        service: "svc",
        scope: "repository:intake/acme/app:pull",
        client_id: "skopeo",
      }).toString(),
    });
    expect(r.status).toBe(200);
    expect(decodeJwt(((await r.json()) as { token: string }).token).access).toEqual([{ type: "repository", name: "intake/acme/app", actions: ["pull"] }]);
  });

  it("anonymous gets an empty token; unknown users and wrong passwords a 401; another service a 400", async () => {
    const anon = (await (await fetch(`${base}/token?service=svc&scope=repository:intake/acme/app:pull`)).json()) as { token: string };
    expect(decodeJwt(anon.token).access).toEqual([]);
    expect((await fetch(`${base}/token?service=svc`, { headers: { authorization: basic("nobody", "pw") } })).status).toBe(401);
    const wrong = await fetch(`${base}/token?service=svc`, { headers: { authorization: basic("robot-acme", "nope") } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get("www-authenticate")).toBe('Basic realm="svc"');
    expect((await fetch(`${base}/token?service=other`, { headers: { authorization: basic("robot-acme", "pw") } })).status).toBe(400);
    const events = logs.map((l) => JSON.parse(l).event);
    expect(events).toEqual(expect.arrayContaining(["issue", "deny"]));
    expect(logs.join("")).not.toContain('"pw"');
  });
});

describe("signing keys", () => {
  it("names the file and the rule for a key Distribution cannot use", () => {
    const unavailable = e2eUnavailable();
    if (unavailable) {
      console.log(`skipping key-file checks: ${unavailable}`);
      return;
    }
    const dir = tempDir("keys-");
    const { key, cert } = makeKeyPair(dir);
    writeFileSync(path.join(dir, "junk.pem"), "not a key");
    expect(() => loadSigningKey(path.join(dir, "junk.pem"), cert)).toThrow(KeyFileError);
    expect(() => loadSigningKey(path.join(dir, "junk.pem"), cert)).toThrow(/junk\.pem: not a PEM private key/);
    // A file that is not there is said as such, not as "not a PEM private key".
    expect(() => loadSigningKey(path.join(dir, "nope.pem"), cert)).toThrow(/nope\.pem: cannot read the private key \(no such file\): check the path given/);
    expect(() => loadSigningKey(path.join(dir, "junk.pem"), path.join(dir, "nope.crt"))).toThrow(
      /junk\.pem: not a PEM private key|nope\.crt: cannot read the certificate/,
    );
    const other = makeKeyPair(tempDir("keys2-"));
    expect(() => loadSigningKey(key, other.cert)).toThrow(/its public key does not match/);
  });
});

describe.skipIf(!!unavailable)("GET /registry/credentials", () => {
  it("mints for callers with an accepted bearer token; 401 otherwise; a denial is a 403 with the reason", async () => {
    const { createHash } = await import("node:crypto");
    const dir = tempDir("creds-");
    const pair = makeKeyPair(dir);
    const key = loadSigningKey(pair.key, pair.cert);
    writeFileSync(path.join(dir, "roster.yaml"), stringify({ customers: [customer("acme", "enterprise"), customer("initech", "standard")] }));
    writeFileSync(path.join(dir, "callers"), `# CI\n${createHash("sha256").update("caller-secret").digest("hex")}\n`);
    writeFileSync(path.join(dir, "acl.json"), JSON.stringify({ version: 1, service: "svc", issuer: "iss", entries: [] }));
    const settings = testSettings();
    const roster = testRoster([customer("acme", "enterprise"), customer("initech", "standard")], settings);
    const logs: string[] = [];
    const broker = new TokenBroker({
      aclFile: path.join(dir, "acl.json"),
      rosterFile: path.join(dir, "roster.yaml"),
      key,
      service: "svc",
      issuer: "iss",
      logger: pino({}, { write: (s: string) => void logs.push(s) }),
      credentials: {
        callerTokensFile: path.join(dir, "callers"),
        mint: (c, k) => mintFor(c, k, { settings, roster, signingKey: key }),
      },
    });
    const base = `http://127.0.0.1:${await broker.listen("127.0.0.1", 0)}/registry/credentials`;
    try {
      const get = (q: string, token?: string) => fetch(`${base}?${q}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      expect((await get("customer=acme&kind=distribution")).status).toBe(401);
      expect((await get("customer=acme&kind=distribution", "wrong")).status).toBe(401);
      const ok = await get("customer=acme&kind=distribution", "caller-secret");
      expect(ok.status).toBe(200);
      const body = (await ok.json()) as { registry: string; username: string; password: string; expiresAt: string };
      expect(body).toMatchObject({ registry: "registry.test.example.com", username: "intake-robot-acme" });
      expect(body.password).toMatch(/^ey/);
      const denied = await get("customer=initech&kind=ecr", "caller-secret");
      expect(denied.status).toBe(403);
      expect(((await denied.json()) as { errors: { message: string }[] }).errors[0].message).toBe(
        "customer initech is on tier standard, which allows ghcr, not ecr: tier enterprise includes it",
      );
      expect((await get("customer=acme&kind=quay", "caller-secret")).status).toBe(400);
      expect(logs.join("")).not.toContain(body.password);
      expect(logs.join("")).not.toContain("caller-secret");
    } finally {
      await broker.close();
    }
  });
});

describe.skipIf(!!unavailable)("review findings: the broker distrusts its access list", () => {
  it("an entry whose path reaches another customer gets nothing; a plain password in the list is never logged", async () => {
    const dir = tempDir("acl-");
    const pair = makeKeyPair(dir);
    const files = writeBrokerFixture(dir, { username: "robot-acme", password: "pw", cost: 4 });
    const acl = JSON.parse(readFileSync(files.aclFile, "utf8"));
    acl.entries[0].paths = ["intake/*"];
    writeFileSync(files.aclFile, JSON.stringify(acl));
    const logs: string[] = [];
    const broker = new TokenBroker({
      ...files,
      key: loadSigningKey(pair.key, pair.cert),
      service: "svc",
      issuer: "iss",
      today: () => "2026-11-22",
      logger: pino({}, { write: (s: string) => void logs.push(s) }),
    });
    const r = await broker.tokenFor({ username: "robot-acme", password: "pw" }, "svc", [
      "repository:intake/globex/app:pull",
      "repository:intake/acme/app:pull",
    ]);
    expect(decodeJwt((r.body as { token: string }).token).access).toEqual([]);
    expect(logs.join("")).toContain("access-list paths intake/* are outside customer acme's namespace intake/acme/*");
    acl.entries[0].passwordHash = "hunter2-plaintext";
    writeFileSync(files.aclFile, JSON.stringify(acl));
    await broker.reload();
    expect(logs.join("")).toContain("reload-failed");
    expect(logs.join("")).not.toContain("hunter2-plaintext");
  });
});
