import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import pLimit from "p-limit";
import { isMap, isScalar, isSeq, parseDocument, visit, type Document, type YAMLMap } from "yaml";
import { InvalidInput } from "../core/errors";
import { editedText, type RosterEdit } from "./edit-text";
import { issueMessage } from "./messages";
import { documentData, parseRoster, RosterError, type Roster, type RosterOptions } from "./roster";
import { customerSchema } from "./schema";

/**
 * The roster file as something to change: an edit is a function over its YAML document, written
 * back only where it changed the text (customers/edit-text.ts: comments, their alignment, flow maps
 * and order survive), validated whole before anything is written, written atomically under a lock
 * file. Onboarding, offboarding and any other roster change go through here.
 */
export type { RosterEdit };

/** A roster change that would leave the roster invalid, or a customer file that is not an entry. Nothing was written. */
export class RosterEditError extends InvalidInput {}

/** The entry to add has an id the roster holds already. */
export class DuplicateCustomer extends RosterEditError {}

/** Adds `entry` unless its id is there already (a commit re-applies the edit to the file as written by then). */
export function addCustomer(entry: Record<string, unknown>): RosterEdit {
  return (doc) => {
    const customers = doc.get("customers");
    if (isSeq(customers) && !customers.items.some((c) => isMap(c) && c.get("id") === entry.id)) customers.add(flowLists(doc.createNode(entry)));
  };
}

/** Lists of plain values written on one line (`registries: [ecr, acr]`), as the roster writes them. */
function flowLists<T>(node: T): T {
  visit(node as Parameters<typeof visit>[0], {
    Seq(_, seq) {
      if (seq.items.every((i) => isScalar(i))) seq.flow = true;
    },
  });
  return node;
}

/** Sets one field of customer `id`'s entry; a path sets a nested one (creating the maps on the way). */
export function setCustomerField(file: string, id: string, field: string | string[], value: unknown): RosterEdit {
  return (doc) => {
    const node = customerNode(doc, id);
    if (!node) throw new RosterEditError(`customer ${id} is not in ${file}`);
    if (Array.isArray(field)) node.setIn(field, doc.createNode(value));
    else node.set(field, value);
  };
}

/** The edit `add`, refused when the roster is not a list or already holds the id. */
export function addNewCustomer(file: string, entry: Record<string, unknown>): RosterEdit {
  const add = addCustomer(entry);
  return (doc) => {
    if (!isSeq(doc.get("customers"))) throw new RosterEditError(`${file}: customers: must be a list`);
    if (customerNode(doc, String(entry.id)))
      throw new DuplicateCustomer(`${file}: customer ${String(entry.id)} is already in the roster (offboard it, or edit its entry)`);
    add(doc);
  };
}

function customerNode(doc: Document, id: string): YAMLMap | undefined {
  const customers = doc.get("customers");
  return isSeq(customers) ? (customers.items.find((c) => isMap(c) && c.get("id") === id) as YAMLMap | undefined) : undefined;
}

/** Read a customer file (YAML: one entry, or `customers:` with one entry) and validate it alone. */
export function readCustomerFile(file: string): Record<string, unknown> {
  if (!existsSync(file)) throw new RosterEditError(`${file}: no such file`);
  const doc = parseDocument(readFileSync(file, "utf8"), { uniqueKeys: true });
  if (doc.errors.length) throw new RosterEditError(`${file}: ${doc.errors[0].message.split("\n")[0]}`);
  let value: unknown;
  try {
    value = documentData(doc, file);
  } catch (e) {
    if (e instanceof RosterError) throw new RosterEditError(e.message);
    throw e;
  }
  if (value && typeof value === "object" && "customers" in value) {
    const list = (value as { customers: unknown }).customers;
    if (!Array.isArray(list) || list.length !== 1) throw new RosterEditError(`${file}: customers: must hold exactly one entry to onboard`);
    value = list[0];
  }
  const r = customerSchema.safeParse(value, { reportInput: true });
  if (!r.success)
    throw new RosterEditError(
      `${file}: not a valid customer entry:\n${r.error.issues.map((i) => `  ${i.path.join(".") || "(entry)"}: ${issueMessage(i)}`).join("\n")}`,
    );
  return value as Record<string, unknown>;
}

/** How long to wait for another process's roster lock, and when a lock counts as left behind. */
const FILE_LOCK_WAIT_MS = 30_000;
const FILE_LOCK_STALE_MS = 60_000;

/** One process's view of one roster file: the edits under way, and the lock that orders writes. */
export class RosterStore {
  /**
   * Edits validated but not yet written, by customer id. A new one is validated together with
   * them, so two changes into different shards cannot each pass alone and then collide (one
   * GitHub login in two customers) after both stacks are updated.
   */
  private readonly underWay = new Map<string, RosterEdit>();
  private readonly lock = pLimit(1);

