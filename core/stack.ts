import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import * as path from "node:path";
import { LineCounter, parseDocument } from "yaml";
import { placed, withFile, yamlLocator, yamlSyntaxProblem, type PathKey } from "./yaml";
import { CONFIG_NAMESPACE, referencedStack, SettingsError, settingsFromValues, shardOfConfig, shardStackConfig, type Settings } from "./settings";
import { shardStackName } from "../customers/shards";
import { loadRoster, parseRoster, parseRosterParts, type Roster, type RosterOptions } from "../customers/roster";
import { rosterPartFiles } from "../customers/roster-parts";
import { InvalidInput } from "./errors";
import { KINDS } from "../kinds";

/**
 * Provider config keys that hold credentials: each kind's provider's (kinds/<kind>/kind.ts), and
 * the Kubernetes provider's. A stack file that holds one of them in plain text is refused: it must
 * be set with `pulumi config set --secret`.
 */
const PROVIDER_SECRET_KEYS = new Set([...Object.values(KINDS).flatMap((k) => k.providerSecrets ?? []), "kubernetes:kubeconfig"]);

export class StackConfigError extends InvalidInput {
  constructor(
    readonly file: string,
    readonly problems: string[],
  ) {
    // One problem is one line; several are listed under the file, each with its place. The file
    // as the user would type it from here.
    const shown = shownPath(file);
    super(problems.length === 1 ? withFile(shown, problems[0]) : `${shown} is invalid:\n${problems.map((p) => `  ${withFile(shown, p)}`).join("\n")}`);
  }
}

export interface StackConfig {
  stack: string;
  file: string;
  /** Flat config as the engine passes it (`ns:key` → string; structured values as JSON). */
  config: Record<string, string>;
  /** Keys whose values are `secure:` ciphertext, replaced offline by a marked placeholder. */
  secretKeys: string[];
  /** Where a key (`ns:key`, then a path inside its value) is written in the file, when read from one. */
  locate?: (fullKey: string, path: PathKey[]) => { line?: number; column?: number };
}

/** The marked stand-in for a `secure:` value, which cannot be decrypted without the stack's secrets provider. */
function secretPlaceholder(file: string, key: string): string {
  return `[secret ${key} from ${path.basename(file)}: not decrypted offline]`;
}

export function listStacks(projectDir: string): string[] {
  return readdirSync(projectDir)
    .map((f) => /^Pulumi\.(.+)\.yaml$/.exec(f)?.[1])
    .filter((s): s is string => !!s)
    .sort();
}

/** Read `Pulumi.<stack>.yaml` the way the engine would hand it to the program. */
export function readStackConfig(projectDir: string, stack: string, text?: string): StackConfig {
  const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
  if (!/^[A-Za-z0-9_.-]+$/.test(stack)) throw new StackConfigError(file, [`stack name "${stack}" may hold only letters, digits, '_', '.' and '-'`]);
  if (text === undefined && !existsSync(path.join(projectDir, "Pulumi.yaml"))) {
    throw new StackConfigError(projectDir, ["is not a Pulumi project folder (no Pulumi.yaml): pass --project with the folder that holds Pulumi.yaml"]);
  }
  if (text === undefined && !existsSync(file)) {
    throw new StackConfigError(file, [`no such stack file (stacks here: ${listStacks(projectDir).join(", ") || "none"})`]);
  }
  const source = text ?? readFileSync(file, "utf8");
  const lineCounter = new LineCounter();
  const ydoc = parseDocument(source, { lineCounter });
  if (ydoc.errors.length) {
    const p = yamlSyntaxProblem(ydoc.errors[0], source);
    throw new StackConfigError(file, [placed(p, p.message)]);
  }
  let doc: unknown;
  try {
    doc = ydoc.toJS();
  } catch (e) {
    throw new StackConfigError(file, [`YAML: ${(e as Error).message.split("\n")[0]}`]);
  }
  const at = yamlLocator(ydoc, lineCounter);
  const raw = (doc as { config?: unknown } | null)?.config ?? {};
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) throw new StackConfigError(file, ["config: must be a mapping of keys to values"]);

  const problems: string[] = [];
  const config: Record<string, string> = {};
  const secretKeys: string[] = [];
  const written = new Map<string, string>();
  for (const [key, value] of Object.entries(raw)) {
    const fullKey = key.includes(":") ? key : `${CONFIG_NAMESPACE}:${key}`;
    written.set(fullKey, key);
    if (isSecure(value)) {
      config[fullKey] = secretPlaceholder(file, fullKey);
      secretKeys.push(fullKey);
      continue;
    }
    if (PROVIDER_SECRET_KEYS.has(fullKey)) {
      problems.push(placed(at(["config", key]), `${fullKey}: holds a credential in plain text; set it with \`pulumi config set --secret ${fullKey}\``));
      continue;
    }
    if (value !== null && typeof value === "object") {
      let hadSecret = false;
      const replaced = replaceSecure(value, (p) => {
        hadSecret = true;
        return secretPlaceholder(file, `${fullKey}.${p}`);
      });
      config[fullKey] = JSON.stringify(replaced);
      if (hadSecret) secretKeys.push(fullKey);
    } else {
      config[fullKey] = String(value);
    }
  }
  if (problems.length) throw new StackConfigError(file, problems);
  const locate = (fullKey: string, p: PathKey[]) => {
    const key = written.get(fullKey);
    return key === undefined ? at(["config"]) : at(["config", key, ...p]);
  };
  return { stack, file, config, secretKeys, locate };
}

