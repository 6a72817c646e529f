import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { InvalidInput } from "../../core/errors";
import { CONFIG_NAMESPACE, STACK_FILE_SCHEMA_LINE } from "../../core/settings";
import { stackSettings } from "../../core/stack";
import { registryConfig } from "../../kinds/distribution/registry-config";
import { writeOciImage } from "../registry/oci-layout";
import { parse, stringify } from "yaml";

/** A stack file that exists: whether it holds this project's settings, and the rest of it as YAML lines to keep. */
function existingStackFile(file: string): { settings: boolean; providerConfig?: string; rest?: string } | undefined {
  if (!existsSync(file)) return undefined;
  const doc = (parse(readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> } & Record<string, unknown>;
  const { config = {}, ...rest } = doc;
  const others = Object.fromEntries(Object.entries(config).filter(([k]) => !k.startsWith(`${CONFIG_NAMESPACE}:`)));
  const indent = (text: string) =>
    text
      .trimEnd()
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n");
  return {
    settings: Object.keys(config).some((k) => k.startsWith(`${CONFIG_NAMESPACE}:`)),
    providerConfig: Object.keys(others).length ? indent(stringify(others)) : undefined,
    rest: Object.keys(rest).length ? stringify(rest) : undefined,
  };
}

/**
 * The broker's signing key pair, made with openssl: an EC P-256 key (0600) and a self-signed
 * certificate for it (the registry's rootcertbundle), valid `days`, named `CN=<subject>`.
 */
export function writeSigningKeyPair(key: string, cert: string, subject: string, days: number): void {
  rmSync(key, { force: true });
  execFileSync("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key], { stdio: "pipe" });
  chmodSync(key, 0o600);
  execFileSync("openssl", ["req", "-x509", "-new", "-key", key, "-out", cert, "-days", String(days), "-subj", `/CN=${subject}`], { stdio: "pipe" });
}

/** What `intake local-registry` is asked for. */
export interface LocalRegistryOptions {
  projectDir: string;
  /** The folder it writes into (made if absent). */
  dir: string;
  /** The stack whose file it writes, `Pulumi.<stack>.yaml`. */
  stack: string;
  /** Where the customers' registry listens, the broker, and the stand-in for the build registry. */
  registry: { host: string; port: number };
  broker: { host: string; port: number };
  source: { host: string; port: number };
  /** Write over files that exist (never without it: a key or a stack file is not replaced by surprise). */
  force: boolean;
}

/** What it wrote, by purpose. */
export interface LocalRegistryFiles {
  key: string;
  cert: string;
  registryConfig: string;
  sourceConfig: string;
  sampleImage: string;
  stackFile: string;
}

const hostPort = (a: { host: string; port: number }) => `${a.host}:${a.port}`;

/**
 * Everything a self-hosted Distribution registry and its token broker need on one machine: the
 * broker's EC P-256 key and a self-signed certificate (openssl), the registry's complete
 * config.yml (token auth pointing at the broker, trusting that certificate, data in the folder),
 * a second registry's config.yml without auth standing in for the build registry deliveries copy
 * from, a sample build as an OCI layout, and a stack file whose only kind is `distribution`, on
 * those addresses. The stack file is validated before anything is written; nothing existing is
 * replaced without `force`.
 */
export function writeLocalRegistry(o: LocalRegistryOptions): LocalRegistryFiles {
  // The folder is the project's (relative to it), as the stack file is: run from a subfolder, both land together.
  const dir = path.resolve(o.projectDir, o.dir);
  const files: LocalRegistryFiles = {
    key: path.join(dir, "broker.key"),
    cert: path.join(dir, "broker.crt"),
    registryConfig: path.join(dir, "registry.yml"),
    sourceConfig: path.join(dir, "source-registry.yml"),
    sampleImage: path.join(dir, "sample-build"),
    stackFile: path.join(o.projectDir, `Pulumi.${o.stack}.yaml`),
  };
  const addresses = [o.registry, o.broker, o.source].map(hostPort);
  if (new Set(addresses).size !== 3)
    throw new InvalidInput(`--registry, --broker and --source-registry must be three addresses; given ${addresses.join(", ")}`);
  // A stack file `pulumi stack init` wrote first (its encryption salt, no settings of this project)
  // is kept and added to; one that holds this project's settings is replaced only with --force.
  const kept = existingStackFile(files.stackFile);
  if (!o.force) {
    const there = Object.values(files).filter((f) => existsSync(f) && !(f === files.stackFile && kept && !kept.settings));
    if (there.length)
      throw new InvalidInput(
        `${there.map((f) => path.relative(process.cwd(), f) || f).join(", ")} already ${there.length === 1 ? "exists" : "exist"}; add --force to write over ${there.length === 1 ? "it" : "them"}`,
      );
  }
  const realm = `http://${hostPort(o.broker)}/token`;
  const stackText = [
    `# ${STACK_FILE_SCHEMA_LINE}`,
    "# A local stack written by `intake local-registry`: the self-hosted Distribution registry alone, on",
    `# loopback (${hostPort(o.registry)}), its token broker at ${realm}.`,
    "config:",
    `  ${CONFIG_NAMESPACE}:environment: dev`,
    `  ${CONFIG_NAMESPACE}:enabledKinds: [distribution]`,
    `  ${CONFIG_NAMESPACE}:distribution:`,
    `    host: ${hostPort(o.registry)}`,
    `    realm: ${realm}`,
    ...(kept?.providerConfig ? [kept.providerConfig.trimEnd()] : []),
    ...(kept?.rest ? [kept.rest.trimEnd()] : []),
    "",
  ].join("\n");
  // The stack must read as valid before anything is written.
  const distribution = stackSettings(o.projectDir, o.stack, { stackText, label: " (to be written)" }).settings.distribution!;
  try {
    execFileSync("openssl", ["version"], { stdio: "pipe" });
  } catch {
    throw new InvalidInput("openssl is not on PATH: it makes the broker's key and certificate (Debian: apt-get install openssl)");
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeSigningKeyPair(files.key, files.cert, distribution.issuer, 365);
  writeFileSync(
    files.registryConfig,
    registryConfig(distribution, { addr: hostPort(o.registry), rootdirectory: path.join(dir, "data"), rootcertbundle: files.cert }),
  );
  writeFileSync(
    files.sourceConfig,
    [
      "# The build registry's stand-in: no auth, loopback only. Deliveries copy from it.",
      "version: 0.1",
      "log: { level: info, formatter: json }",
      `storage: { filesystem: { rootdirectory: ${JSON.stringify(path.join(dir, "source-data"))} } }`,
      `http: { addr: "${hostPort(o.source)}" }`,
      "",
    ].join("\n"),
  );
  rmSync(files.sampleImage, { recursive: true, force: true });
  writeOciImage(files.sampleImage, "1.0.0", Buffer.from("a sample build of registry-intake's getting started\n"), "hello.txt");
  writeFileSync(files.stackFile, stackText);
  return files;
}
