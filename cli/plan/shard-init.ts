import { existsSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseDocument } from "yaml";
import { CONFIG_NAMESPACE, SettingsError } from "../../components/settings";
import { shardOf, shardStackName } from "../../customers/shards";
import { loadStack, shownPath, stackSettings, StackConfigError } from "./stack";

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
 * Write the missing shard stack files of a sharded platform stack: the platform's settings with
 * `shard: {count, index, platformStack}`, without its secrets and its per-stack keys. Files that
 * exist are never rewritten; one whose shard settings disagree is an error and nothing is
 * written. Every new file is validated as a stack before any is written.
 */
export function initShardStacks(o: { projectDir: string; stack: string; platformStack: string }): ShardInitResult {
  const { settings, roster, stackConfig: base } = loadStack({ projectDir: o.projectDir, stack: o.stack });
  const shown = shownPath(base.file);
  const sh = settings.shard;
  if (!sh) throw new StackConfigError(shown, [`${CONFIG_NAMESPACE}:shard: not set, so there are no shard stacks (set shard: { count: N } first)`]);
  if (sh.index !== undefined) throw new StackConfigError(shown, [`${CONFIG_NAMESPACE}:shard.index: ${o.stack} is a shard stack; name the platform stack`]);
  if (!STACK_REFERENCE.test(o.platformStack) || o.platformStack.split("/").pop() !== o.stack) {
    throw new StackConfigError(shown, [`--platform-stack "${o.platformStack}": must be a stack reference to ${o.stack} (${o.stack}, project/${o.stack} or org/project/${o.stack})`]);
  }

  const text = readFileSync(base.file, "utf8");
  const secretPaths = securePaths(parseDocument(text).toJS()?.config ?? {});
  const planned: { stack: string; index: number; file: string; text: string }[] = [];
  const kept: string[] = [];
  const problems: string[] = [];
  for (let index = 0; index < sh.count; index++) {
    const stack = shardStackName(o.stack, index, sh.count);
    const file = path.join(o.projectDir, `Pulumi.${stack}.yaml`);
    const want = { count: sh.count, index, platformStack: o.platformStack };
    if (existsSync(file)) {
      let have;
      try {
        have = stackSettings(o.projectDir, stack).settings.shard;
      } catch (e) {
        if (!(e instanceof StackConfigError || e instanceof SettingsError)) throw e;
        problems.push(`${shownPath(file)}: exists and is invalid (${e.message.split("\n").slice(1).join("; ").trim() || e.message})`);
        continue;
      }
      if (have?.count !== want.count || have.index !== want.index || have.platformStack !== want.platformStack) {
        problems.push(`${shownPath(file)}: exists with shard ${JSON.stringify(have ?? null)}, expected ${JSON.stringify(want)}; fix it by hand or remove it`);
      } else kept.push(shownPath(file));
      continue;
    }
    const doc = parseDocument(text);
    for (const k of PER_STACK_KEYS) doc.delete(k);
    for (const p of secretPaths) doc.deleteIn(["config", ...p]);
    doc.setIn(["config", `${CONFIG_NAMESPACE}:shard`], doc.createNode(want, { flow: true }));
    doc.commentBefore = ` Shard stack ${index} of ${sh.count} of ${o.stack}, written by \`intake shards --init\` from Pulumi.${o.stack}.yaml.\n Secrets are not copied: see the \`pulumi config cp\` lines it printed.`;
    const out = doc.toString();
    // The file must read as a valid stack of its own before anything is written.
    stackSettings(o.projectDir, stack, { stackText: out, label: " (to be written)" });
    planned.push({ stack, index, file, text: out });
  }
  if (problems.length) throw new StackConfigError(shown, problems);

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
        .map(([key, ...rest]) => (rest.length ? `-s ${o.stack} --dest ${p.stack} --path '${[key, ...rest].join(".")}'` : `-s ${o.stack} --dest ${p.stack} ${key}`)),
    ),
  };
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