function isSecure(v: unknown): v is { secure: string } {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && typeof (v as { secure?: unknown }).secure === "string";
}

function replaceSecure(v: unknown, placeholder: (path: string) => string, p = ""): unknown {
  if (isSecure(v)) return placeholder(p);
  if (Array.isArray(v)) return v.map((x, i) => replaceSecure(x, placeholder, `${p}[${i}]`));
  if (typeof v === "object" && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, replaceSecure(x, placeholder, p ? `${p}.${k}` : k)]));
  }
  return v;
}

/** Config as the engine hands it to a running program (`pulumi up`, an inline program). */
export interface EngineConfig {
  /** Flat config (`ns:key` → string; structured values as JSON): `pulumi.runtime.allConfig()`. */
  values: Record<string, string>;
  /** Whether a key's value is secret (`pulumi.runtime.isConfigSecret`, where the SDK has it). */
  isSecret?: (key: string) => boolean;
}

export interface LoadStackOptions {
  projectDir: string;
  stack: string;
  /** Roster file; default: the stack's `roster` setting, relative to the project. */
  rosterPath?: string;
  today?: Date;
  /** The stack file's text (e.g. from another git revision) instead of reading it. */
  stackText?: string;
  /** The config the engine passed to the running program, instead of reading the stack file. */
  engineConfig?: EngineConfig;
  /** The roster's text instead of reading it (a roster folder: each file's). */
  rosterText?: string | { file: string; text: string }[];
  /** Added to file names in messages, e.g. " at main". */
  label?: string;
}

export interface StackContext {
  settings: Settings;
  roster: Roster;
  stackConfig: StackConfig;
  /** The files read (Pulumi.yaml, the stack files, the roster): the context is a function of their contents. */
  files: string[];
}

/** How a stack's settings read its roster: its tier table, repository prefix and product catalogue. */
export function rosterOptionsFor(settings: Settings): RosterOptions {
  return { tierTable: settings.tierTable, prefix: { repoPrefix: settings.repoPrefix }, products: settings.products };
}

/**
 * The one way every entry point (index.ts under the engine, each CLI command, the audit, the
 * policy pack, the broker, onboarding) gets a stack's settings and roster: the settings from
 * Pulumi.<stack>.yaml (read the way the engine hands config to the program) or from the engine's
 * own config, then the roster the settings name, both validated. Loads neither the Pulumi SDK nor
 * the program, so the credential helper and `intake token` start quickly.
 */
export function loadStackContext(opts: LoadStackOptions): StackContext {
  const { settings, stackConfig, files } = stackSettings(opts.projectDir, opts.stack, opts);
  const rosterPath = opts.rosterPath ?? path.resolve(opts.projectDir, settings.roster);
  const rosterOpts = rosterOptionsFor(settings);
  const roster =
    opts.rosterText === undefined
      ? loadRoster(shownPath(rosterPath), rosterOpts)
      : typeof opts.rosterText === "string"
        ? parseRoster(opts.rosterText, `${shownPath(rosterPath)}${opts.label ?? ""}`, rosterOpts)
        : parseRosterParts(
            `${shownPath(rosterPath)}${opts.label ?? ""}`,
            opts.rosterText.map((p) => ({ file: `${shownPath(p.file)}${opts.label ?? ""}`, text: p.text })),
            rosterOpts,
          );
  // The platform's namespaces run what can reach every customer (the refresher's identity, the broker).
  const platform = new Map([
    [settings.pullSecrets?.refresher?.namespace, "pullSecrets.refresher.namespace"],
    [settings.distribution?.kubernetes?.namespace, "distribution.kubernetes.namespace"],
  ]);
  for (const c of roster.customers) {
    const ns = c.kubernetes?.namespace;
    const key = ns && platform.get(ns);
    if (key)
      throw new StackConfigError(roster.source, [
        `customer ${c.id} field kubernetes.namespace: "${ns}" is the platform's (${CONFIG_NAMESPACE}:${key} of stack ${settings.stack}); give the customer a namespace of its own`,
      ]);
  }
  return { settings, roster, stackConfig, files: opts.rosterText !== undefined ? files : [...files, ...rosterFiles(path.resolve(rosterPath))] };
}

/** The files a roster was read from: the file, or a folder's parts. */
function rosterFiles(p: string): string[] {
  try {
    return statSync(p).isDirectory() ? rosterPartFiles(p) : [p];
  } catch {
    return [p];
  }
}

