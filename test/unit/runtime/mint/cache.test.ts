import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { DiskCredentialCache, type CacheKey } from "../../../../runtime/mint/disk-cache";
import type { MintedCredential } from "../../../../runtime/mint/types";
import { customer } from "../../../../testing/helpers";
import { tempDir } from "../../../../testing/tmp";

const ROOT = path.resolve(__dirname, "../../../..");
const HOST = "https://registry.dev.intake.example.com";

function credential(expiresInSeconds: number, extra: Partial<MintedCredential> = {}): MintedCredential {
  return {
    kind: "ecr",
    registry: "r.example",
    namespace: "r.example/intake/acme/",
    username: "AWS",
    password: "s3cret",
    expiresAt: new Date(Date.now() + expiresInSeconds * 1000),
    scope: {},
    ...extra,
  };
}

describe("the on-disk credential cache", () => {
  const key: CacheKey = { project: "/p", stack: "dev", customer: "acme", target: "ecr" };

  it("answers while the files the decision read and the day are unchanged, and not within 5 minutes of expiry", () => {
    const dir = tempDir("cache-");
    const roster = path.join(dir, "roster.yaml");
    writeFileSync(roster, "customers: []\n");
    const cache = new DiskCredentialCache(path.join(dir, "c"));
    mkdirSync(cache.dir, { mode: 0o700 });
    cache.put(key, "2026-11-30", [roster], credential(3600));
    expect(cache.get(key, "2026-11-30")?.credential.password).toBe("s3cret");
    const file = cache.fileOf(key);
    expect(path.basename(file)).toMatch(/^dev-acme-ecr-[0-9a-f]{16}\.json$/);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(cache.dir)).toEqual([path.basename(file)]); // no temp file left
    // Another key (another stack, customer, kind, project or signing key) is another entry.
    expect(cache.get({ ...key, stack: "prod" }, "2026-11-30")).toBeUndefined();
    expect(cache.get({ ...key, signingKey: "/k.pem" }, "2026-11-30")).toBeUndefined();
    // The next day decides again (a license expires at a day's end).
    expect(cache.get(key, "2026-12-01")).toBeUndefined();
    // Any change to a file the decision read decides again.
    writeFileSync(roster, "customers: [] \n");
    expect(cache.get(key, "2026-11-30")).toBeUndefined();
    // Within 5 minutes of expiry: minted again.
    cache.put(key, "2026-11-30", [roster], credential(299));
    expect(cache.get(key, "2026-11-30")).toBeUndefined();
    cache.put(key, "2026-11-30", [roster], credential(301));
    expect(cache.get(key, "2026-11-30")).toBeDefined();
    cache.drop(key);
    expect(cache.get(key, "2026-11-30")).toBeUndefined();
  });

  it("never keeps a credential that cannot expire, and trusts no file others can read or that is a link", () => {
    const dir = tempDir("cache-");
    const roster = path.join(dir, "roster.yaml");
    writeFileSync(roster, "customers: []\n");
    const cache = new DiskCredentialCache(path.join(dir, "c"));
    mkdirSync(cache.dir, { mode: 0o700 });
    cache.put(key, "d", [roster], credential(3600, { expiresAt: null, longLived: true }));
    expect(readdirSync(cache.dir)).toEqual([]);
    cache.put(key, "d", [roster], credential(3600));
    chmodSync(cache.fileOf(key), 0o644);
    expect(cache.get(key, "d")).toBeUndefined();
    chmodSync(cache.fileOf(key), 0o600);
    expect(cache.get(key, "d")).toBeDefined();
    const other = { ...key, customer: "globex" };
    symlinkSync(cache.fileOf(key), cache.fileOf(other));
    expect(cache.get(other, "d")).toBeUndefined();
  });

  it("is not used when its folder is open to others, and says how to fix it; off turns it off", () => {
    const dir = tempDir("cache-");
    const open = path.join(dir, "open");
    mkdirSync(open, { mode: 0o755 });
    chmodSync(open, 0o755);
    const r = DiskCredentialCache.forUser({ INTAKE_CREDENTIAL_CACHE: open });
    expect(r.cache).toBeUndefined();
    expect(r.warning).toBe(
      `credential cache ${open}: has mode 755 (others may read it); not used (minting on every call) until it is fixed: chmod 700 ${open}, owned by you`,
    );
    expect(DiskCredentialCache.forUser({ INTAKE_CREDENTIAL_CACHE: "off" })).toEqual({});
    const file = path.join(dir, "a-file");
    writeFileSync(file, "");
    expect(DiskCredentialCache.forUser({ INTAKE_CREDENTIAL_CACHE: file }).warning).toMatch(/a-file: is not a folder; not used/);
    const made = DiskCredentialCache.forUser({ INTAKE_CREDENTIAL_CACHE: path.join(dir, "new", "cache") });
    expect(made.cache).toBeDefined();
    expect(statSync(path.join(dir, "new", "cache")).mode & 0o777).toBe(0o700);
    // XDG_CACHE_HOME is the default's base.
    expect(DiskCredentialCache.forUser({ XDG_CACHE_HOME: path.join(dir, "xdg") }).cache?.dir).toBe(path.join(dir, "xdg", "registry-intake", "credentials"));
  });
});

