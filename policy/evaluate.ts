import type { Settings } from "../core/settings";
import { entitledProducts } from "../customers/entitlements";
import type { Roster } from "../customers/roster";
import { customerState } from "../customers/status";
import type { Enforcement, IntakeResource, IntakeRule, PolicyContext } from "./model";
import { RULES } from "./rules";

export interface Violation {
  policy: string;
  enforcement: "mandatory" | "advisory";
  customer: string | null;
  urn: string | null;
  message: string;
}

/**
 * Per-rule enforcement overrides, in the format of `pulumi preview --policy-pack-config`:
 * `{ "ecr-scan-on-push": "mandatory" }` or `{ "ecr-scan-on-push": { "enforcementLevel": "mandatory" } }`.
 */
export type PolicyConfig = Record<string, Enforcement | { enforcementLevel?: Enforcement }>;

/** What the policies know of the stack: the roster's customers (status as of the stack's day), tiers, prefix, environment. */
export function policyContext(
  roster: Roster,
  settings: Pick<Settings, "tierTable" | "repoPrefix" | "environment" | "asOf" | "products" | "tierEntitlements">,
): PolicyContext {
  return {
    customers: new Map(
      roster.customers.map((c) => [
        c.id,
        {
          id: c.id,
          tier: c.tier,
          // A lapsed license is held to the same rules as a suspension.
          status: customerState(c, settings.asOf).status,
          registries: c.registries,
          githubLogins: [...(c.github?.members ?? []), ...(c.github?.machineUser ? [c.github.machineUser] : [])].map((l) => l.toLowerCase()),
          ...(settings.products ? { products: entitledProducts(c, settings.products, settings.tierEntitlements) } : {}),
        },
      ]),
    ),
    tierTable: settings.tierTable,
    repoPrefix: settings.repoPrefix,
    environment: settings.environment,
    catalogue: settings.products !== undefined,
  };
}

/**
 * A rule's level: its own entry, else the `all` entry (as `pulumi preview --policy-pack-config`
 * reads it), else the rule's default.
 */
function enforcementOf(rule: IntakeRule, config: PolicyConfig = {}): Enforcement {
  const level = (c: PolicyConfig[string] | undefined) => (typeof c === "string" ? c : c?.enforcementLevel);
  return level(config[rule.name]) ?? level(config.all) ?? rule.enforcementLevel;
}

const KNOWN_LEVELS = new Set(["mandatory", "advisory", "disabled"]);

/** Check a policy config names only known rules and levels; returns the problems. */
export function policyConfigProblems(config: unknown, source: string): string[] {
  if (typeof config !== "object" || config === null || Array.isArray(config)) return [`${source}: must be a JSON object of rule names`];
  const names = new Set(RULES.map((r) => r.name));
  const out: string[] = [];
  for (const [k, v] of Object.entries(config)) {
    if (!names.has(k) && k !== "all") out.push(`${source}: "${k}" is not a rule of this pack (rules: all, ${[...names].join(", ")})`);
    const level = typeof v === "string" ? v : (v as { enforcementLevel?: unknown } | null)?.enforcementLevel;
    if (!KNOWN_LEVELS.has(String(level))) out.push(`${source}: ${k}: enforcement level ${JSON.stringify(level)} is not mandatory, advisory or disabled`);
  }
  return out;
}

/** Run every rule over the resources; the same rules the CrossGuard pack runs. */
export function evaluate(resources: IntakeResource[], ctx: PolicyContext, config: PolicyConfig = {}, rules: IntakeRule[] = RULES): Violation[] {
  const out: Violation[] = [];
  for (const rule of rules) {
    const level = enforcementOf(rule, config);
    if (level === "disabled") continue;
    const push = (urn: string | undefined, customer: string | null | undefined, message: string) =>
      out.push({ policy: rule.name, enforcement: level, customer: customer ?? null, urn: urn ?? null, message });
    if (rule.resource) for (const r of resources) for (const f of rule.resource(r, ctx)) push(f.urn ?? r.urn, f.customer, f.message);
    if (rule.stack) for (const f of rule.stack(resources, ctx)) push(f.urn, f.customer, f.message);
  }
  return out;
}
