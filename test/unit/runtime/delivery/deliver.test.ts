import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import bcrypt from "bcryptjs";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { DeliveryProgress, resultLine } from "../../../../cli/deliver";
import { TokenBroker } from "../../../../runtime/broker/broker";
import { loadSigningKey } from "../../../../runtime/broker/keys";
import { parseScope } from "../../../../runtime/broker/scope";
import { chooseTool, copyArgs, copyImage, CopyError } from "../../../../runtime/delivery/copy";
import { deliver } from "../../../../runtime/delivery/deliver";
import { platformSuffix, type TargetResult } from "../../../../runtime/delivery/deliver";
import { readLimited, RegistryError } from "../../../../runtime/registry/errors";
import { RegistryClient } from "../../../../runtime/registry/client";
import { AttachedCopier } from "../../../../runtime/delivery/attached";
import { parseReference } from "../../../../core/reference";
import { backoffMs, isTransient, withRetry } from "../../../../runtime/delivery/retry";
import { ecrDeliveryBatches, ecrSessionPolicy, SESSION_POLICY_LIMIT } from "../../../../kinds/ecr/mint";
import { customer } from "../../../../testing/helpers";
import { e2eUnavailable, makeKeyPair } from "../../../../testing/e2e";
import { tempDir } from "../../../../testing/tmp";

/** A copy tool that hangs: it says it started (its pid in `mark`) and sleeps; a private runtime folder beside it. */
function hangingSkopeo(prefix: string): { bin: string; runtimeDir: string; mark: string } {
  const work = tempDir(prefix);
  const bin = path.join(work, "bin");
  const runtimeDir = path.join(work, "run");
  const mark = path.join(work, "started");
  for (const d of [bin, runtimeDir]) mkdirSync(d, { mode: 0o700 });
  writeFileSync(path.join(bin, "skopeo"), `#!/bin/sh\necho $$ > "${mark}.tmp" && mv "${mark}.tmp" "${mark}"\nexec sleep 30\n`);
  chmodSync(path.join(bin, "skopeo"), 0o755);
  return { bin, runtimeDir, mark };
}

describe("retries", () => {
  it("retries network errors, 5xx and 429; never 401, 403, 404 or a bad request", () => {
    for (const s of [500, 502, 503, 504, 429]) expect(isTransient(new RegistryError(s, "x")), String(s)).toBe(true);
    for (const s of [400, 401, 403, 404]) expect(isTransient(new RegistryError(s, "x")), String(s)).toBe(false);
    expect(isTransient(new TypeError("fetch failed", { cause: Object.assign(new Error("x"), { code: "ECONNREFUSED" }) }))).toBe(true);
    expect(isTransient(Object.assign(new Error("socket"), { code: "ECONNRESET" }))).toBe(true);
    expect(isTransient(new Error("something else"))).toBe(false);
    expect(
      isTransient(
        new CopyError("skopeo", 1, 'writing blob: Patch "http://r/v2/x/blobs/uploads/u": read tcp 127.0.0.1:1->127.0.0.1:2: read: connection reset by peer'),
      ),
    ).toBe(true);
    expect(isTransient(new CopyError("crane", 1, "PUT https://r/v2/x/manifests/1: UNKNOWN: unknown error; 503 Service Unavailable"))).toBe(true);
    expect(isTransient(new CopyError("skopeo", 1, "initializing source: reading manifest 1: manifest unknown"))).toBe(false);
    // A 401 with a word that would otherwise look transient is still final.
    expect(isTransient(new CopyError("skopeo", 1, "unauthorized: authentication required (after unexpected EOF)"))).toBe(false);
  });

  it("backs off with full jitter under a doubling ceiling", () => {
    const p = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffMs(n, p, () => 0.999999))).toEqual([99, 199, 399, 799, 999, 999]);
    expect(backoffMs(3, p, () => 0)).toBe(0);
  });

  it("stops at once on a final error, gives up after the tries, and counts them", async () => {
    const p = { attempts: 4, baseDelayMs: 1, maxDelayMs: 2 };
    let calls = 0;
    const final = withRetry(async () => {
      calls++;
      throw new RegistryError(403, "denied");
    }, p);
    await expect(final).rejects.toMatchObject({ status: 403, attempts: 1 });
    expect(calls).toBe(1);
    calls = 0;
    const retried: number[] = [];
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new RegistryError(503, "busy");
        },
        p,
        (attempt) => retried.push(attempt),
      ),
    ).rejects.toMatchObject({ status: 503, attempts: 4 });
    expect([calls, retried]).toEqual([4, [1, 2, 3]]);
    calls = 0;
    const ok = await withRetry(async () => (++calls < 3 ? Promise.reject(new RegistryError(429, "slow down")) : "done"), p);
    expect(ok).toEqual({ value: "done", attempts: 3 });
  });
});

