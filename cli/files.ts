import { readFileSync } from "node:fs";
import { isLedgerKey, LEDGER_OUTPUT, parseLedger, type Ledger } from "../core/ledger";
import { InvalidInput } from "../core/errors";
import { parseJsonFile } from "../core/json";
import { policyConfigProblems, type PolicyConfig } from "../policy/evaluate";
import { InputError } from "./options";

// The files some commands read (--policy-config, --retained): loaded by those commands alone.

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

/** `--retained FILE`: the JSON of `pulumi stack output --json` (its `retained` output), or that output alone. */
export function readLedgerFile(file: string | undefined): Partial<Ledger> | undefined {
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new InputError(
      `--retained ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); write it with \`pulumi stack output --json > ${file}\``,
    );
  }
  const doc = parseJsonFile(file, text);
  const value = typeof doc === "object" && doc !== null && LEDGER_OUTPUT in doc ? (doc as Record<string, unknown>)[LEDGER_OUTPUT] : doc;
  const ledger = parseLedger(value);
  const lists = typeof value === "object" && value !== null ? [(value as Record<string, unknown>).declared, (value as Record<string, unknown>).kept] : [];
  const bad = lists.flatMap((l) => (Array.isArray(l) ? l.filter((k) => !isLedgerKey(k)) : []));
  if (!ledger && bad.length)
    throw new InputError(
      `--retained ${file}: ${bad.map((k) => JSON.stringify(k)).join(", ")} ${bad.length > 1 ? "are not kept resources" : "is not a kept resource"} (<kind>:<cloud id>, kind ecr, gar or github)`,
    );
  if (!ledger)
    throw new InputError(
      `--retained ${file}: holds no ledger of kept resources (a "${LEDGER_OUTPUT}" output with declared and kept lists); write it with \`pulumi stack output --json > ${file}\``,
    );
  return ledger;
}
