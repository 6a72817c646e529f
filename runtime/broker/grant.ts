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

/**
 * Whether an access-list path is one the program writes for this customer (`own` ends with `/`):
 * its whole namespace `<own>*`, or with a catalogue a product's folder `<own><product>/*` (the
 * whole namespace stays accepted there, narrowed to the entitled products: an access list written
 * before the catalogue may reach the broker after the roster that brings it).
 */
function inside(path: string, own: string, catalogue: Catalogue | undefined): boolean {
  if (path === `${own}*`) return true;
  if (!catalogue) return false;
  const product = path.startsWith(own) && path.endsWith("/*") ? path.slice(own.length, -2) : undefined;
  return product !== undefined && Object.hasOwn(catalogue, product);
}

/** Each roster entry's product paths, made once per entry (a reload makes new entries) and catalogue. */
const pathsOf = new WeakMap<Customer, { products: Catalogue; defaults: TierEntitlements; paths: string[] }>();

/** The catalogue a grant is judged by: the one the roster carries (written with it by the program), else the stack's. */
export function catalogueOf(roster: Roster, ctx: GrantContext): { products: Catalogue; tierEntitlements: TierEntitlements } | undefined {
  return roster.catalogue ?? (ctx.products ? { products: ctx.products, tierEntitlements: ctx.tierEntitlements ?? {} } : undefined);
}

/** With a catalogue, the paths a customer's products give it now (the roster's entitlements, not the access list's word). */
function entitledPaths(roster: Roster, customer: Customer, ctx: GrantContext): string[] | undefined {
  const catalogue = catalogueOf(roster, ctx);
  if (!catalogue) return undefined;
  const known = pathsOf.get(customer);
  if (known?.products === catalogue.products && known.defaults === catalogue.tierEntitlements) return known.paths;
  const paths = entitledProducts(customer, catalogue.products, catalogue.tierEntitlements).map((p) => `${ctx.repoPrefix}/${customer.id}/${p}/*`);
  pathsOf.set(customer, { products: catalogue.products, defaults: catalogue.tierEntitlements, paths });
  return paths;
}

/**
 * A customer robot's grant: nothing when the robot is disabled, claims a path outside its own
 * namespace, or its customer may not have distribution now (`checkAccess`, the decision every
 * other path uses); otherwise what was asked, within its paths and within both the access
 * list's actions and the roster's `distribution.access` (a customer moved to `pull` loses push
 * at the next token, before any `pulumi up`).
 */
export function robotGrant(
  roster: Roster,
  entry: AclEntry,
  requested: Access[],
  ctx: GrantContext,
): { granted: Access[]; reason?: string; code?: RobotDenialCode } {
  if (!entry.enabled) return { granted: [], reason: "robot disabled in the access list", code: "robot_disabled" };
  // Never trust a path the access list claims: a robot reaches its own customer's namespace only.
  const own = `${ctx.repoPrefix}/${entry.customer}/`;
  const foreign = entry.paths.filter((p) => !inside(p, own, catalogueOf(roster, ctx)?.products));
  if (foreign.length)
    return {
      granted: [],
      reason: `access-list paths ${foreign.join(", ")} are outside customer ${entry.customer}'s namespace ${own}*`,
      code: "path_outside_namespace",
    };
  const d = checkAccess(roster, entry.customer, "distribution", ctx);
  if (!d.allowed) return { granted: [], reason: d.reason, code: d.code };
  const allowed = robotActions(d.customer.distribution?.access ?? "push");
  // A product the roster no longer entitles is out of reach at the next token, before any `pulumi up`.
  const granted = grant({ ...entry, actions: entry.actions.filter((a) => allowed.includes(a)) }, requested);
  const products = entitledPaths(roster, d.customer, ctx);
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
    const products = entitledPaths(roster, d.customer, ctx);
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
