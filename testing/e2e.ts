import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import * as path from "node:path";
import bcryptjs from "bcryptjs";
import { stringify } from "yaml";
import { writeSigningKeyPair } from "../runtime/broker/local";
import { RegistryProxy } from "./proxy";

/** Why the real-registry tests cannot run here, or undefined when they can. */
export function e2eUnavailable(): string | undefined {
  for (const tool of ["docker-registry", "skopeo", "openssl"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0)
      return `${tool} is not installed (apt-get install docker-registry skopeo openssl; .ci/run does)`;
  }
  return undefined;
}

let copyTools: { dir?: string; why?: string } | undefined;
/** The folder of crane and regctl, built once from the Go module proxy by scripts/copy-tools.sh (cached under .tools), or why they cannot be had. */
export function copyToolsDir(): { dir?: string; why?: string } {
  if (copyTools) return copyTools;
  const r = spawnSync("bash", [path.resolve(__dirname, "../scripts/copy-tools.sh")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 15 * 60_000,
  });
  const dir = r.stdout?.trim().split("\n").pop();
  copyTools =
    r.status === 0 && dir
      ? { dir }
      : { why: `scripts/copy-tools.sh could not build crane and regctl: ${(r.stderr || r.error?.message || "").trim().split("\n").slice(-2).join(" | ")}` };
  return copyTools;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** An EC P-256 key and a self-signed certificate for it (the broker's own recipe), in `dir`. */
export function makeKeyPair(dir: string): { key: string; cert: string } {
  const key = path.join(dir, "broker.key");
  const cert = path.join(dir, "broker.crt");
  writeSigningKeyPair(key, cert, "registry-intake-broker", 2);
  return { key, cert };
}

export interface RunningRegistry {
  port: number;
  /** The registry's process, for the benches' CPU accounting. */
  pid: number;
  url: string;
  stop: () => Promise<void>;
  /** SIGKILL: the registry dies mid-request, as a crashed one does. */
  kill: () => Promise<void>;
}

/**
 * A CNCF Distribution registry on 127.0.0.1 (token auth at the broker, or none), storing under
 * `dir`/registry-data (a restart on the same `dir` keeps the images); stopped by `stop`.
 */
export async function startRegistry(dir: string, auth?: { realm: string; service: string; issuer: string; rootcertbundle: string }): Promise<RunningRegistry> {
  const port = await freePort();
  const root = path.join(dir, "registry-data");
  mkdirSync(root, { recursive: true });
  const config = path.join(dir, `registry-${port}.yml`);
  writeFileSync(
    config,
    stringify({
      version: 0.1,
      log: { level: "warn" },
      storage: { filesystem: { rootdirectory: root }, delete: { enabled: true } },
      http: { addr: `127.0.0.1:${port}` },
      ...(auth ? { auth: { token: auth } } : {}),
    }),
  );
  const child: ChildProcess = spawn("docker-registry", ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/v2/`);
      if (r.status === (auth ? 401 : 200)) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`docker-registry did not start on ${url}: ${stderr.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const exited = () => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));
  return {
    port,
    pid: child.pid!,
    url,
    kill: async () => {
      child.kill("SIGKILL");
      await exited();
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 3000).unref();
      }),
  };
}

export interface ToolResult {
  ok: boolean;
  stderr: string;
  stdout: string;
}

/** skopeo against a plain-HTTP loopback registry; credentials on the command line of a child we own, never in a shared file. */
export function skopeo(args: string[], authDir: string): Promise<ToolResult> {
  return new Promise((resolve) => {
    // An empty auth file of our own: nothing from the machine's docker config leaks in.
    const authfile = path.join(authDir, "auth.json");
    writeFileSync(authfile, "{}");
    const child = spawn("skopeo", [...args.slice(0, 1), "--authfile", authfile, ...args.slice(1)], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ ok: code === 0, stdout, stderr }));
  });
}

/**
 * A broker's files for one enterprise customer `acme` licensed to 2099: roster.yaml, and acl.json
 * with one robot whose password is `password` (bcrypt at `cost`), for service `svc` / issuer `iss`.
 */
export function writeBrokerFixture(dir: string, o: { username: string; password: string; cost: number }): { aclFile: string; rosterFile: string } {
  const rosterFile = path.join(dir, "roster.yaml");
  const aclFile = path.join(dir, "acl.json");
  writeFileSync(rosterFile, stringify({ customers: [{ id: "acme", name: "Acme", tier: "enterprise", license: { expires: "2099-12-31" } }] }));
  const passwordHash = bcryptjs.hashSync(o.password, o.cost);
  writeFileSync(
    aclFile,
    JSON.stringify({
      version: 1,
      service: "svc",
      issuer: "iss",
      entries: [{ customer: "acme", username: o.username, passwordHash, paths: ["intake/acme/*"], actions: ["pull", "push"], enabled: true }],
    }),
  );
  return { aclFile, rosterFile };
}

/**
 * A source registry and a target registry whose token service is `broker`, both behind one
 * host:port as one ingress serves them (the proxy passes /token to the broker). `close()` stops
 * them all.
 */
export async function startBrokeredRegistries(
  dir: string,
  broker: { listen(host: string, port: number): Promise<number>; close(): Promise<void> },
  auth: { service: string; issuer: string; rootcertbundle: string },
): Promise<{ host: string; source: RunningRegistry; registry: RunningRegistry; close(): Promise<void> }> {
  const proxy = new RegistryProxy(0, await broker.listen("127.0.0.1", 0));
  const host = `127.0.0.1:${await proxy.listen()}`;
  mkdirSync(path.join(dir, "source"), { recursive: true });
  mkdirSync(path.join(dir, "target"), { recursive: true });
  const source = await startRegistry(path.join(dir, "source"));
  const registry = await startRegistry(path.join(dir, "target"), { realm: `http://${host}/token`, ...auth });
  proxy.upstreamPort = registry.port;
  return {
    host,
    source,
    registry,
    async close() {
      await proxy.close();
      await registry.stop();
      await source.stop();
      await broker.close();
    },
  };
}