describe("delivery parts", () => {
  it("names platform tags as people read them and skips attestation manifests", () => {
    expect(platformSuffix({ architecture: "amd64", os: "linux" })).toBe("amd64");
    expect(platformSuffix({ architecture: "arm64", os: "linux", variant: "v8" })).toBe("arm64v8");
    expect(platformSuffix({ architecture: "arm", os: "linux", variant: "v7" })).toBe("armv7");
    expect(platformSuffix({ architecture: "amd64", os: "windows" })).toBe("windows-amd64");
    expect(platformSuffix({ architecture: "unknown", os: "unknown" })).toBeUndefined();
    expect(platformSuffix(undefined)).toBeUndefined();
  });

  it("skopeo copies keep the digest, every platform, and no credential on the command line", () => {
    const args = copyArgs(
      "skopeo",
      {
        source: parseReference("build.example.com/app@sha256:" + "a".repeat(64)),
        target: parseReference("127.0.0.1:5000/intake/acme/app:1.0.0"),
        targetCredential: { username: "u", password: "s3cret" },
      },
      "/tmp/x",
      "/tmp/x/digest",
    );
    expect(args).toEqual(expect.arrayContaining(["--preserve-digests", "--multi-arch=all", "--dest-tls-verify=false"]));
    expect(args).not.toContain("--src-tls-verify=false");
    expect(args.join(" ")).not.toContain("s3cret");
  });

  it("a copy stopped by SIGTERM leaves no credentials behind, and the process still ends by the signal", async () => {
    const { bin, runtimeDir, mark } = hangingSkopeo("copy-stop-");
    const script = `import("tsx").then(() => {
      const { copyImage } = require("./runtime/delivery/copy.ts");
      const { parseReference } = require("./core/reference.ts");
      copyImage("skopeo", { source: parseReference("127.0.0.1:1/a:1"), target: parseReference("127.0.0.1:2/b:1"), targetCredential: { username: "u", password: "s3cret" } });
    });`;
    const child = spawn(process.execPath, ["-e", script], {
      cwd: path.resolve(__dirname, "../../../.."),
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, XDG_RUNTIME_DIR: runtimeDir },
      stdio: "ignore",
    });
    const ended = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    for (let i = 0; i < 300 && !existsSync(mark); i++) await new Promise((r) => setTimeout(r, 50));
    const toolPid = Number(readFileSync(mark, "utf8"));
    try {
      // The auth folder is in the memory-backed runtime folder while the copy runs.
      const during = readdirSync(runtimeDir).filter((d) => d.startsWith("intake-copy-"));
      expect(during).toHaveLength(1);
      expect(readFileSync(path.join(runtimeDir, during[0], "config.json"), "utf8")).toContain(Buffer.from("u:s3cret").toString("base64"));
      child.kill("SIGTERM");
      expect(await ended).toBe("SIGTERM");
      expect(readdirSync(runtimeDir)).toEqual([]);
    } finally {
      try {
        process.kill(toolPid, "SIGKILL");
      } catch {
        // already gone
      }
    }
  }, 30_000);

  it("a copy stopped by its signal ends the tool, fails, and leaves no credentials behind", async () => {
    const { bin, runtimeDir, mark } = hangingSkopeo("copy-abort-");
    const saved = { PATH: process.env.PATH, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR };
    process.env.PATH = `${bin}:${process.env.PATH}`;
    process.env.XDG_RUNTIME_DIR = runtimeDir;
    try {
      const stop = new AbortController();
      const copy = copyImage(
        "skopeo",
        { source: parseReference("127.0.0.1:1/a:1"), target: parseReference("127.0.0.1:2/b:1"), targetCredential: { username: "u", password: "s3cret" } },
        stop.signal,
      );
      for (let i = 0; i < 300 && !existsSync(mark); i++) await new Promise((r) => setTimeout(r, 50));
      const toolPid = Number(readFileSync(mark, "utf8"));
      expect(readdirSync(runtimeDir)).toHaveLength(1);
      stop.abort();
      await expect(copy).rejects.toBeInstanceOf(CopyError);
      expect(readdirSync(runtimeDir)).toEqual([]);
      expect(() => process.kill(toolPid, 0)).toThrow();
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.XDG_RUNTIME_DIR === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved.XDG_RUNTIME_DIR;
    }
  }, 30_000);

  it("chooses crane when it is on PATH, honours the flag and INTAKE_COPY_TOOL, and refuses others", () => {
    const bin = tempDir("bin-");
    for (const t of ["crane", "skopeo"]) {
      writeFileSync(path.join(bin, t), "#!/bin/sh\n");
      chmodSync(path.join(bin, t), 0o755);
    }
    expect(chooseTool(undefined, { PATH: bin })).toBe("crane");
    expect(chooseTool("skopeo", { PATH: bin })).toBe("skopeo");
    expect(chooseTool(undefined, { PATH: bin, INTAKE_COPY_TOOL: "skopeo" })).toBe("skopeo");
    expect(() => chooseTool("docker", { PATH: bin })).toThrow(/copy tool "docker" \(--tool\) must be crane or skopeo/);
    expect(() => chooseTool("crane", { PATH: "/nonexistent" })).toThrow(/crane is not on PATH/);
  });

  it("ECR delivery sessions: customers split into batches whose session policy fits STS's limit", () => {
    const o = { repoPrefix: "intake", accountId: "111122223333", region: "eu-west-1" };
    const ids = Array.from({ length: 120 }, (_, i) => `customer-number-${String(i).padStart(4, "0")}`);
    const batches = ecrDeliveryBatches(o, ids);
    expect(batches.length).toBeGreaterThan(3);
    expect(batches.flat()).toEqual(ids);
    for (const b of batches) {
      const policy = ecrSessionPolicy({ ...o, customerId: b[0], customerIds: b });
      expect(policy.length).toBeLessThanOrEqual(SESSION_POLICY_LIMIT);
      for (const id of b) expect(policy).toContain(`repository/intake/${id}/*`);
    }
  });

  it("progress: plain lines off a terminal; a block redrawn in place on one", () => {
    const result: TargetResult = {
      customer: "acme",
      kind: "distribution",
      target: "r/intake/acme/app:1",
      status: "delivered",
      digest: "sha256:" + "b".repeat(64),
      seconds: 1.25,
      bytes: 3 * 1024 * 1024,
      attempts: 2,
      via: "mount",
      tags: ["latest"],
    };
    const plain: string[] = [];
    const p = new DeliveryProgress((s) => plain.push(s), false);
    p.event({ type: "start", customer: "acme", kind: "distribution", target: result.target, step: "mount" });
    p.event({ type: "retry", customer: "acme", kind: "distribution", attempt: 1, delayMs: 400, reason: "HEAD answered 503" });
    p.event({ type: "done", result });
    expect(plain.join("")).toBe(
      "mount     distribution acme                     r/intake/acme/app:1\n" +
        "retry     distribution acme                     try 1 failed (HEAD answered 503); again in 0.4 s\n",
    );
    // The result itself is printed once, on stdout, by the caller (CI logs join both streams).
    expect(resultLine(result)).toBe(
      `delivered distribution acme                     r/intake/acme/app:1  (sha256:bbbbbbbbbbbb, 1.3 s, 3.0 MiB, mount, 2 tries, tags latest)`,
    );
    const tty: string[] = [];
    const t = new DeliveryProgress((s) => tty.push(s), true);
    t.event({ type: "start", customer: "acme", kind: "distribution", target: result.target, step: "check" });
    t.event({ type: "done", result });
    t.end();
    expect(tty[1]).toMatch(/^\x1b\[2A\x1b\[J/);
    expect(tty.at(-1)).toBe("\x1b[2A\x1b[J");
  });
});

const unavailable = e2eUnavailable();
describe.skipIf(!!unavailable)("the broker's delivery robot", () => {
  it("gets pull and push under the namespaces of customers licensed today, nothing else", async () => {
    const dir = tempDir("delivery-broker-");
    const pair = makeKeyPair(dir);
    const rosterFile = path.join(dir, "roster.yaml");
    writeFileSync(
      rosterFile,
      stringify({
        customers: [
          customer("acme", "enterprise"),
          customer("hooli", "enterprise", { license: { expires: "2026-01-31" } }),
          customer("initech", "standard"),
          customer("wayne", "enterprise", { registries: ["ecr"] }),
        ],
      }),
    );
    const aclFile = path.join(dir, "acl.json");
    const acl = (enabled: boolean) =>
      JSON.stringify({
        version: 1,
        service: "svc",
        issuer: "iss",
        entries: [],
        delivery: { username: "intake-delivery", passwordHash: bcrypt.hashSync("pw", 4), enabled },
      });
    writeFileSync(aclFile, acl(true));
    const broker = new TokenBroker({
      aclFile,
      rosterFile,
      key: loadSigningKey(pair.key, pair.cert),
      service: "svc",
      issuer: "iss",
      today: () => "2026-11-22",
      logger: pino({ level: "silent" }),
    });
    const asked = [
      "intake/acme/app",
      "intake/acme/team/app",
      "intake/hooli/app",
      "intake/initech/app",
      "intake/wayne/app",
      "intake/acme",
      "other/acme/app",
      "intake/../acme/app",
    ].map((n) => parseScope(`repository:${n}:pull,push,delete`)!);
    const { granted, refused } = broker.deliveryGrant(asked);
    expect(granted).toEqual([
      { type: "repository", name: "intake/acme/app", actions: ["pull", "push"] },
      { type: "repository", name: "intake/acme/team/app", actions: ["pull", "push"] },
    ]);
    expect(refused).toEqual([
      `intake/hooli/app: the license of customer hooli expired on 2026-01-31: renew it (license.expires in ${rosterFile}) to restore access`,
      "intake/initech/app: customer initech is on tier standard, which allows ghcr, not distribution: tier enterprise includes it",
      `intake/wayne/app: customer wayne did not ask for distribution (registries: ecr): add it to its registries in ${rosterFile}`,
      "intake/acme: not under intake/<customer>/",
      "other/acme/app: not under intake/<customer>/",
      "intake/../acme/app: not under intake/<customer>/",
    ]);
    const token = async () =>
      (await broker.tokenFor({ username: "intake-delivery", password: "pw" }, "svc", ["repository:intake/acme/app:push,pull"])).body as { token: string };
    const access = async () => JSON.parse(Buffer.from((await token()).token.split(".")[1], "base64url").toString()).access;
    expect(await access()).toEqual([{ type: "repository", name: "intake/acme/app", actions: ["push", "pull"] }]);
    writeFileSync(aclFile, acl(false));
    await broker.reload();
    expect(await access()).toEqual([]);
    expect((await broker.tokenFor({ username: "intake-delivery", password: "wrong" }, "svc", [])).status).toBe(401);
  });
});

/** A small terminal: wraps at `columns`, scrolls past `rows`, understands ESC[nA and ESC[J. */
function terminal(columns: number, rows: number) {
  let screen: string[] = [""];
  let row = 0;
  let col = 0;
  const put = (ch: string) => {
    if (ch === "\n") {
      row++;
      col = 0;
    } else {
      if (col === columns) {
        row++;
        col = 0;
      }
      while (screen.length <= row) screen.push("");
      screen[row] = screen[row].padEnd(col).slice(0, col) + ch + screen[row].slice(col + 1);
      col++;
    }
    while (screen.length <= row) screen.push("");
    if (screen.length > rows) {
      const drop = screen.length - rows;
      screen = screen.slice(drop);
      row -= drop;
    }
  };
  return {
    write(s: string) {
      for (let i = 0; i < s.length; i++) {
        const esc = /^\x1b\[(\d*)([AJ])/.exec(s.slice(i));
        if (esc) {
          if (esc[2] === "A") row = Math.max(0, row - Number(esc[1] || 1));
          else screen = [...screen.slice(0, row), screen[row].slice(0, col)];
          col = esc[2] === "A" ? 0 : col;
          i += esc[0].length - 1;
        } else put(s[i]);
      }
    },
    screen: () => screen.filter((l, i) => l !== "" || i < row),
  };
}

describe("delivery progress on a terminal", () => {
  it("in 80 columns and 12 rows, many long lines redrawn leave no stale line and no line wider than the screen", () => {
    const term = terminal(80, 12);
    const p = new DeliveryProgress(
      (s) => term.write(s),
      true,
      () => ({ columns: 80, rows: 12 }),
    );
    const ids = Array.from({ length: 15 }, (_, i) => `customer-with-a-long-name-${i}`);
    for (const id of ids) p.event({ type: "start", customer: id, kind: "distribution", target: `registry.example.com/intake/${id}/app:1.4.2`, step: "copy" });
    for (const id of ids) {
      p.event({
        type: "retry",
        customer: id,
        kind: "distribution",
        attempt: 1,
        delayMs: 400,
        reason: "HEAD answered 503 Service Unavailable from the upstream",
      });
      p.event({
        type: "done",
        result: {
          customer: id,
          kind: "distribution",
          target: `registry.example.com/intake/${id}/app:1.4.2`,
          status: "delivered",
          digest: "sha256:" + "c".repeat(64),
          seconds: 2,
          bytes: 1024,
          attempts: 2,
          via: "copy",
          tags: [],
        },
      });
    }
    const screen = term.screen();
    expect(screen.every((l) => l.length < 80)).toBe(true);
    // The block is the newest results, a count of the rest, and the clock: no retry line survives.
    expect(screen.filter((l) => l.startsWith("retry"))).toEqual([]);
    expect(screen[0]).toMatch(/^… 6 more above$/);
    expect(screen.filter((l) => l.startsWith("delivered"))).toHaveLength(9);
    expect(screen.at(-1)).toMatch(/^… \d+\.\d s$/);
    p.end();
    expect(term.screen()).toEqual([]);
  });
});

describe("a delivery whose every target is denied", () => {
  it("reads nothing from the source and asks for no credential: each target says why", async () => {
    let fetched = 0;
    let asked = 0;
    const results = await deliver({
      source: parseReference(`build.example.com/app@sha256:${"a".repeat(64)}`),
      build: "app",
      version: "1.0.0",
      targets: [{ customer: "initech", kind: "distribution" }],
      access: () => ({ allowed: false, reason: "tier standard does not allow distribution" }),
      namespace: (c) => `registry.example.com/intake/${c}/`,
      credentials: async () => {
        asked++;
        return [];
      },
      tool: "skopeo",
      fetchImpl: (async () => {
        fetched++;
        throw new Error("fetch failed");
      }) as typeof fetch,
    });
    expect(results.map((r) => [r.status, r.reason])).toEqual([["denied", "tier standard does not allow distribution"]]);
    expect([fetched, asked]).toEqual([0, 0]);
  });
});

/**
 * A registry on `r.example.com` whose token endpoint grants what is asked: a request passes when
 * its bearer token's scope covers what the registry's challenge for it names.
 */
function fakeRegistry(o: { refuseMounts?: boolean; blobs?: string[] } = {}) {
  const log: string[] = [];
  const granted = new Map<string, string[]>();
  let n = 0;
  const challengeOf = (method: string, path: string): string => {
    const repo = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(path)![1];
    const from = /[?&]from=([^&]+)/.exec(path)?.[1];
    const push = method !== "GET" && method !== "HEAD";
    return [`repository:${repo}:${push ? "pull,push" : "pull"}`, ...(from ? [`repository:${decodeURIComponent(from)}:pull`] : [])].join(" ");
  };
  const allows = (have: string[], need: string) =>
    need.split(" ").every((s) => {
      const [, repo, actions] = s.split(":");
      return actions.split(",").every((a) => have.some((h) => h.split(":")[1] === repo && h.split(":")[2].split(",").includes(a)));
    });
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const method = init?.method ?? "GET";
    if (url.pathname === "/token") {
      const token = `t${++n}`;
      granted.set(token, url.searchParams.getAll("scope"));
      log.push(`token ${url.searchParams.getAll("scope").join(" ")}`);
      return new Response(JSON.stringify({ token, expires_in: 300 }), { status: 200 });
    }
    const need = challengeOf(method, url.pathname + url.search);
    const auth = new Headers(init?.headers).get("authorization")?.replace(/^Bearer /, "");
    if (!auth || !allows(granted.get(auth) ?? [], need)) {
      log.push(`401 ${method} ${url.pathname}`);
      return new Response("{}", { status: 401, headers: { "www-authenticate": `Bearer realm="https://auth.example.com/token",service="r",scope="${need}"` } });
    }
    log.push(`${method} ${url.pathname}`);
    const blob = /^\/v2\/(.+)\/blobs\/(sha256:[0-9a-f]+)$/.exec(url.pathname);
    if (blob && method === "HEAD") return new Response(null, { status: o.blobs?.includes(`${blob[1]}@${blob[2]}`) ? 200 : 404 });
    if (blob && method === "GET") return new Response("x", { status: 200 });
    if (method === "POST" && o.refuseMounts) return new Response(null, { status: 202, headers: { location: `${url.pathname}u1` } });
    if (method === "DELETE") return new Response(null, { status: 204 });
    return new Response(null, { status: method === "POST" ? 201 : method === "PUT" ? 201 : 404 });
  }) as typeof fetch;
  return { log, fetchImpl };
}

