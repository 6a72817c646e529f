import { LABEL } from "../core/labels";
import { customerFromName } from "../kinds";
import type { RegistryKind, Tier, TierTable } from "../core/tiers";
import type { Status } from "../core/tiers";

/**
 * One resource as every policy sees it, whichever entry point it came from: the offline plan
 * (recorded registrations), a `pulumi stack export` file, or the CrossGuard analyzer.
 */
export interface IntakeResource {
  urn: string;
  type: string;
  name: string;
  /** Parent URN, where known. */
  parent?: string;
  /** Inputs, merged with outputs where the source has them (stack exports). Secret values are unwrapped. */
  props: Record<string, unknown>;
  /** Top-level property names whose values are known to be secret; null where the source cannot tell. */
  secretProps: Set<string> | null;
  /** undefined where the source cannot tell (the analyzer does not see retainOnDelete). */
  retainOnDelete: boolean | undefined;
  protect: boolean;
  additionalSecretOutputs: string[];
}

interface PolicyCustomer {
  id: string;
  tier: Tier;
  status: Status;
  registries: RegistryKind[];
  githubLogins: string[];
  /** With a product catalogue: the products the customer is entitled to. */
  products?: string[];
}

export interface PolicyContext {
  customers: Map<string, PolicyCustomer>;
  tierTable: TierTable;
  repoPrefix: string;
  environment: string;
  /** Whether the stack has a product catalogue (setting `products`). */
  catalogue?: boolean;
}

export type Enforcement = "mandatory" | "advisory" | "disabled";

export interface Finding {
  message: string;
  urn?: string;
  customer?: string | null;
}

/** A rule over one resource, or over all of them at once (for what spans resources). */
export interface IntakeRule {
  name: string;
  description: string;
  enforcementLevel: Exclude<Enforcement, "disabled">;
  resource?: (r: IntakeResource, ctx: PolicyContext) => Finding[];
  stack?: (rs: IntakeResource[], ctx: PolicyContext) => Finding[];
}

/** Which registry kind a resource belongs to, by type (each kind's types in kinds/<kind>/kind.ts). */
export { kindOfType } from "../kinds";

/** The customer a name belongs to, per the naming of its kind (kinds/<kind>/kind.ts). */
function customerFromNames(r: IntakeResource, prefix: string): string | undefined {
  return customerFromName(r.type, r.props, prefix);
}

/** The customer a resource's labels name (tags, GCP labels, Kubernetes labels, GitHub topics, descriptions). */
function labelledCustomer(r: IntakeResource): string | undefined {
  const p = r.props;
  for (const key of ["tags", "labels", "keepers"]) {
    const v = (p[key] as Record<string, unknown> | undefined)?.[LABEL.customer];
    if (typeof v === "string") return v;
  }
  const meta = p.metadata as { labels?: Record<string, unknown> } | undefined;
  if (typeof meta?.labels?.[LABEL.customer] === "string") return meta.labels[LABEL.customer] as string;
  if (Array.isArray(p.topics)) {
    const t = (p.topics as unknown[]).find((x): x is string => typeof x === "string" && x.startsWith("customer-"));
    if (t) return t.slice("customer-".length);
  }
  if (typeof p.description === "string") {
    const d = new RegExp(`${LABEL.customer}=([a-z0-9-]+)`).exec(p.description);
    if (d) return d[1];
  }
  return undefined;
}

/**
 * The customer a resource belongs to: its labels, else its name. `conflict` is set when both
 * exist and disagree, which is itself a finding.
 */
export function customerOf(r: IntakeResource, prefix: string): { id?: string; conflict?: string } {
  // Every rule asks about every resource: answer once per resource and prefix.
  const cached = owners.get(r);
  if (cached?.prefix === prefix) return cached.owner;
  const owner = resolveOwner(r, prefix);
  owners.set(r, { prefix, owner });
  return owner;
}

const owners = new WeakMap<IntakeResource, { prefix: string; owner: { id?: string; conflict?: string } }>();

function resolveOwner(r: IntakeResource, prefix: string): { id?: string; conflict?: string } {
  const byLabel = labelledCustomer(r);
  const byName = customerFromNames(r, prefix);
  if (byLabel && byName && byLabel !== byName) return { id: byName, conflict: `labelled for customer ${byLabel} but named for customer ${byName}` };
  return { id: byName ?? byLabel };
}

/** A resource's display name: the physical name where it has one. */
export function shown(r: IntakeResource): string {
  const p = r.props;
  for (const k of ["name", "repositoryId", "scopeMapName", "tokenName", "accountId", "username", "user", "repository"]) {
    if (typeof p[k] === "string") return `${r.type} "${p[k]}"`;
  }
  return `${r.type} "${r.name}"`;
}

/** A property by dotted path. */
export function get(o: unknown, path: string): unknown {
  return path.split(".").reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), o);
}
