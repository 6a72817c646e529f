import { spawn } from "node:child_process";
import { accessSync, chmodSync, constants, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { baseUrl, type RegistryCredential } from "../registry/auth";
import { formatReference, type ImageReference } from "../../core/reference";

export type CopyTool = "skopeo" | "crane";

export interface CopyRequest {
  source: ImageReference;
  target: ImageReference;
  sourceCredential?: RegistryCredential;
  targetCredential?: RegistryCredential;
  /** Copy every platform of a multi-arch index (default), not just this machine's. */
  allPlatforms?: boolean;
}

export interface CopyResult {
  /**
   * The manifest digest the tool says it wrote (skopeo's --digestfile); crane says none on its
   * output (it logs to stderr). The caller reads the tag back either way: that is the evidence.
   */
  digest?: string;
  seconds: number;
}

export class CopyError extends Error {
  constructor(
    readonly tool: CopyTool,
    readonly exitCode: number | null,
    readonly stderr: string,
  ) {
    super(`${tool} failed (${exitCode ?? "killed"}): ${stderr.trim().split("\n").slice(-3).join(" | ")}`);
    this.name = "CopyError";
  }
}

/** Is this program on PATH? */
function onPath(cmd: string, env: NodeJS.ProcessEnv = process.env): boolean {
  return (env.PATH ?? "").split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The copy tool: the one asked for (flag, else INTAKE_COPY_TOOL), else crane when on PATH, else skopeo. */
export function chooseTool(asked?: string, env: NodeJS.ProcessEnv = process.env): CopyTool {
  const want = asked ?? env.INTAKE_COPY_TOOL;
  if (want !== undefined && want !== "crane" && want !== "skopeo")
    throw new Error(`copy tool "${want}" (${asked ? "--tool" : "INTAKE_COPY_TOOL"}) must be crane or skopeo`);
  const tool = (want as CopyTool | undefined) ?? (onPath("crane", env) ? "crane" : "skopeo");
  if (!onPath(tool, env))
    throw new Error(`${tool} is not on PATH: install it (apt-get install skopeo, or crane from go-containerregistry) or choose the other with --tool`);
  return tool;
}

const insecure = (r: ImageReference) => baseUrl(r.registry).startsWith("http:");

/** A docker config.json holding only these credentials. */
function authFileContent(creds: { registry: string; credential?: RegistryCredential }[]): string {
  const auths: Record<string, { auth: string }> = {};
  for (const c of creds) {
    if (c.credential) auths[c.registry] = { auth: Buffer.from(`${c.credential.username}:${c.credential.password}`).toString("base64") };
  }
  return JSON.stringify({ auths });
}

/**
 * The argv of a registry-to-registry copy. Credentials are never in it: they are in the per-copy
 * auth file (skopeo --authfile, crane $DOCKER_CONFIG/config.json), readable by this user only.
 */
export function copyArgs(tool: CopyTool, req: CopyRequest, authDir: string, digestFile: string): string[] {
  const src = formatReference(req.source);
  const dst = formatReference({ ...req.target, digest: undefined });
  if (tool === "skopeo") {
    return [
      "copy",
      ...(req.allPlatforms === false ? [] : ["--multi-arch=all"]),
      "--authfile",
      path.join(authDir, "config.json"),
      ...(insecure(req.source) ? ["--src-tls-verify=false"] : []),
      ...(insecure(req.target) ? ["--dest-tls-verify=false"] : []),
      "--digestfile",
      digestFile,
      // Never recompress or convert: the delivered digest must be the build's.
      "--preserve-digests",
      "--retry-times",
      "0",
      `docker://${src}`,
      `docker://${dst}`,
    ];
  }
  // crane copies the whole index by default and mounts blobs within a registry on the first copy.
  return [
    "copy",
    ...(insecure(req.source) || insecure(req.target) ? ["--insecure"] : []),
    ...(req.allPlatforms === false ? ["--platform", "linux/amd64"] : []),
    src,
    dst,
  ];
}

/**
 * Copy an image registry to registry, with no local pull; the auth folder is removed afterwards.
 * `signal` stops the tool (SIGTERM) and the copy then fails.
 */
export async function copyImage(tool: CopyTool, req: CopyRequest, signal?: AbortSignal): Promise<CopyResult> {
  const dir = mkdtempSync(path.join(secretsBase(), "intake-copy-"));
  chmodSync(dir, 0o700);
  track(dir);
  const t0 = performance.now();
  try {
    const authFile = path.join(dir, "config.json");
    writeFileSync(
      authFile,
      authFileContent([
        { registry: req.source.registry, credential: req.sourceCredential },
        { registry: req.target.registry, credential: req.targetCredential },
      ]),
      { mode: 0o600 },
    );
    const digestFile = path.join(dir, "digest");
    const args = copyArgs(tool, req, dir, digestFile);
    const { code, stderr } = await run(tool, args, tool === "crane" ? { DOCKER_CONFIG: dir } : {}, signal);
    if (code !== 0) throw new CopyError(tool, code, stderr);
    const digest = tool === "skopeo" ? readFileSync(digestFile, "utf8").trim() : undefined;
    return { ...(digest ? { digest } : {}), seconds: (performance.now() - t0) / 1000 };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    untrack(dir);
  }
}

/**
 * Where the auth folders go: memory-backed where there is one ($XDG_RUNTIME_DIR, a per-user tmpfs;
 * else /dev/shm), so the credentials never reach a disk; else the temporary folder.
 */
function secretsBase(): string {
  for (const d of [process.env.XDG_RUNTIME_DIR, "/dev/shm"]) {
    if (!d || !existsSync(d)) continue;
    try {
      accessSync(d, constants.W_OK);
      return d;
    } catch {
      // not writable: try the next
    }
  }
  return tmpdir();
}

// Auth folders of copies under way, removed also when the process is stopped mid-copy (Ctrl-C,
// SIGTERM from a CI runner or Kubernetes), not only after each copy.
const live = new Set<string>();
const STOP_SIGNALS: NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];
function removeLive(): void {
  for (const d of live) rmSync(d, { recursive: true, force: true });
  live.clear();
}
function onStop(signal: NodeJS.Signals): void {
  removeLive();
  for (const s of STOP_SIGNALS) process.removeListener(s, onStop);
  process.removeListener("exit", removeLive);
  // With our listener gone, the signal does what it would have done.
  process.kill(process.pid, signal);
}
function track(dir: string): void {
  if (live.size === 0) {
    for (const s of STOP_SIGNALS) process.on(s, onStop);
    process.on("exit", removeLive);
  }
  live.add(dir);
}
function untrack(dir: string): void {
  live.delete(dir);
  if (live.size === 0) {
    for (const s of STOP_SIGNALS) process.removeListener(s, onStop);
    process.removeListener("exit", removeLive);
  }
}

/** Run a copy tool: its exit code and stderr (where both tools say what went wrong; their stdout is progress only). */
function run(cmd: string, args: string[], env: Record<string, string>, signal?: AbortSignal): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ...env }, signal });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    // Stopped by the signal: wait for the tool to exit (close) before its auth folder goes.
    child.on("error", (e) => e.name !== "AbortError" && resolve({ code: 127, stderr: `${cmd}: ${e.message}` }));
    child.on("close", (code) => resolve({ code, stderr }));
  });
}
