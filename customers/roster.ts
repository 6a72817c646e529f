import { readFileSync } from "node:fs";
import { LineCounter, parseDocument, type Document } from "yaml";
import type { z } from "zod";
import { CUSTOMER_ID, DEFAULT_PREFIX, nameProblems, type NamingPrefix } from "./naming";
import { issueMessage } from "./messages";
import { rosterSchema, type CustomerEntry } from "./schema";
import { DEFAULT_TIER_TABLE, REGISTRY_KINDS, tierKinds, type RegistryKind, type TierTable } from "./tiers";

/** A validated customer: `registries` resolved to the kinds it asks for and its tier allows. */
export interface Customer extends Omit<CustomerEntry, "registries"> {
  /** Kinds this customer gets, in canonical order (the roster's list, or all its tier allows). */
  registries: RegistryKind[];
  /** Whether `registries` was written in the roster or defaulted from the tier. */
  registriesExplicit: boolean;
}

export interface Roster {
  /** Where it came from, for messages. */
  source: string;
  customers: Customer[];
}

export interface RosterProblem {
  file: string;
  line?: number;
  column?: number;
  /** Customer id, or `#N` (1-based entry number) where the id itself is unusable. */
  customer?: string;
  /** Dotted field path inside the customer (or the document), e.g. `license.expires`. */
  field?: string;
  message: string;
}

export function formatProblem(p: RosterProblem): string {
  const where = [p.file, p.line, p.column].filter((x) => x !== undefined).join(":");
  const who = p.customer !== undefined ? ` customer ${p.customer}` : "";
  const what = p.field ? ` field ${p.field}` : "";
  return `${where}${who || what ? `:${who}${what}` : ""}: ${p.message}`;
}

export class RosterError extends Error {
  constructor(readonly problems: RosterProblem[]) {
    super(
      `roster is invalid (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  ${formatProblem(p)}`).join("\n"),
    );
    this.name = "RosterError";
  }
}

export interface RosterOptions {
  tierTable?: TierTable;
  prefix?: NamingPrefix;
}

type PathKey = string | number;

/** Load and validate a roster file. Throws RosterError listing every problem found. */
export function loadRoster(file: string, opts: RosterOptions = {}): Roster {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new RosterError([{ file, message: `cannot read the roster: ${(e as Error).message}` }]);
  }
  return parseRoster(text, file, opts);
}

