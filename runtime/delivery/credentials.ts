import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import * as path from "node:path";
import type { RegistryCredential } from "../registry/auth";

export interface DiscoveredCredential extends RegistryCredential {
  /** Where it came from, for logs (never the secret). */
  source: string;
}

export interface DiscoveryOptions {
  env?: NodeJS.ProcessEnv;
  /** A mounted kubernetes.io/dockerconfigjson Secret's `.dockerconfigjson` file. */
  dockerConfigJsonFile?: string;
}

/** `REGISTRY_<HOST>_USERNAME`: the host upper-cased, every other character `_` (ghcr.io → GHCR_IO). */
export function envPrefix(registry: string): string {
  return `REGISTRY_${registry.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

/** Keys a docker config may use for a registry; Docker Hub is stored under its v1 URL. */
function configKeys(registry: string): string[] {
  const hub = registry === "docker.io" ? ["https://index.docker.io/v1/", "index.docker.io", "registry-1.docker.io"] : [];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/`, ...hub];
}

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

function fromAuths(cfg: DockerConfig, registry: string, source: string): DiscoveredCredential | undefined {
  for (const key of configKeys(registry)) {
    const a = cfg.auths?.[key];
    if (!a) continue;
    if (a.username && a.password) return { username: a.username, password: a.password, source };
    if (a.auth) {
      const decoded = Buffer.from(a.auth, "base64").toString("utf8");
      const i = decoded.indexOf(":");
      if (i > 0) return { username: decoded.slice(0, i), password: decoded.slice(i + 1), source };
    }
  }
  return undefined;
}

function helperGet(helper: string, registry: string, env: NodeJS.ProcessEnv): Promise<RegistryCredential | undefined> {
  return new Promise((resolve, reject) => {
    const child = spawn(`docker-credential-${helper}`, ["get"], { stdio: ["pipe", "pipe", "pipe"], env });
    let out = "";
    let err = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (err += d));
    child.on("error", (e) => reject(new Error(`credential helper docker-credential-${helper}: ${e.message}`)));
    child.on("close", (code) => {
      if (code !== 0)
        return /not found/i.test(out + err)
          ? resolve(undefined)
          : reject(new Error(`credential helper docker-credential-${helper} failed (${code}): ${err.trim()}`));
      try {
        const r = JSON.parse(out) as { Username?: string; Secret?: string };
        resolve(r.Username && r.Secret ? { username: r.Username, password: r.Secret } : undefined);
      } catch {
        reject(new Error(`credential helper docker-credential-${helper} answered something that is not JSON`));
      }
    });
    child.stdin.end(registry);
  });
}

function readConfig(file: string): DockerConfig | undefined {
  if (!existsSync(file)) return undefined;
  try {
    return JSON.parse(readFileSync(file, "utf8")) as DockerConfig;
  } catch (e) {
    throw new Error(`${file}: not a docker config (${(e as Error).message})`, { cause: e });
  }
}

/**
 * Source-registry credentials as users expect to find them, first match wins:
 * REGISTRY_<HOST>_USERNAME / _PASSWORD; a mounted dockerconfigjson Secret; the docker config
 * (`$DOCKER_CONFIG/config.json` or ~/.docker/config.json): its credHelpers entry, its auths
 * entry, its credsStore. None found: anonymous.
 */
export async function discoverCredential(registry: string, opts: DiscoveryOptions = {}): Promise<DiscoveredCredential | undefined> {
  const env = opts.env ?? process.env;
  const p = envPrefix(registry);
  if (env[`${p}_USERNAME`] && env[`${p}_PASSWORD`])
    return { username: env[`${p}_USERNAME`]!, password: env[`${p}_PASSWORD`]!, source: `env ${p}_USERNAME/_PASSWORD` };

  const mounted = opts.dockerConfigJsonFile ?? env.INTAKE_SOURCE_DOCKERCONFIGJSON;
  if (mounted) {
    const cfg = readConfig(mounted);
    const found = cfg && fromAuths(cfg, registry, `dockerconfigjson ${mounted}`);
    if (found) return found;
  }

  const file = path.join(env.DOCKER_CONFIG ?? path.join(env.HOME ?? homedir(), ".docker"), "config.json");
  const cfg = readConfig(file);
  if (!cfg) return undefined;
  const helper = cfg.credHelpers?.[registry];
  if (helper) {
    const c = await helperGet(helper, registry, env);
    if (c) return { ...c, source: `credential helper ${helper}` };
  }
  const inAuths = fromAuths(cfg, registry, `docker config ${file}`);
  if (inAuths) return inAuths;
  if (cfg.credsStore) {
    const c = await helperGet(cfg.credsStore, registry, env);
    if (c) return { ...c, source: `credential store ${cfg.credsStore}` };
  }
  return undefined;
}