/** What a file was when it was read (device, inode, size, modification time): a change of any of these is a change of the file. */
export function fileSignature(file: string): string {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return "missing";
  }
}

/**
 * The stack's settings for a long-running process (the broker's minting): read once, and again
 * only when one of the files they came from changed or the UTC day did (licenses and rotations
 * are judged as of the day). A look is a stat of each file (two or three), where a read parses
 * them and checks the whole schema.
 */
export function currentStackSettings(projectDir: string, stack: string, now: () => Date = () => new Date()): () => Settings {
  let last: { files: string[]; stamp: string; settings: Settings } | undefined;
  const stampOf = (files: string[], day: string) => [day, ...files.map(fileSignature)].join("|");
  return () => {
    const today = now();
    const day = today.toISOString().slice(0, 10);
    // Stamped before the read: a file that changes while it is read is read again next time.
    const before = last ? stampOf(last.files, day) : undefined;
    if (last && before === last.stamp) return last.settings;
    const read = stackSettings(projectDir, stack, { today });
    last = { files: read.files, stamp: before ?? stampOf(read.files, day), settings: read.settings };
    return read.settings;
  };
}

/** A stack's settings, validated (without its roster); `stackText` or `engineConfig` stand in for the file. */
export function stackSettings(
  projectDir: string,
  stack: string,
  o: { stackText?: string; engineConfig?: EngineConfig; label?: string; today?: Date } = {},
): { settings: Settings; stackConfig: StackConfig; files: string[] } {
  const own: StackConfig = o.engineConfig
    ? {
        stack,
        file: path.join(projectDir, `Pulumi.${stack}.yaml`),
        config: o.engineConfig.values,
        secretKeys: Object.keys(o.engineConfig.values).filter((k) => o.engineConfig!.isSecret?.(k) ?? false),
      }
    : readStackConfig(projectDir, stack, o.stackText);
  const source = `${o.engineConfig ? path.basename(own.file) : shownPath(own.file)}${o.label ?? ""}`;
  const stackConfig = { ...own, config: withPlatformSettings(projectDir, own.config, source, stack) };
  const secret = new Set(stackConfig.secretKeys);
  // The engine may not tell which keys are secret (older SDKs): then nothing is judged by it.
  const isSecret = o.engineConfig ? o.engineConfig.isSecret : (k: string) => secret.has(k);
  // Under the engine the file is read again for places only: a problem names its line.
  let locate = own.locate;
  if (o.engineConfig) {
    try {
      locate = readStackConfig(projectDir, stack).locate;
    } catch {
      // No file, or one the engine read differently: problems without a line.
    }
  }
  const settings = settingsFromValues(stackConfig.config, isSecret, source, stack, o.today, own.config === stackConfig.config ? locate : undefined);
  const files = o.engineConfig || o.stackText !== undefined ? [] : [path.join(projectDir, "Pulumi.yaml"), own.file];
  const platformStack = shardOfConfig(own.config)?.platformStack;
  if (platformStack) files.push(path.join(projectDir, `Pulumi.${referencedStack(platformStack)}.yaml`));
  return { settings, stackConfig, files: files.map((f) => path.resolve(f)) };
}

/**
 * A stack's config with, on a shard stack, its settings taken from the platform stack's file
 * (`Pulumi.<platform>.yaml` beside it): see shardStackConfig. Other stacks' config as it is.
 */
function withPlatformSettings(projectDir: string, own: Record<string, string>, ownSource: string, stack?: string): Record<string, string> {
  const shard = shardOfConfig(own);
  if (!shard?.platformStack) return own;
  const platformName = referencedStack(shard.platformStack);
  const platform = readStackConfig(projectDir, platformName);
  const platformSource = shownPath(platform.file);
  // The platform's settings are judged first, so their mistakes are named in the platform's file.
  const secret = new Set(platform.secretKeys);
  const theirs = settingsFromValues(platform.config, (k) => secret.has(k), platformSource, platformName).shard;
  const key = `${CONFIG_NAMESPACE}:shard`;
  const problems: string[] = [];
  if (!theirs || theirs.index !== undefined)
    problems.push(`${key}.platformStack: ${shard.platformStack} is not a sharded platform stack (${platformSource} sets no shard: { count })`);
  else if (shard.count !== theirs.count) problems.push(`${key}.count: ${shard.count}, but ${platformSource} has ${theirs.count}; make them equal`);
  else if (stack && shard.index !== undefined && stack !== shardStackName(platformName, shard.index, theirs.count)) {
    problems.push(`${key}.index: ${shard.index} is the shard of stack ${shardStackName(platformName, shard.index, theirs.count)}, not of ${stack}`);
  }
  if (problems.length) throw new SettingsError(ownSource, problems);
  return shardStackConfig(own, platform.config, ownSource, platformSource);
}

/** A path as a person would type it here: relative below the working folder, absolute elsewhere. */
export function shownPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : path.resolve(file);
}