/** Validate roster YAML text; `file` names it in messages. */
export function parseRoster(text: string, file: string, opts: RosterOptions = {}): Roster {
  const tierTable = opts.tierTable ?? DEFAULT_TIER_TABLE;
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new RosterError(
      doc.errors.map((e) => ({
        file,
        line: e.linePos?.[0].line,
        column: e.linePos?.[0].col,
        message: `YAML syntax: ${e.message.split("\n")[0]}`,
      })),
    );
  }
  const raw: unknown = doc.toJS() ?? {};
  const locate = locator(doc, lineCounter);
  const rawCustomers = isRecord(raw) && Array.isArray(raw.customers) ? raw.customers : [];
  const label = (index: number): string => {
    const c = rawCustomers[index];
    return isRecord(c) && typeof c.id === "string" && c.id !== "" ? c.id : `#${index + 1}`;
  };
  const problems: RosterProblem[] = [];
  const problemAt = (path: PathKey[], message: string, at: PathKey[] = path) => {
    const [top, index, ...rest] = path;
    const inCustomer = top === "customers" && typeof index === "number";
    problems.push({
      file,
      ...locate(at),
      ...(inCustomer ? { customer: label(index) } : {}),
      field: (inCustomer ? rest : path).map(String).join(".") || undefined,
      message,
    });
  };

  const parsed = rosterSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path = issue.path as PathKey[];
      // An unknown key is reported on its parent, but located at the key itself.
      problemAt(path, zodMessage(issue), issue.code === "unrecognized_keys" ? [...path, issue.keys[0]] : path);
    }
  }

  // Rules across fields and entries, checked on the raw data so they are reported even when
  // another field of the same entry is broken.
  const seen = new Map<string, number>();
  const githubOwners = new Map<string, { index: number; field: string }>();
  rawCustomers.forEach((c, i) => {
    if (!isRecord(c)) return;
    if (typeof c.id === "string") {
      const first = seen.get(c.id);
      if (first !== undefined) problemAt(["customers", i, "id"], `duplicate id: "${c.id}" is already used by entry #${first + 1}`);
      else seen.set(c.id, i);
      // The id format itself is zod's to report; provider rules only apply to a well-formed id.
      if (CUSTOMER_ID.test(c.id)) for (const msg of nameProblems(c.id, prefix)) problemAt(["customers", i, "id"], msg);
    }
    const tier = c.tier;
    if (typeof tier === "string" && tier in tierTable && Array.isArray(c.registries)) {
      const allowed = tierKinds(tier as keyof TierTable, tierTable);
      c.registries.forEach((k, j) => {
        if (typeof k === "string" && !allowed.includes(k as RegistryKind) && isKnownKind(k)) {
          problemAt(
            ["customers", i, "registries", j],
            `"${k}" is outside tier ${tier}, which allows only ${allowed.join(", ")}`,
          );
        }
      });
      const dupKinds = c.registries.filter((k, j) => c.registries.indexOf(k) !== j);
      for (const k of new Set(dupKinds)) problemAt(["customers", i, "registries"], `lists "${String(k)}" more than once`);
    }
    // One GitHub identity in two customers' teams would read both customers' packages.
    if (isRecord(c.github)) {
      const logins: [PathKey[], unknown][] = [
        ...(Array.isArray(c.github.members) ? c.github.members.map((m: unknown, j: number): [PathKey[], unknown] => [["github", "members", j], m]) : []),
        ...(c.github.machineUser !== undefined ? [[["github", "machineUser"], c.github.machineUser] as [PathKey[], unknown]] : []),
      ];
      for (const [at, login] of logins) {
        if (typeof login !== "string") continue;
        const key = login.toLowerCase();
        const owner = githubOwners.get(key);
        if (owner && owner.index !== i) {
          problemAt(["customers", i, ...at], `GitHub user "${login}" is already listed by customer ${label(owner.index)} (${owner.field}): one identity would read both customers' packages`);
        } else if (!owner) {
          githubOwners.set(key, { index: i, field: at.join(".") });
        }
      }
    }
    if (isRecord(c.ecr) && Array.isArray(c.ecr.repositories)) {
      const repos = c.ecr.repositories as unknown[];
      repos.forEach((r, j) => {
        if (repos.indexOf(r) !== j) problemAt(["customers", i, "ecr", "repositories", j], `lists repository "${String(r)}" more than once`);
      });
    }
  });

  if (problems.length > 0 || !parsed.success) throw new RosterError(sortProblems(problems));

  const customers = parsed.data.customers.map((c): Customer => {
    const allowed = tierKinds(c.tier, tierTable);
    const { registries, ...rest } = c;
    return {
      ...rest,
      registries: registries ? allowed.filter((k) => registries.includes(k)) : allowed,
      registriesExplicit: registries !== undefined,
    };
  });
  return { source: file, customers };
}

function isKnownKind(k: string): boolean {
  return (REGISTRY_KINDS as readonly string[]).includes(k);
}

function isRecord(v: unknown): v is Record<string, any> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function sortProblems(ps: RosterProblem[]): RosterProblem[] {
  return [...ps].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

function zodMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")} (not part of the roster format)`;
  }
  return issueMessage(issue);
}

/** Maps a data path to the line/column of the nearest node that exists in the document. */
function locator(doc: Document, lc: LineCounter) {
  return (path: PathKey[]): { line?: number; column?: number } => {
    for (let n = path.length; n >= 0; n--) {
      const sub = path.slice(0, n);
      const node = sub.length === 0 ? doc.contents : doc.getIn(sub, true);
      const range = (node as { range?: [number, number, number] } | undefined)?.range;
      if (range) {
        const pos = lc.linePos(range[0]);
        return { line: pos.line, column: pos.col };
      }
    }
    return {};
  };
}
