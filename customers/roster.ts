import { readFileSync, statSync } from "node:fs";
import { mergeRosterParts, rosterPartFiles } from "./roster-parts";
import { isAlias, isCollection, isScalar, LineCounter, parseDocument, visit, type Document } from "yaml";
import { yamlLocator, yamlSyntaxProblem, type PathKey } from "../core/yaml";
import type { z } from "zod";
import { CUSTOMER_ID, DEFAULT_PREFIX, type NamingPrefix } from "../core/ids";
import { nameProblems } from "../core/naming";
import { didYouMean, keysAt } from "../core/suggest";
import { issueMessage, quoted } from "./messages";
import { rosterSchema } from "./schema";
import { DEFAULT_TIER_TABLE, REGISTRY_KINDS, tierKinds, type RegistryKind, type TierTable } from "../core/tiers";
import { InvalidInput } from "../core/errors";
import { catalogueSchema, entitlementProblem, tierEntitlementsSchema, type Catalogue } from "./entitlements";

import type { Customer, Roster } from "./types";
export type { Customer, Roster } from "./types";

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

function formatProblem(p: RosterProblem): string {
  const where = [p.file, p.line, p.column].filter((x) => x !== undefined).join(":");
  const who = p.customer !== undefined ? ` customer ${p.customer}` : "";
  const what = p.field ? ` field ${p.field}` : "";
  return `${where}${who || what ? `:${who}${what}` : ""}: ${p.message}`;
}

export class RosterError extends InvalidInput {
  constructor(readonly problems: RosterProblem[]) {
    // One problem is one line; several are listed under a count.
    super(
      problems.length === 1
        ? formatProblem(problems[0])
        : `roster is invalid (${problems.length} problems):\n${problems.map((p) => `  ${formatProblem(p)}`).join("\n")}`,
    );
  }
}

export interface RosterOptions {
  tierTable?: TierTable;
  prefix?: NamingPrefix;
  /** The stack's product catalogue: entitlements must name its products and channels (none: no entitlements allowed). */
  products?: Catalogue;
}

/**
 * Load and validate a roster file, or a folder of roster files read as one roster (one file per
 * shard or team, each reviewed on its own; a customer in two files is a problem naming both).
 * Throws RosterError listing every problem found.
 */
export function loadRoster(file: string, opts: RosterOptions = {}): Roster {
  let st: ReturnType<typeof statSync> | undefined;
  try {
    st = statSync(file);
  } catch {
    // not there: said below in the reader's words
  }
  if (st?.isDirectory()) return loadRosterFolder(file, opts);
  return loadRosterFile(file, opts, st);
}

/**
 * Rosters read, by file and options, with the file's signature when read: a file read again
 * unchanged (same inode, size and times) is not parsed again. A long-lived process (the
 * onboarding service) reads its roster once per change, not once per job.
 */
const parsed = new Map<string, { signature: string; roster: Roster }>();
const PARSED_MAX = 64;

function loadRosterFile(file: string, opts: RosterOptions, st: ReturnType<typeof statSync> | undefined): Roster {
  const key = `${file}\0${JSON.stringify([opts.tierTable, opts.prefix, opts.products])}`;
  const signature = st ? `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}` : "";
  const hit = parsed.get(key);
  if (hit && signature && hit.signature === signature) return hit.roster;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "a folder, not a file" : (e as Error).message;
    throw new RosterError([
      {
        file,
        message: `cannot read the roster (${why}): check the path (--roster, else the stack's registry-intake:roster setting, default customers/roster.yaml)`,
      },
    ]);
  }
  // Shared by every caller that reads the file unchanged: read-only.
  const read = parseRoster(text, file, opts);
  const roster: Roster = Object.freeze({ ...read, customers: Object.freeze(read.customers) as Customer[] });
  if (signature) {
    if (parsed.size >= PARSED_MAX) parsed.delete(parsed.keys().next().value!);
    parsed.set(key, { signature, roster });
  }
  return roster;
}

