import { readFileSync } from "node:fs";
import { FORMER_KEPT_OUTPUT, isKeptKey, KEPT_OUTPUT, parseKeptList, type KeptList } from "../core/kept";
import { InvalidInput } from "../core/errors";
import { parseJsonFile } from "../core/json";
import { policyConfigProblems, type PolicyConfig } from "../policy/evaluate";
import { InputError } from "./options";

// The files some commands read (--policy-config, --kept): loaded by those commands alone.

/** A bad --policy-config file: names the file and each problem. */
class PolicyConfigError extends InvalidInput {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

export function readPolicyConfig(file: string | undefined): PolicyConfig {
  if (!file) return {};
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new PolicyConfigError([`--policy-config ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`]);
  }
  const doc = parseJsonFile(file, text);
  const problems = policyConfigProblems(doc, file);
  if (problems.length) throw new PolicyConfigError(problems);
  return doc as PolicyConfig;
}

/** `--kept FILE`: the JSON of `pulumi stack output --json` (its `kept` output, `retained` before), or that output alone. */
export function readKeptFile(file: string | undefined): Partial<KeptList> | undefined {
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(
      `--kept ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); write it with \`pulumi stack output --json > ${file}\``,
    );
  }
  const doc = parseJsonFile(file, text);
  const name = typeof doc === "object" && doc !== null ? [KEPT_OUTPUT, FORMER_KEPT_OUTPUT].find((k) => k in doc) : undefined;
  const value = name ? (doc as Record<string, unknown>)[name] : doc;
  const keptList = parseKeptList(value);
  const lists = typeof value === "object" && value !== null ? [(value as Record<string, unknown>).declared, (value as Record<string, unknown>).kept] : [];
  const bad = lists.flatMap((l) => (Array.isArray(l) ? l.filter((k) => !isKeptKey(k)) : []));
  if (!keptList && bad.length)
    throw new InputError(
      `--kept ${file}: ${bad.map((k) => JSON.stringify(k)).join(", ")} ${bad.length > 1 ? "are not kept resources" : "is not a kept resource"} (<kind>:<cloud id>, kind ecr, gar or github)`,
    );
  if (!keptList)
    throw new InputError(
      `--kept ${file}: holds no kept list (a "${KEPT_OUTPUT}" output with declared and kept lists); write it with \`pulumi stack output --json > ${file}\``,
    );
  return keptList;
}
