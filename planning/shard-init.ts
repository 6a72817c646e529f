import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { CONFIG_NAMESPACE, referencedStack, SettingsError, STACK_FILE_SCHEMA_LINE } from "../core/settings";
import { shardOf, shardStackName } from "../customers/shards";
import { loadStackContext, readStackConfig, shownPath, stackSettings, StackConfigError } from "../core/stack";
import { InvalidInput } from "../core/errors";

/** Keys of a stack file that belong to that stack alone (its secrets provider and key). */
const PER_STACK_KEYS = ["encryptionsalt", "secretsprovider", "encryptedkey"];

/** A stack reference name: `stack`, `project/stack` or `org/project/stack`. */
const STACK_REFERENCE = /^(?:[A-Za-z0-9_.-]+\/){0,2}[A-Za-z0-9_.-]+$/;

export interface ShardInitResult {
  /** Shard stack files written now. */
  created: string[];
  /** Shard stack files already there, whose shard settings agree. */
  kept: string[];
  /**
   * Secret values of the platform stack, left out of the new files (ciphertext is bound to the
   * stack that encrypted it): `pulumi config cp` arguments, one per secret per new stack.
   */
  copySecrets: string[];
}

/**
 * Write the missing shard stack files of a sharded platform stack: `shard: {count, index,
 * platformStack}` and the platform's provider config, without its settings (a shard reads them
 * from the platform's file), secrets and per-stack keys. Files that exist are never rewritten;
 * one that disagrees (shard key, a setting of its own, different provider config) is an error
 * and nothing is written. Every new file is validated as a stack before any is written.
 */
export function initShardStacks(o: { projectDir: string; stack: string; platformStack: string }): ShardInitResult {
  const { settings, roster, stackConfig: base } = loadStackContext({ projectDir: o.projectDir, stack: o.stack });
  const shown = shownPath(base.file);
  const sh = platformShards(settings, shown, o.stack);
  if (!STACK_REFERENCE.test(o.platformStack) || referencedStack(o.platformStack) !== o.stack) {
    throw new StackConfigError(shown, [
      `--platform-stack "${o.platformStack}": must be a stack reference to ${o.stack} (${o.stack}, project/${o.stack} or org/project/${o.stack})`,
    ]);
  }

  const text = readFileSync(base.file, "utf8");
  const secretPaths = securePaths(parseDocument(text).toJS()?.config ?? {});
  const planned: { stack: string; index: number; file: string; text: string }[] = [];
  const kept: string[] = [];
  const problems: string[] = [];
  for (let index = 0; index < sh.count; index++) {
    const stack = shardStackName(o.stack, index, sh.count);
    const file = path.join(o.projectDir, `Pulumi.${stack}.yaml`);
    if (existsSync(file)) {
      const found = shardProblems(o.projectDir, o.stack, index, sh.count, o.platformStack);
      if (found.length) problems.push(...found);
      else kept.push(shownPath(file));
      continue;
    }
    const doc = parseDocument(text);
    for (const k of PER_STACK_KEYS) doc.delete(k);
    for (const p of secretPaths) doc.deleteIn(["config", ...p]);
    // Settings stay in the platform's file (the shard reads them there): only provider config is copied.
    const config = doc.get("config") as { items?: { key: { value?: unknown } }[] } | undefined;
    for (const key of (config?.items ?? []).map((i) => String(i.key?.value ?? i.key))) {
      if (!key.includes(":") || key.startsWith(`${CONFIG_NAMESPACE}:`)) doc.deleteIn(["config", key]);
    }
    doc.setIn(["config", `${CONFIG_NAMESPACE}:shard`], doc.createNode({ count: sh.count, index, platformStack: o.platformStack }, { flow: true }));
    // The platform file's own header describes the platform stack, not this one.
    if (doc.contents && "commentBefore" in doc.contents) doc.contents.commentBefore = undefined;
    doc.commentBefore =
      ` ${STACK_FILE_SCHEMA_LINE}\n` +
      ` Shard stack ${index} of ${sh.count} of ${o.stack}, written by \`intake shards --init\`.\n` +
      ` Every ${CONFIG_NAMESPACE} setting is read from Pulumi.${o.stack}.yaml: set it there. This file holds the\n` +
      ` shard, provider config (kept equal to the platform's: \`intake shards --check\`) and its own secrets.`;
    const out = doc.toString();
    // The file must read as a valid stack of its own before anything is written.
    stackSettings(o.projectDir, stack, { stackText: out, label: " (to be written)" });
    planned.push({ stack, index, file, text: out });
  }
  // Each problem names its own shard file.
  if (problems.length) throw new InvalidInput(problems.join("\n"));

  for (const p of planned) writeFileSync(p.file, p.text, { flag: "wx" });
  return {
    created: planned.map((p) => shownPath(p.file)),
    kept,
    copySecrets: planned.flatMap((p) =>
      secretPaths
        .filter((sp) => {
          // A customer's machine-user PAT goes to its own shard only.
          const customer = sp[0] === `${CONFIG_NAMESPACE}:ghcr` && sp[1] === "machineUserTokens" ? roster.customers.find((c) => c.id === sp[2]) : undefined;
          return !customer || shardOf(customer, sh.count) === p.index;
        })
        .map(([key, ...rest]) =>
          rest.length ? `-s ${o.stack} --dest ${p.stack} --path '${[key, ...rest].join(".")}'` : `-s ${o.stack} --dest ${p.stack} ${key}`,
        ),
    ),
  };
}