function loadRosterFolder(dir: string, opts: RosterOptions): Roster {
  const files = rosterPartFiles(dir);
  if (!files.length) throw new RosterError([{ file: dir, message: "no roster files (*.yaml) in this folder" }]);
  return parseRosterParts(
    dir,
    files.map((file) => ({ file, text: readFileSync(file, "utf8") })),
    opts,
  );
}

/** Several roster files' texts read as one roster (`source` names it); every problem of every file, and each customer in two files. */
export function parseRosterParts(source: string, texts: { file: string; text: string }[], opts: RosterOptions = {}): Roster {
  const problems: RosterProblem[] = [];
  const parts: { file: string; roster: Roster }[] = [];
  for (const { file, text } of texts) {
    try {
      parts.push({ file, roster: parseRoster(text, file, opts) });
    } catch (e) {
      if (e instanceof RosterError) problems.push(...e.problems);
      else throw e;
    }
  }
  const { roster, conflicts } = mergeRosterParts(source, parts);
  for (const c of conflicts) problems.push({ file: c.file, customer: c.customer, message: `also in ${c.other}: a customer belongs in one roster file` });
  if (problems.length) throw new RosterError(problems);
  return roster;
}

/** Validate roster YAML text; `file` names it in messages. */
export function parseRoster(text: string, file: string, opts: RosterOptions = {}): Roster {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) {
    // The first syntax error only: the ones after it are mostly its echoes.
    throw new RosterError([{ file, ...yamlSyntaxProblem(doc.errors[0], text) }]);
  }
  // Positions are worked out only for a roster with problems: the lines are counted then.
  let locate: ReturnType<typeof yamlLocator> | undefined;
  const out = validate(documentData(doc, file) ?? {}, file, opts, (path) => (locate ??= yamlLocator(doc, linesOf(text)))(path));
  if ("problems" in out) throw new RosterError(sortProblems(out.problems));
  return out;
}

/** A LineCounter of `text`, as the parser would have filled it. */
function linesOf(text: string): LineCounter {
  const lc = new LineCounter();
  lc.addNewLine(0);
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) lc.addNewLine(i + 1);
  return lc;
}

/**
 * A document's data; aliases that expand beyond the yaml library's limit (an alias bomb: a few
 * lines that would become millions of values) are one problem, not a crash.
 */
export function documentData(doc: Document, file: string): unknown {
  // A list or mapping as a key (`? [a]: …`) has no place in the roster; the yaml library would
  // turn it into a string and warn on the process's stderr.
  let collectionKey = false;
  visit(doc, {
    Pair(_, pair) {
      const key = pair.key;
      if (isCollection(key) || isAlias(key) || (isScalar(key) && key.value !== null && typeof key.value === "object")) {
        collectionKey = true;
        return visit.BREAK;
      }
    },
  });
  if (collectionKey) throw new RosterError([{ file, message: "a list, mapping, alias or binary value is used as a key: the roster's keys are plain words" }]);
  try {
    return doc.toJS();
  } catch (e) {
    if (e instanceof ReferenceError && /alias/i.test(e.message)) {
      throw new RosterError([
        { file, message: "YAML aliases that expand too far (each * repeats what its & names): write the values out, or use fewer nested aliases" },
      ]);
    }
    throw e;
  }
}

