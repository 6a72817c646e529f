import type { Customer, Roster } from "../../customers/roster";
import { checkAccess, type AccessContext, type AccessDenialCode } from "../../core/access";
import { robotActions, ROBOT_ACTIONS, type AclEntry } from "../../core/acl";
import { grant, pathCovers, type Access } from "./scope";
import { entitledProducts, type Catalogue, type TierEntitlements } from "../../customers/entitlements";

/** What a broker judges a token request by, besides the access list: the license context and the stack's prefix. */
export interface GrantContext extends AccessContext {
  /** A robot's paths lie inside `<repoPrefix>/<customer>/`. */
  repoPrefix: string;
  /** The stack's product catalogue: a robot then reaches only `<prefix>/<customer>/<product>/*` of the products its customer is entitled to now. */
  products?: Catalogue;
  tierEntitlements?: TierEntitlements;
}

/** Why a robot's grant is empty before its scopes are looked at: its entry, or checkAccess's word. */
export type RobotDenialCode = "robot_disabled" | "path_outside_namespace" | AccessDenialCode;

/** Whether an access-list path lies inside a customer's namespace (`own` ends with `/`): the namespace or a folder of it, as `<…>/*`. */
function inside(path: string, own: string): boolean {
  if (!path.startsWith(own) || !path.endsWith("/*")) return false;
  const rest = path.slice(own.length, -1);
  return rest === "" || rest.split("/").slice(0, -1).every((p) => p !== "" && p !== "." && p !== "..");
}

/** Each roster entry's product paths, made once per entry (a reload makes new entries) and catalogue. */
const pathsOf = new WeakMap<Customer, { products: Catalogue; paths: string[] }>();

/** With a catalogue, the paths a customer's products give it now (the roster's entitlements, not the access list's word). */
function entitledPaths(customer: Customer, ctx: GrantContext): string[] | undefined {
  if (!ctx.products) return undefined;
  const known = pathsOf.get(customer);
  if (known?.products === ctx.products) return known.paths;
  const paths = entitledProducts(customer, ctx.products, ctx.tierEntitlements).map((p) => `${ctx.repoPrefix}/${customer.id}/${p}/*`);
  pathsOf.set(customer, { products: ctx.products, paths });
  return paths;
}

/**
 * A customer robot's grant: nothing when the robot is disabled, claims a path outside its own
 * namespace, or its customer may not have distribution now (`checkAccess`, the decision every
 * other path uses); otherwise what was asked, within its paths and within both the access
 * list's actions and the roster's `distribution.access` (a customer moved to `pull` loses push
 * at the next token, before any `pulumi up`).
 */
export function robotGrant(roster: Roster, entry: AclEntry, requested: Access[], ctx: GrantContext): { granted: Access[]; reason?: string; code?: RobotDenialCode } {
  if (!entry.enabled) return { granted: [], reason: "robot disabled in the access list", code: "robot_disabled" };
  // Never trust a path the access list claims: a robot reaches its own customer's namespace only.
  const own = `${ctx.repoPrefix}/${entry.customer}/`;
  const foreign = entry.paths.filter((p) => !inside(p, own));
  if (foreign.length) return { granted: [], reason: `access-list paths ${foreign.join(", ")} are outside customer ${entry.customer}'s namespace ${own}*`, code: "path_outside_namespace" };
  const d = checkAccess(roster, entry.customer, "distribution", ctx);
  if (!d.allowed) return { granted: [], reason: d.reason, code: d.code };
  const allowed = robotActions(d.customer.distribution?.access ?? "push");
  // A product the roster no longer entitles is out of reach at the next token, before any `pulumi up`.
  const granted = grant({ ...entry, actions: entry.actions.filter((a) => allowed.includes(a)) }, requested);
  const products = entitledPaths(d.customer, ctx);
  return { granted: products ? granted.filter((a) => products.some((q) => pathCovers(q, a.name))) : granted };
}

/**
 * The delivery robot's grant: pull and push on `<prefix>/<customer>/<repo...>` for each asked
 * repository whose customer may have distribution now; nothing outside customer namespaces.
 * Returns the grant and, per refused repository, why.
 */
export function deliveryGrant(roster: Roster, requested: Access[], ctx: GrantContext): { granted: Access[]; refused: string[] } {
  const prefix = `${ctx.repoPrefix}/`;
  const granted: Access[] = [];
  const refused: string[] = [];
  for (const r of requested) {
    if (r.type !== "repository") continue;
    const parts = r.name.startsWith(prefix) ? r.name.slice(prefix.length).split("/") : [];
    if (parts.length < 2 || parts.some((p) => !p || p === "." || p === "..")) {
      refused.push(`${r.name}: not under ${prefix}<customer>/`);
      continue;
    }
    const d = checkAccess(roster, parts[0], "distribution", ctx);
    if (!d.allowed) {
      refused.push(`${r.name}: ${d.reason}`);
      continue;
    }
    const products = entitledPaths(d.customer, ctx);
    if (products && !products.some((q) => pathCovers(q, r.name))) {
      refused.push(`${r.name}: customer ${parts[0]} is not entitled to a product ${parts[1]}`);
      continue;
    }
    const actions = r.actions.filter((a) => (ROBOT_ACTIONS as readonly string[]).includes(a));
    if (actions.length === 0) continue;
    const existing = granted.find((g) => g.name === r.name);
    if (existing) existing.actions = [...new Set([...existing.actions, ...actions])];
    else granted.push({ type: "repository", name: r.name, actions: [...new Set(actions)] });
  }
  return { granted, refused };
}