  constructor(
    readonly file: string,
    private readonly opts: RosterOptions,
  ) {}

  /**
   * The roster with one edit applied, validated whole (duplicates, GitHub logins, tiers); the file
   * is not touched. With `id`, it is also validated with the edits under way in this process.
   */
  preview(edit: RosterEdit, id?: string): { roster: Roster; text: string } {
    return this.previewOf(readFileSync(this.file, "utf8"), edit, id);
  }

  /** preview() of the roster text `current` (the roster branch's, when git holds the roster). */
  previewOf(current: string, edit: RosterEdit, id?: string): { roster: Roster; text: string } {
    // Changed only where the edit changed it: a one-customer change diffs as that customer alone.
    const text = editedText(current, edit);
    let roster: Roster;
    try {
      roster = parseRoster(text, this.file, this.opts);
    } catch (e) {
      if (e instanceof RosterError)
        throw new RosterEditError(`the roster with this change would be invalid, so nothing was changed:\n${inFile(e, current, text).message}`);
      throw e;
    }
    const others = [...this.underWay].filter(([other]) => other !== id);
    if (id !== undefined && others.length) {
      // Theirs first, so a conflict is reported on this entry.
      const all = parseDocument(current);
      for (const [, e] of others) {
        try {
          e(all);
        } catch (err) {
          // Another edit that no longer applies is on the roster already (pushed, its update under way) or refused on its own.
          if (!(err instanceof RosterEditError)) throw err;
        }
      }
      edit(all);
      const combined = all.toString({ flowCollectionPadding: false });
      try {
        parseRoster(combined, this.file, this.opts);
      } catch (e) {
        if (!(e instanceof RosterError)) throw e;
        throw new RosterEditError(
          `the roster with this change and the ones under way (${others.map(([o]) => o).join(", ")}) would be invalid, so nothing was changed; ` +
            `fix the entry, or run it again once they finish:\n${inFile(e, current, combined).message}`,
        );
      }
    }
    return { roster, text };
  }

  /** Run `fn` with `edit` counted as under way for customer `id`. */
  async underWayWhile<T>(id: string, edit: RosterEdit, fn: () => Promise<T>): Promise<T> {
    this.underWay.set(id, edit);
    try {
      return await fn();
    } finally {
      this.underWay.delete(id);
    }
  }

  /** Apply `edit` to the file as it is now (another process may have written) and write it atomically, under the lock. */
  async commit(edit: RosterEdit): Promise<void> {
    await this.lock(() =>
      withFileLock(`${this.file}.lock`, () => {
        const { text } = this.preview(edit);
        const tmp = `${this.file}.intake-${process.pid}.tmp`;
        writeFileSync(tmp, text);
        renameSync(tmp, this.file);
      }),
    );
  }
}

/** The store of a roster file, one per file in this process (so its lock and edits under way are shared). */
const stores = new Map<string, RosterStore>();
export function rosterStore(file: string, opts: RosterOptions): RosterStore {
  let folder = false;
  try {
    folder = statSync(file).isDirectory();
  } catch {
    // a missing file is named when it is read
  }
  if (folder) {
    throw new RosterEditError(
      `${file}: the roster is a folder of files; onboarding, offboarding and rotation edit one roster file and are not done on a folder yet: change the customer's file in a pull request, then run pulumi up for the stacks \`intake shards --base\` lists`,
    );
  }
  let s = stores.get(file);
  if (!s) stores.set(file, (s = new RosterStore(file, opts)));
  return s;
}

/** Run `fn` holding `lock` (a file created exclusively); a lock older than FILE_LOCK_STALE_MS is taken over. */
async function withFileLock(lock: string, fn: () => void): Promise<void> {
  const deadline = Date.now() + FILE_LOCK_WAIT_MS;
  for (;;) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let age: number;
    try {
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released between the two calls
    }
    if (age > FILE_LOCK_STALE_MS) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`${lock} is held by another onboarding (pid ${readFileSync(lock, "utf8").trim() || "?"}); remove it if none is running`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

/**
 * A roster error found in `edited` (the file's text `original` with one change) with its places
 * in the file: a line before the change keeps its number, one after it moves back by the lines the
 * change added, and one inside the change is "in this change" (it is in no line of the file yet).
 */
function inFile(e: RosterError, original: string, edited: string): RosterError {
  const a = original.split("\n");
  const b = edited.split("\n");
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  return new RosterError(
    e.problems.map((p) => {
      if (p.line === undefined || p.line <= head) return p;
      if (p.line > b.length - tail) return { ...p, line: p.line - (b.length - a.length) };
      const { line: _l, column: _c, ...rest } = p;
      return { ...rest, file: `${p.file} (in this change)` };
    }),
  );
}