describe("the registry client's tokens", () => {
  it("asks for a token before the request once the host has challenged, reuses one whose scope covers a request, and shares one request per scope", async () => {
    const { log, fetchImpl } = fakeRegistry();
    const client = new RegistryClient({ username: "u", password: "p" }, fetchImpl);
    const ref = (repo: string) => parseReference(`r.example.com/${repo}:1`);
    // The first request learns the token endpoint from its challenge.
    expect(await client.headManifest(ref("a/app"))).toEqual({ exists: false });
    // Later ones ask for their token first: no refusal on the way.
    expect(await client.headManifest(ref("b/app"))).toEqual({ exists: false });
    // A mount's token (push on b, pull on a) also serves the manifest write on b that follows.
    await client.mountBlob("r.example.com", "b/app", "a/app", { digest: `sha256:${"1".repeat(64)}`, size: 1 });
    await client.putManifest("r.example.com", "b/app", "1", { bytes: Buffer.from("{}"), mediaType: "application/vnd.oci.image.manifest.v1+json" });
    // Concurrent requests that need one scope: one token request.
    await Promise.all([1, 2, 3].map((i) => client.headManifest(parseReference(`r.example.com/c/app:${i}`))));
    expect(log).toEqual([
      "401 HEAD /v2/a/app/manifests/1",
      "token repository:a/app:pull",
      "HEAD /v2/a/app/manifests/1",
      "token repository:b/app:pull",
      "HEAD /v2/b/app/manifests/1",
      "token repository:b/app:pull,push repository:a/app:pull",
      "POST /v2/b/app/blobs/uploads/",
      "PUT /v2/b/app/manifests/1",
      "token repository:c/app:pull",
      "HEAD /v2/c/app/manifests/1",
      "HEAD /v2/c/app/manifests/2",
      "HEAD /v2/c/app/manifests/3",
    ]);
    expect(client.tokenRequests).toBe(4);
  });
});