/** The roster rules over already-read data; `locate` maps a data path to where it is written. */
function validate(
  raw: unknown,
  file: string,
  opts: RosterOptions,
  locate: (path: PathKey[]) => { line?: number; column?: number },
): Roster | { problems: RosterProblem[] } {
  const tierTable = opts.tierTable ?? DEFAULT_TIER_TABLE;
  const prefix = opts.prefix ?? DEFAULT_PREFIX;
  const rawCustomers = isRecord(raw) && Array.isArray(raw.customers) ? raw.customers : [];
  const label = (index: number): string => {
    const c = rawCustomers[index];
    // An id too long to be one (a paste gone wrong) is named by its entry number: the id field's own problem shows its start.
    return isRecord(c) && typeof c.id === "string" && c.id !== "" && c.id.length <= 64 ? c.id : `#${index + 1}`;
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

  // The document's own catalogue (a roster the program wrote for the broker) wins over the options'.
  const carried = isRecord(raw) && isRecord(raw.catalogue) ? raw.catalogue : undefined;
  const carriedProducts = carried ? catalogueSchema.safeParse(carried.products) : undefined;
  const carriedDefaults = carried ? tierEntitlementsSchema.safeParse(carried.tierEntitlements ?? {}) : undefined;
  if (carriedProducts && !carriedProducts.success)
    problemAt(["catalogue", "products"], "is not a product catalogue (products: { <name>: { repositories, channels } })");
  if (carriedDefaults && !carriedDefaults.success) problemAt(["catalogue", "tierEntitlements"], "is not a list of entitlements per tier");
  const products = carriedProducts?.success ? carriedProducts.data : opts.products;
  opts = { ...opts, products };
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
  const namespaceOwners = new Map<string, number>();
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
          problemAt(["customers", i, "registries", j], `"${k}" is outside tier ${tier}, which allows only ${allowed.join(", ")}`);
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
          problemAt(
            ["customers", i, ...at],
            `GitHub user "${login}" is already listed by customer ${label(owner.index)} (${owner.field}): one identity would read both customers' packages`,
          );
        } else if (!owner) {
          githubOwners.set(key, { index: i, field: at.join(".") });
        }
      }
    }
    // A Kubernetes namespace is a customer's own: pods there read its pull secrets and act as its pullers.
    if (isRecord(c.kubernetes) && typeof c.kubernetes.namespace === "string") {
      const owner = namespaceOwners.get(c.kubernetes.namespace);
      if (owner !== undefined && owner !== i) {
        problemAt(
          ["customers", i, "kubernetes", "namespace"],
          `"${c.kubernetes.namespace}" is already customer ${label(owner)}'s: a namespace holds one customer's pull secrets, which any pod there can read`,
        );
      } else namespaceOwners.set(c.kubernetes.namespace, i);
    }
    if (Array.isArray(c.entitlements)) {
      if (c.status === "offboarded" && c.entitlements.length > 0)
        problemAt(["customers", i, "entitlements"], "an offboarded customer has no entitlements: remove them (suspend it instead to keep them for its return)");
      else
        c.entitlements.forEach((e: unknown, j: number) => {
          const problem = isRecord(e) ? entitlementProblem(opts.products, e) : undefined;
          if (problem) problemAt(["customers", i, "entitlements", j, problem.field], problem.message);
        });
    }
    if (isRecord(c.ecr) && Array.isArray(c.ecr.repositories) && opts.products) {
      problemAt(
        ["customers", i, "ecr", "repositories"],
        "is not used while the stack has a product catalogue (setting products): a customer's ECR repositories are its entitled products' repositories; remove ecr.repositories and name those repositories under products.<product>.repositories",
      );
    } else if (isRecord(c.ecr) && Array.isArray(c.ecr.repositories)) {
      const repos = c.ecr.repositories as unknown[];
      repos.forEach((r, j) => {
        if (repos.indexOf(r) !== j) problemAt(["customers", i, "ecr", "repositories", j], `lists repository "${String(r)}" more than once`);
      });
    }
  });

  if (problems.length > 0 || !parsed.success) return { problems };

  const customers = parsed.data.customers.map((c): Customer => {
    const allowed = tierKinds(c.tier, tierTable);
    const { registries, ...rest } = c;
    return {
      ...rest,
      registries: registries ? allowed.filter((k) => registries.includes(k)) : allowed,
      registriesExplicit: registries !== undefined,
    };
  });
  return {
    source: file,
    customers,
    ...(carriedProducts?.success && carriedDefaults?.success ? { catalogue: { products: carriedProducts.data, tierEntitlements: carriedDefaults.data } } : {}),
  };
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
    const known = keysAt(rosterSchema, issue.path);
    const meant = issue.keys.length === 1 ? didYouMean(issue.keys[0], known) : undefined;
    return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => quoted(k)).join(", ")} (${meant ? `did you mean "${meant}"?` : "not part of the roster format"})`;
  }
  return issueMessage(issue);
}