describe("the credential helper and intake token through the cache", () => {
  function fixture() {
    const dir = tempDir("helper-cache-");
    const key = path.join(dir, "broker.key");
    writeFileSync(key, generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }));
    const roster = path.join(dir, "roster.yaml");
    const writeRoster = (extra: Record<string, unknown> = {}) =>
      writeFileSync(roster, stringify({ customers: [customer("acme", "enterprise", { license: { expires: "2099-12-31" }, ...extra })] }));
    writeRoster();
    const cacheDir = path.join(dir, "cache");
    const env = {
      ...process.env,
      INTAKE_CUSTOMER: "acme",
      INTAKE_BROKER_KEY: key,
      INTAKE_PROJECT: ROOT,
      INTAKE_ROSTER: roster,
      INTAKE_CREDENTIAL_CACHE: cacheDir,
    };
    const helper = (extra: Record<string, string> = {}) =>
      spawnSync(process.execPath, [path.join(ROOT, "cli", "bin", "docker-credential-intake.js"), "get"], {
        input: `${HOST}\n`,
        encoding: "utf8",
        env: { ...env, ...extra },
        timeout: 60_000,
      });
    const token = (...args: string[]) =>
      spawnSync(
        process.execPath,
        [path.join(ROOT, "cli", "bin", "intake.js"), "token", "--customer", "acme", "--kind", "distribution", "--roster", roster, "--key", key, ...args],
        {
          cwd: ROOT,
          encoding: "utf8",
          env,
          timeout: 60_000,
        },
      );
    const cached = () => readdirSync(cacheDir).filter((f) => f.endsWith(".json"));
    return { dir, key, roster, writeRoster, cacheDir, helper, token, cached };
  }
  const secret = (r: { stdout: string }) => JSON.parse(r.stdout).Secret as string;

  it("answers a repeated get from the cache, decides again when the roster changes, and forgets a suspended customer", () => {
    const f = fixture();
    const first = f.helper();
    expect([first.status, first.stderr]).toEqual([0, ""]);
    expect(f.cached()).toHaveLength(1);
    expect(readFileSync(path.join(f.cacheDir, f.cached()[0]), "utf8")).toContain(secret(first));
    // Tokens carry a random jti: the same secret is the cached one.
    expect(secret(f.helper())).toBe(secret(first));
    // The roster changes in a way that still allows acme: a new decision, a new credential.
    f.writeRoster({ name: "Acme Corporation" });
    const second = f.helper();
    expect(second.status).toBe(0);
    expect(secret(second)).not.toBe(secret(first));
    // Suspended: denied at once, the cached credential removed.
    f.writeRoster({ status: "suspended" });
    const denied = f.helper();
    expect([denied.status, denied.stdout]).toEqual([3, expect.stringMatching(/denied: customer acme is suspended/)]);
    expect(f.cached()).toEqual([]);
    // A new signing key is another decision's input: the entry is not answered with the old key's token.
    f.writeRoster();
    const third = f.helper();
    writeFileSync(f.key, generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }));
    expect(secret(f.helper())).not.toBe(secret(third));
  });

  it("intake token shares the rules; --no-cache mints anew and keeps nothing; INTAKE_CREDENTIAL_CACHE=off writes nothing", () => {
    const f = fixture();
    const a = f.token();
    expect([a.status, a.stderr]).toEqual([0, ""]);
    const b = f.token();
    expect(JSON.parse(b.stdout).password).toBe(JSON.parse(a.stdout).password);
    expect(JSON.parse(b.stdout).expiresAt).toBe(JSON.parse(a.stdout).expiresAt);
    const fresh = f.token("--no-cache");
    expect(JSON.parse(fresh.stdout).password).not.toBe(JSON.parse(a.stdout).password);
    expect(JSON.parse(f.token().stdout).password).toBe(JSON.parse(a.stdout).password);
    f.writeRoster({ license: { expires: "2020-01-31" } });
    const lapsed = f.token();
    expect([lapsed.status, lapsed.stderr]).toEqual([3, expect.stringMatching(/^denied: the license of customer acme expired on 2020-01-31/)]);
    expect(f.cached()).toEqual([]);
    f.writeRoster();
    const off = f.helper({ INTAKE_CREDENTIAL_CACHE: "off" });
    expect(off.status).toBe(0);
    expect(f.cached()).toEqual([]);
  });

  it("answers a cached get without loading the roster schema, YAML parser or any cloud SDK", () => {
    const f = fixture();
    expect(f.helper().status).toBe(0);
    const probe = `
      const Module = require("node:module");
      const seen = [];
      const load = Module._load;
      Module._load = function (request, ...rest) { seen.push(request); return load.call(this, request, ...rest); };
      process.argv[2] = "get";
      process.on("exit", () => process.stderr.write("\\nLOADED " + JSON.stringify(seen) + "\\n"));
      require(${JSON.stringify(path.join(ROOT, "cli", "bin", "docker-credential-intake.js"))});`;
    const r = spawnSync(process.execPath, ["-e", probe, "--", "get"], {
      input: `${HOST}\n`,
      encoding: "utf8",
      env: {
        ...process.env,
        INTAKE_CUSTOMER: "acme",
        INTAKE_BROKER_KEY: f.key,
        INTAKE_PROJECT: ROOT,
        INTAKE_ROSTER: f.roster,
        INTAKE_CREDENTIAL_CACHE: f.cacheDir,
      },
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    const seen = JSON.parse(/LOADED (.*)/.exec(r.stderr)![1]) as string[];
    expect(seen.some((m) => /credential-helper/.test(m))).toBe(true); // the probe sees the helper's own modules
    expect(seen.filter((m) => /^(zod|yaml|jose|@aws-sdk|@azure|google-auth-library|@pulumi)/.test(m) || /core\/stack|customers\/roster/.test(m))).toEqual([]);
  });
});