describe("what the registry client reads whole", () => {
  /** A registry whose every answer is `body` (chunked: no content-length), counting the bytes it was asked to send. */
  const sending = (body: () => Uint8Array, count: { sent: number }) =>
    (async () => {
      let left = 8;
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          if (left-- <= 0) return c.close();
          const chunk = body();
          count.sent += chunk.byteLength;
          c.enqueue(chunk);
        },
      });
      return new Response(stream, { status: 200, headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" } });
    }) as unknown as typeof fetch;

  it("stops at the cap: a manifest past 4 MiB, a token answer past 4 MiB are refused after the cap, never read whole", async () => {
    const count = { sent: 0 };
    const client = new RegistryClient(
      undefined,
      sending(() => new Uint8Array(1024 * 1024).fill(32), count),
    );
    await expect(client.getManifest("r.example.com", "a/app", "1")).rejects.toThrow(
      /GET manifest r\.example\.com\/a\/app:1: the registry sent more than 4194304 bytes/,
    );
    // Five chunks of 1 MiB were pulled (the fifth crossed the cap), not all eight.
    expect(count.sent).toBeLessThanOrEqual(6 * 1024 * 1024);
    const small = await readLimited(new Response("{}"), 2);
    expect(small?.toString()).toBe("{}");
    expect(await readLimited(new Response("{} "), 2)).toBeUndefined();
    expect(await readLimited(new Response("x", { headers: { "content-length": "999" } }), 10)).toBeUndefined();
  });
});

