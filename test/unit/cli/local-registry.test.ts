// `intake local-registry`: what a self-hosted registry and its broker need on one machine, and a
// local stack; and the checks every command's output files get before any work.
import { execFileSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { main } from "../../../cli/main";
import { loadSigningKey } from "../../../runtime/broker/keys";
import { tempDir } from "../../../testing/tmp";

const ROOT = path.resolve(__dirname, "../../..");

async function run(args: string[], cwd?: string) {
  const out: string[] = [];
  const err: string[] = [];
  const before = process.cwd();
  if (cwd) process.chdir(cwd);
  try {
    const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    process.chdir(before);
  }
}

/** A project folder with Pulumi.yaml and the default roster. */
function project(): string {
  const dir = tempDir("intake-local-registry-");
  cpSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  mkdirSync(path.join(dir, "customers"));
  cpSync(path.join(ROOT, "customers", "roster.yaml"), path.join(dir, "customers", "roster.yaml"));
  return dir;
}

describe("intake local-registry", () => {
  it("writes a key pair that signs, a complete registry config, a build registry, a sample build and a valid local stack", async () => {
    const dir = project();
    const r = await run([
      "local-registry",
      "--project",
      dir,
      "--registry",
      "127.0.0.1:6000",
      "--broker",
      "127.0.0.1:6001",
      "--source-registry",
      "127.0.0.1:6002",
    ]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const local = path.join(dir, ".intake-local");
    expect(statSync(path.join(local, "broker.key")).mode & 0o777).toBe(0o600);
    // The broker loads the pair as it would at start.
    expect(() => loadSigningKey(path.join(local, "broker.key"), path.join(local, "broker.crt"))).not.toThrow();
    const registry = parse(readFileSync(path.join(local, "registry.yml"), "utf8"));
    expect(registry.http.addr).toBe("127.0.0.1:6000");
    expect(registry.auth.token).toEqual({
      realm: "http://127.0.0.1:6001/token",
      service: "registry-intake",
      issuer: "registry-intake-broker",
      rootcertbundle: path.join(local, "broker.crt"),
    });
    expect(registry.storage.filesystem.rootdirectory).toBe(path.join(local, "data"));
    expect(parse(readFileSync(path.join(local, "source-registry.yml"), "utf8")).http.addr).toBe("127.0.0.1:6002");
    const index = JSON.parse(readFileSync(path.join(local, "sample-build", "index.json"), "utf8"));
    expect(index.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe("1.0.0");
    // The local stack plans: the distribution kind alone, on those addresses.
    const plan = await run(["plan", "--project", dir, "--stack", "local", "--json", path.join(dir, "plan.json")]);
    expect(plan.code).toBe(0);
    const types = new Set((JSON.parse(readFileSync(path.join(dir, "plan.json"), "utf8")).resources as { type: string }[]).map((x) => x.type));
    expect([...types].some((t) => t.startsWith("aws:") || t.startsWith("azure-native:") || t.startsWith("gcp:") || t.startsWith("github:"))).toBe(false);
    expect(r.out).toMatch(/docker-registry serve \.intake-local\/registry\.yml|registry\.yml/);
  });

  it("keeps a stack file `pulumi stack init` wrote first, and writes its folder beside it when run from a subfolder", async () => {
    const dir = project();
    writeFileSync(path.join(dir, "Pulumi.local.yaml"), "encryptionsalt: v1:abc=:v1:def\n");
    const sub = path.join(dir, "docs", "guides");
    mkdirSync(sub, { recursive: true });
    const r = await run(["local-registry"], sub);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(existsSync(path.join(dir, ".intake-local", "broker.key"))).toBe(true);
    expect(existsSync(path.join(sub, ".intake-local"))).toBe(false);
    const stack = parse(readFileSync(path.join(dir, "Pulumi.local.yaml"), "utf8"));
    expect(stack.encryptionsalt).toBe("v1:abc=:v1:def");
    expect(stack.config["registry-intake:enabledKinds"]).toEqual(["distribution"]);
  });

  it("replaces nothing without --force, refuses one address given twice, and changes nothing when it refuses", async () => {
    const dir = project();
    expect((await run(["local-registry", "--project", dir])).code).toBe(0);
    const key = readFileSync(path.join(dir, ".intake-local", "broker.key"), "utf8");
    const again = await run(["local-registry", "--project", dir]);
    expect(again.code).toBe(2);
    expect(again.err.split("\n")).toHaveLength(1);
    expect(again.err).toMatch(/broker\.key, .*Pulumi\.local\.yaml already exist; add --force to write over them$/);
    expect(readFileSync(path.join(dir, ".intake-local", "broker.key"), "utf8")).toBe(key);
    const forced = await run(["local-registry", "--project", dir, "--force"]);
    expect(forced.code).toBe(0);
    expect(readFileSync(path.join(dir, ".intake-local", "broker.key"), "utf8")).not.toBe(key);

    const other = project();
    const same = await run(["local-registry", "--project", other, "--registry", "127.0.0.1:5001"]);
    expect(same.code).toBe(2);
    expect(same.err).toBe("error: --registry, --broker and --source-registry must be three addresses; given 127.0.0.1:5001, 127.0.0.1:5001, 127.0.0.1:5002");
    expect(existsSync(path.join(other, ".intake-local"))).toBe(false);
    expect(existsSync(path.join(other, "Pulumi.local.yaml"))).toBe(false);
  });

  it("says so in one line when openssl is missing, and writes nothing", async () => {
    const dir = project();
    const saved = process.env.PATH;
    const node = path.dirname(execFileSync("sh", ["-c", "command -v node"], { encoding: "utf8" }).trim());
    process.env.PATH = node;
    try {
      const r = await run(["local-registry", "--project", dir]);
      expect(r.code).toBe(2);
      expect(r.err).toBe("error: openssl is not on PATH: it makes the broker's key and certificate (Debian: apt-get install openssl)");
    } finally {
      process.env.PATH = saved;
    }
    expect(existsSync(path.join(dir, ".intake-local"))).toBe(false);
    expect(existsSync(path.join(dir, "Pulumi.local.yaml"))).toBe(false);
  });
});

describe("output files (--json, --markdown)", () => {
  it("a folder, or a path under a file, is refused before any work, naming the flag", async () => {
    const dir = project();
    writeFileSync(path.join(dir, "file.txt"), "");
    const folder = await run(["plan", "--project", ROOT, "--markdown", dir]);
    expect(folder.code).toBe(2);
    expect(folder.err.split("\n")[0]).toBe(`error: option '--markdown <path>' argument '${dir}' is invalid. ${dir} is a folder; give the path of a file in it`);
    const under = await run(["plan", "--project", ROOT, "--json", path.join(dir, "file.txt", "plan.json")]);
    expect(under.code).toBe(2);
    expect(under.err.split("\n")[0]).toMatch(/file\.txt is a file, not a folder: the path cannot be made$/);
    expect(under.out).toBe("");
  });

  it.runIf(process.platform === "linux")("a folder that cannot be made is one line naming the flag, never a hang (/proc answers ENOENT to mkdir)", async () => {
    const r = await run(["plan", "--project", ROOT, "--json", "/proc/intake-no-such/plan.json"]);
    expect(r.code).toBe(2);
    expect(r.err).toBe("error: --json /proc/intake-no-such/plan.json: cannot be written (ENOENT)");
  });
});

describe("a kind the stack does not enable", () => {
  it("is the caller's input to fix: exit 2 naming --kind, not a license denial", async () => {
    const dir = project();
    expect((await run(["local-registry", "--project", dir])).code).toBe(0);
    const r = await run(["token", "--project", dir, "--stack", "local", "--customer", "acme", "--kind", "ecr", "--no-cache"]);
    expect(r.code).toBe(2);
    expect(r.err).toBe("error: --kind ecr: ecr is not enabled on this stack (enabledKinds)");
  });
});
