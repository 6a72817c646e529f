import { readdirSync } from "node:fs";
import * as path from "node:path";
import type { Customer, Roster } from "./types";

/**
 * A roster in parts: a folder of roster files, one per shard stack (each shard's ConfigMap, mounted
 * together into the broker), read as one roster. A Kubernetes object holds at most 1 MiB, about
 * 5,000 roster entries, so past that the whole roster cannot be one mounted file.
 */

/** The `*.yaml` / `*.yml` parts of a roster folder, sorted; hidden files (`..data`, a half-written `.x.yaml`) left out. */
export function rosterPartFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f) && !f.startsWith("."))
    .sort()
    .map((f) => path.join(dir, f));
}

/**
 * Parts merged into one roster (customers in part order). A customer in two parts is a conflict
 * naming both files: it is left out (fail closed: its robots are refused until the parts agree),
 * and every conflict is returned.
 */
export interface RosterConflict {
  file: string;
  customer: string;
  /** The earlier part (in file order) that holds it too. */
  other: string;
}

export const conflictText = (c: RosterConflict) => `${c.file}: customer ${c.customer} is also in ${c.other}`;

export function mergeRosterParts(source: string, parts: { file: string; roster: Roster }[]): { roster: Roster; conflicts: RosterConflict[] } {
  const owner = new Map<string, string>();
  const twice = new Set<string>();
  const conflicts: RosterConflict[] = [];
  for (const { file, roster } of parts) {
    for (const c of roster.customers) {
      const other = owner.get(c.id);
      if (other) {
        conflicts.push({ file, customer: c.id, other });
        twice.add(c.id);
      } else owner.set(c.id, file);
    }
  }
  const customers: Customer[] = [];
  for (const { roster } of parts) for (const c of roster.customers) if (!twice.has(c.id)) customers.push(c);
  // Each shard's part carries the same catalogue (one stack's settings): the first one's stands.
  const catalogue = parts.find((p) => p.roster.catalogue)?.roster.catalogue;
  return { roster: { source, customers, ...(catalogue ? { catalogue } : {}) }, conflicts };
}