describe("a blob mount the registry refuses", () => {
  const digest = `sha256:${"2".repeat(64)}`;
  it("leaves a blob the target already holds as it is and cancels the upload it opened", async () => {
    const { log, fetchImpl } = fakeRegistry({ refuseMounts: true, blobs: [`b/app@${digest}`] });
    const client = new RegistryClient({ username: "u", password: "p" }, fetchImpl);
    expect(await client.mountBlob("r.example.com", "b/app", "a/app", { digest, size: 1 })).toEqual({ how: "exists", bytes: 0 });
    expect(log.filter((l) => !l.startsWith("401") && !l.startsWith("token"))).toEqual([
      "POST /v2/b/app/blobs/uploads/",
      `HEAD /v2/b/app/blobs/${digest}`,
      "DELETE /v2/b/app/blobs/uploads/u1",
    ]);
  });

  it("streams a blob the target lacks from the other repository into the upload", async () => {
    const { log, fetchImpl } = fakeRegistry({ refuseMounts: true });
    const client = new RegistryClient({ username: "u", password: "p" }, fetchImpl);
    expect(await client.mountBlob("r.example.com", "b/app", "a/app", { digest, size: 1 })).toEqual({ how: "uploaded", bytes: 1 });
    expect(log.filter((l) => !l.startsWith("401") && !l.startsWith("token"))).toEqual([
      "POST /v2/b/app/blobs/uploads/",
      `HEAD /v2/b/app/blobs/${digest}`,
      `GET /v2/a/app/blobs/${digest}`,
      "PUT /v2/b/app/blobs/uploads/u1",
    ]);
  });
});

