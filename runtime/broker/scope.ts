import type { AclEntry } from "../../core/acl";

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

/**
 * Parse a Docker token scope, `repository:intake/acme/app:pull,push` (also `repository(plugin):...`
 * and `registry:catalog:*`). Returns undefined for a malformed one, which is then not granted.
 */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last <= first) return undefined;
  const type = scope.slice(0, first).replace(/\(.*\)$/, "");
  const name = scope.slice(first + 1, last);
  const actions = scope
    .slice(last + 1)
    .split(",")
    .filter(Boolean);
  if (!name || actions.length === 0) return undefined;
  return { type, name, actions };
}

/** `intake/acme/*` covers `intake/acme/app` and `intake/acme/x/y`, never `intake/acme` or `intake/acme-eu/app`. */
export function pathCovers(glob: string, name: string): boolean {
  if (!glob.endsWith("/*")) return glob === name;
  const prefix = glob.slice(0, -1);
  return name.startsWith(prefix) && name.length > prefix.length && !name.includes("..");
}

/**
 * The access a token may carry: the intersection of what was asked and what the entry allows.
 * Only repository scopes are ever granted (no catalog); never an error for a scope not granted.
 */
export function grant(entry: AclEntry, requested: Access[]): Access[] {
  const out: Access[] = [];
  for (const r of requested) {
    if (r.type !== "repository") continue;
    if (!entry.paths.some((g) => pathCovers(g, r.name))) continue;
    const actions = r.actions.filter((a) => (entry.actions as string[]).includes(a));
    if (actions.length === 0) continue;
    const existing = out.find((o) => o.name === r.name);
    if (existing) existing.actions = [...new Set([...existing.actions, ...actions])];
    else out.push({ type: "repository", name: r.name, actions: [...new Set(actions)] });
  }
  return out;
}