function platformShards(settings: { shard?: { count: number; index?: number } }, shown: string, stack: string): { count: number } {
  const sh = settings.shard;
  if (!sh) throw new StackConfigError(shown, [`${CONFIG_NAMESPACE}:shard: not set, so there are no shard stacks (set shard: { count: N } first)`]);
  if (sh.index !== undefined) throw new StackConfigError(shown, [`${CONFIG_NAMESPACE}:shard.index: ${stack} is a shard stack; name the platform stack`]);
  return sh;
}

/**
 * What is wrong with one existing shard stack file: its shard key, a setting that belongs in the
 * platform's file, or provider config that differs from the platform's (key and both values).
 * `platformStack`: the reference it must hold; undefined takes whatever it holds.
 */
function shardProblems(projectDir: string, platform: string, index: number, count: number, platformStack?: string): string[] {
  const stack = shardStackName(platform, index, count);
  const file = path.join(projectDir, `Pulumi.${stack}.yaml`);
  if (!existsSync(file))
    return [`${shownPath(file)}: missing; write it with \`intake shards --init --stack ${platform} --platform-stack <org/project/${platform}>\``];
  let have;
  try {
    have = stackSettings(projectDir, stack).settings.shard;
  } catch (e) {
    if (!(e instanceof StackConfigError || e instanceof SettingsError)) throw e;
    return [`${shownPath(file)}: exists and is invalid (${e.problems.join("; ")})`];
  }
  const want = { count, index, platformStack: platformStack ?? have?.platformStack };
  if (
    have?.count !== want.count ||
    have.index !== want.index ||
    have.platformStack !== want.platformStack ||
    referencedStack(have.platformStack ?? "") !== platform
  ) {
    return [`${shownPath(file)}: exists with shard ${JSON.stringify(have ?? null)}, expected ${JSON.stringify(want)}; fix it by hand or remove it`];
  }
  // Provider config (not ours, not secret) must equal the platform's: the same account, region, owner.
  const mine = readStackConfig(projectDir, stack);
  const theirs = readStackConfig(projectDir, platform);
  const providerKeys = (c: typeof mine) => Object.keys(c.config).filter((k) => !k.startsWith(`${CONFIG_NAMESPACE}:`) && !c.secretKeys.includes(k));
  const out: string[] = [];
  for (const k of [...new Set([...providerKeys(mine), ...providerKeys(theirs)])].sort()) {
    const a = theirs.secretKeys.includes(k) ? "[secret]" : theirs.config[k];
    const b = mine.secretKeys.includes(k) ? "[secret]" : mine.config[k];
    const show = (v: string | undefined) => (v === undefined ? "unset" : JSON.stringify(v));
    if (a !== b) out.push(`${shownPath(file)}: ${k} is ${show(b)} but ${show(a)} in Pulumi.${platform}.yaml; make them equal`);
  }
  return out;
}

/** Every shard stack of a platform stack checked against it (`intake shards --check`): the problems, none when they agree. */
export function checkShardStacks(o: { projectDir: string; stack: string }): { shards: number; problems: string[] } {
  const { settings, stackConfig } = stackSettings(o.projectDir, o.stack);
  if (!settings.shard) return { shards: 0, problems: [] };
  const sh = platformShards(settings, shownPath(stackConfig.file), o.stack);
  const problems = Array.from({ length: sh.count }, (_, i) => shardProblems(o.projectDir, o.stack, i, sh.count)).flat();
  return { shards: sh.count, problems };
}

/** Paths (top-level key, then nested keys) of the `secure:` values in a stack's config. */
function securePaths(config: Record<string, unknown>, at: string[] = []): string[][] {
  const out: string[][] = [];
  for (const [k, v] of Object.entries(config)) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const keys = Object.keys(v);
      if (keys.length === 1 && keys[0] === "secure") out.push([...at, k]);
      else out.push(...securePaths(v as Record<string, unknown>, [...at, k]));
    }
  }
  return out;
}