describe("attached artifacts where tags never move", () => {
  const subject = `sha256:${"a".repeat(64)}`;
  const tag = `sha256-${"a".repeat(64)}.sig`;
  const earlier = `sha256:${"e".repeat(64)}`;
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: `sha256:${"0".repeat(64)}`, size: 2 },
      layers: [],
    }),
  );
  const signature = { bytes, mediaType: "application/vnd.oci.image.manifest.v1+json", digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}` };
  /** A registry whose `.sig` tag names earlier signatures; it logs the writes it is sent. */
  function registry() {
    const writes: string[] = [];
    const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
      const url = new URL(String(input));
      const method = init?.method ?? "GET";
      if (method === "HEAD" && url.pathname === `/v2/intake/acme/app/manifests/${tag}`)
        return new Response(null, { status: 200, headers: { "docker-content-digest": earlier, "content-type": signature.mediaType } });
      if (method === "PUT") {
        writes.push(url.pathname);
        return new Response(null, { status: 201, headers: { "docker-content-digest": signature.digest } });
      }
      return new Response(null, { status: 404 });
    }) as typeof fetch;
    return { writes, client: new RegistryClient(undefined, fetchImpl) };
  }
  const artifact = { kind: "signature" as const, subject, tag, manifest: signature, children: [], blobs: [] };
  const op = <T>(fn: () => Promise<T>) => fn();

  it("a cosign tag that names earlier signatures is left and reported, not written; elsewhere it is written", async () => {
    const fixed = registry();
    const kept = await new AttachedCopier(fixed.client, { client: fixed.client, host: "r.example.com", repository: "src/app" }, [artifact]).place(
      "r.example.com",
      "intake/acme/app",
      op,
      true,
    );
    expect(kept.results).toEqual([{ kind: "signature", digest: signature.digest, subject, tag, how: "kept", held: earlier }]);
    expect(fixed.writes).toEqual([]);
    expect(
      resultLine({
        customer: "acme",
        kind: "gar",
        target: "r.example.com/intake/acme/app:1.0.0",
        status: "cached",
        seconds: 0,
        bytes: 0,
        attempts: 1,
        tags: [],
        attached: kept.results,
      }),
    ).toContain(`tags are immutable here; left as they are: ${tag} (holds ${earlier.slice(0, 19)})`);
    const moving = registry();
    const copied = await new AttachedCopier(moving.client, { client: moving.client, host: "r.example.com", repository: "src/app" }, [artifact]).place(
      "r.example.com",
      "intake/acme/app",
      op,
      false,
    );
    expect(copied.results[0].how).toBe("copied");
    expect(moving.writes).toEqual([`/v2/intake/acme/app/manifests/${tag}`]);
  });
});
