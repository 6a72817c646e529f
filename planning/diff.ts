import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { Settings } from "../core/settings";
import type { Customer, Roster } from "../customers/roster";
import { shardOf, shardStackName } from "../customers/shards";
import { revokedCustomers } from "../customers/status";
import type { RegistryKind } from "../core/tiers";
import type { PolicyConfig, Violation } from "../policy/evaluate";
import { replacedBy } from "./replace-on";
import { planProgram, type PlannedResource } from "./plan";
import { keptKey, type KeptList } from "../core/kept";
import { keptAs, kindOfType, resourceFacts } from "../kinds";
import { entitledProducts, entitlementsOf } from "../customers/entitlements";
import { program } from "../program";
import { checkShardStacks } from "./shard-init";
import { loadStackContext } from "../core/stack";
import { changedSince, gitShow, gitShowRoster } from "./git";

export type CustomerChangeKind = "added" | "removed" | "tier" | "status" | "registries" | "products" | "other";

export interface CustomerChange {
  id: string;
  changes: CustomerChangeKind[];
  /** What changed, for people: `tier professional → enterprise`. */
  details: string[];
  /** The stack `pulumi up` must update for it. */
  stack: string;
  resources: { add: string[]; remove: string[]; retain: string[]; update: string[]; replace: string[] };
  /** Estimated monthly cost change, from the stack's `prices`. */
  monthlyCost: number;
}

export interface PlanDiff {
  stack: string;
  base: string;
  /** The stack settings changed too: every customer's resources were compared. */
  settingsChanged: boolean;
  /** Which settings changed: `ecr.keepImages: 500 → 50`. */
  settingsChanges: string[];
  /** The stack sets prices, so costs mean something. */
  prices: boolean;
  customers: CustomerChange[];
  /** Shared (non-customer) resources that change. */
  platform: { add: string[]; remove: string[]; update: string[] };
  currency: string;
  monthlyCost: number;
  /** Stacks `pulumi up` must touch. */
  stacks: string[];
  violations: Violation[];
  /** What the change does that a reader could not guess from the resource lists. */
  warnings: string[];
}

/** A customer by id from the head roster, else the base's (a removed one): indexed once. */
function eitherRoster(head: Roster, base: Roster): (id: string) => Customer {
  const byId = new Map([...base.customers, ...head.customers].map((c) => [c.id, c]));
  return (id) => byId.get(id)!;
}

const entryOf = (c: Customer) => JSON.stringify({ ...c, registriesExplicit: undefined });

/** A customer's entitled products under a stack's catalogue (none without one). */
function productsUnder(c: Customer, s: Settings): string[] {
  return s.products ? entitledProducts(c, s.products, s.tierEntitlements) : [];
}

/** `gains worker; loses tools`, or `entitlements: app stable ^1 → stable ^2` when the products stay and their terms move; undefined when nothing changed. */
function productChange(old: Customer, c: Customer, baseSettings: Settings, settings: Settings): string | undefined {
  const before = productsUnder(old, baseSettings);
  const after = productsUnder(c, settings);
  // A catalogue that comes (or goes) moves every customer's repositories and credentials.
  if (!baseSettings.products !== !settings.products) {
    return settings.products ? `catalogue: entitled to ${after.length ? after.join(", ") : "no product (credentials reach nothing)"}` : "catalogue removed";
  }
  const gains = after.filter((p) => !before.includes(p));
  const loses = before.filter((p) => !after.includes(p));
  if (gains.length || loses.length)
    return [gains.length ? `gains ${gains.join(", ")}` : "", loses.length ? `loses ${loses.join(", ")}` : ""].filter(Boolean).join("; ");
  // The same products on other terms: each product whose terms moved, before → after.
  const terms = (x: Customer, s: Settings, product: string) =>
    entitlementsOf(x, s.tierEntitlements)
      .filter((e) => e.product === product)
      .map((e) =>
        [e.channel, e.versions, e.updatesUntil && `until ${e.updatesUntil}`, e.maxPullsPerDay && `${e.maxPullsPerDay} pulls/day`].filter(Boolean).join(" "),
      )
      .join(" + ");
  const moved = after
    .filter((p) => terms(old, baseSettings, p) !== terms(c, settings, p))
    .map((p) => `${p} ${terms(old, baseSettings, p)} → ${terms(c, settings, p)}`);
  return moved.length ? `entitlements: ${moved.join("; ")}` : undefined;
}

function customerChanges(
  base: Roster,
  head: Roster,
  baseSettings: Settings,
  settings: Settings,
): Omit<CustomerChange, "stack" | "resources" | "monthlyCost">[] {
  const b = new Map(base.customers.map((c) => [c.id, c]));
  const h = new Map(head.customers.map((c) => [c.id, c]));
  const out: Omit<CustomerChange, "stack" | "resources" | "monthlyCost">[] = [];
  for (const c of head.customers) {
    const old = b.get(c.id);
    if (!old) {
      const products = productsUnder(c, settings);
      out.push({
        id: c.id,
        changes: ["added"],
        details: [`${c.tier}, ${c.registries.join(", ")}${products.length ? `; products ${products.join(", ")}` : ""}`],
      });
      continue;
    }
    if (entryOf(old) === entryOf(c)) continue;
    const changes: CustomerChangeKind[] = [];
    const details: string[] = [];
    if (old.tier !== c.tier) {
      changes.push("tier");
      details.push(`tier ${old.tier} → ${c.tier}`);
    }
    if (old.status !== c.status || old.license.expires !== c.license.expires) {
      changes.push("status");
      details.push(old.status !== c.status ? `status ${old.status} → ${c.status}` : `license ${old.license.expires} → ${c.license.expires}`);
    }
    if (old.registries.join() !== c.registries.join()) {
      changes.push("registries");
      details.push(`registries ${old.registries.join(", ")} → ${c.registries.join(", ")}`);
    }
    const products = productChange(old, c, baseSettings, settings);
    if (products) {
      changes.push("products");
      details.push(products);
    }
    if (!changes.length) {
      changes.push("other");
      details.push("other fields");
    }
    out.push({ id: c.id, changes, details });
  }
  for (const c of base.customers)
    if (!h.has(c.id)) out.push({ id: c.id, changes: ["removed"], details: ["removed from the roster (its repositories are kept)"] });
  return out;
}

/** Monthly price of a customer as planned: its kinds while it holds credentials (not offboarded). */
function priceOf(c: { registries: RegistryKind[]; status: string } | undefined, s: Settings): number {
  if (!c || c.status === "offboarded") return 0;
  const p = s.prices?.perCustomerMonthly ?? {};
  return c.registries.reduce((n, k) => n + (p[k] ?? 0), 0);
}

const label = (r: PlannedResource) => `${r.type.split(":").pop()} ${r.name}`;

/**
 * What a roster change does, compared with the roster (and stack file) at a git ref: customers
 * added, removed, or changed in tier, status or registries, and per customer the resources added,
 * removed (or kept, when kept on delete), updated and replaced, with the estimated monthly cost change.
 * Only the changed customers are planned, on both sides, so a PR's plan costs what it changes.
 */
export async function planDiff(o: { projectDir: string; stack: string; base: string; rosterPath?: string; policyConfig?: PolicyConfig }): Promise<PlanDiff> {
  const head = loadStackContext({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath });
  const rosterFile = o.rosterPath ?? path.resolve(o.projectDir, head.settings.roster);
  const baseStackText = gitShow(o.projectDir, o.base, `Pulumi.${o.stack}.yaml`);
  const headStackText = readFileSync(path.join(o.projectDir, `Pulumi.${o.stack}.yaml`), "utf8");
  const baseRosterText = gitShowRoster(o.projectDir, o.base, rosterFile);
  const base = loadStackContext({
    projectDir: o.projectDir,
    stack: o.stack,
    rosterPath: o.rosterPath,
    stackText: baseStackText,
    rosterText: baseRosterText,
    label: ` at ${o.base}`,
  });
  // A settings change (prefix, kinds, tiers...) can touch every customer: then all are compared.
  const settingsChanged =
    JSON.stringify({ ...base.settings, asOf: 0 }) !== JSON.stringify({ ...head.settings, asOf: 0 }) ||
    (baseStackText !== undefined && baseStackText !== headStackText);
  const changes = customerChanges(base.roster, head.roster, base.settings, head.settings);
  if (settingsChanged) {
    const listed = new Set(changes.map((c) => c.id));
    const before = new Map(base.roster.customers.map((c) => [c.id, c]));
    for (const c of head.roster.customers) {
      if (listed.has(c.id)) continue;
      // A catalogue or tier default that moves: said as what the customer gains or loses.
      const products = before.has(c.id) ? productChange(before.get(c.id)!, c, base.settings, head.settings) : undefined;
      changes.push(products ? { id: c.id, changes: ["products"], details: [products] } : { id: c.id, changes: ["other"], details: ["stack settings changed"] });
    }
  }
  const ids = new Set(changes.map((c) => c.id));
  // Plan only the changed customers, as one stack holding everything (a customer's resources do
  // not depend on its shard), on both sides.
  const only = (s: Settings, r: Roster, keptList: Partial<KeptList>) =>
    planProgram({ ...s, shard: undefined, deliveries: [] }, { ...r, customers: r.customers.filter((c) => ids.has(c.id)) }, o.policyConfig, program, keptList);
  const before = await only(base.settings, base.roster, {});
  // The stack is taken to hold what the base declares: its kept repositories stay declared (an
  // offboarded customer's are tagged orphaned, not dropped).
  const held = before.recorded.flatMap((r) => {
    const kind = keptAs(r.type);
    return kind && r.id ? [keptKey(kind, r.id)] : [];
  });
  const after = await only(head.settings, head.roster, { declared: held });
  const byUrn = (rs: PlannedResource[]) => new Map(rs.filter((r) => r.custom).map((r) => [r.urn, r]));
  const b = byUrn(before.resources);
  const a = byUrn(after.resources);
  const sh = head.settings.shard;
  const customerOf = eitherRoster(head.roster, base.roster);
  const stackOf = (id: string) => (sh ? shardStackName(o.stack, shardOf(customerOf(id), sh.count), sh.count) : o.stack);
  const empty = () => ({ add: [] as string[], remove: [] as string[], retain: [] as string[], update: [] as string[], replace: [] as string[] });
  const perCustomer = new Map<string, ReturnType<typeof empty>>(changes.map((c) => [c.id, empty()]));
  const platform = { add: [] as string[], remove: [] as string[], update: [] as string[] };
  for (const [urn, r] of a) {
    const old = b.get(urn);
    const bucket = r.customer ? perCustomer.get(r.customer) : undefined;
    if (!old) (bucket ?? platform).add.push(label(r));
    else if (JSON.stringify(compared(old)) !== JSON.stringify(compared(r))) {
      const replace = replacedBy(r.type, old.inputs, r.inputs, r.ignoreChanges).length > 0;
      if (bucket) (replace ? bucket.replace : bucket.update).push(label(r));
      else platform.update.push(label(r));
    }
  }
  for (const [urn, r] of b) {
    if (a.has(urn)) continue;
    const bucket = r.customer ? perCustomer.get(r.customer) : undefined;
    // Retained on delete, or a GitHub repository archived instead of deleted: kept in the cloud.
    const kept = r.retainOnDelete || r.inputs.archiveOnDestroy === true;
    if (bucket) (kept ? bucket.retain : bucket.remove).push(label(r));
    else platform.remove.push(label(r));
  }
  const plannedBefore = new Map(before.customers.map((c) => [c.id, c]));
  const plannedAfter = new Map(after.customers.map((c) => [c.id, c]));
  const customers: CustomerChange[] = changes.map((c) => ({
    ...c,
    stack: stackOf(c.id),
    resources: perCustomer.get(c.id)!,
    monthlyCost: round2(priceOf(plannedAfter.get(c.id), head.settings) - priceOf(plannedBefore.get(c.id), base.settings)),
  }));
  return {
    stack: o.stack,
    base: o.base,
    settingsChanged,
    settingsChanges: settingsChanges(base.settings, head.settings),
    prices: head.settings.prices !== undefined,
    customers,
    platform,
    currency: head.settings.prices?.currency ?? "USD",
    monthlyCost: round2(customers.reduce((n, c) => n + c.monthlyCost, 0)),
    stacks: [
      ...new Set([
        ...(settingsChanged || platform.add.length + platform.remove.length + platform.update.length ? [o.stack] : []),
        ...customers.map((c) => c.stack),
      ]),
    ].sort(),
    violations: after.violations,
    warnings: [
      ...diffWarnings(base.settings, head.settings, after.resources),
      // Shard stack files that disagree with the platform's would make `pulumi up` differ from this plan.
      ...(head.settings.shard && head.settings.shard.index === undefined
        ? checkShardStacks({ projectDir: o.projectDir, stack: o.stack }).problems.map((p) => `shards --check: ${p}`)
        : []),
    ],
  };
}

/** Dotted paths of the settings that differ, with both values (shortened). */
function settingsChanges(base: Settings, head: Settings): string[] {
  const out: string[] = [];
  const show = (v: unknown) => {
    const t = v === undefined ? "unset" : JSON.stringify(v);
    return t.length > 60 ? `${t.slice(0, 57)}...` : t;
  };
  const obj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
  const walk = (x: unknown, y: unknown, at: string) => {
    if (JSON.stringify(x) === JSON.stringify(y)) return;
    if (obj(x) && obj(y)) for (const k of [...new Set([...Object.keys(x), ...Object.keys(y)])].sort()) walk(x[k], y[k], at ? `${at}.${k}` : k);
    else out.push(`${at}: ${show(x)} → ${show(y)}`);
  };
  walk({ ...base, asOf: undefined, stack: undefined }, { ...head, asOf: undefined, stack: undefined }, "");
  return out;
}

/** Inputs as the engine compares them: without those it ignores changes of. */
function compared(r: PlannedResource): Record<string, unknown> {
  return r.ignoreChanges?.length ? Object.fromEntries(Object.entries(r.inputs).filter(([k]) => !r.ignoreChanges!.includes(k))) : r.inputs;
}

function diffWarnings(base: Settings, head: Settings, after: PlannedResource[]): string[] {
  const out: string[] = [];
  if (base.ecr.kms !== head.ecr.kms) {
    const existing = after.filter((r) => kindOfType(r.type) === "ecr" && resourceFacts(r.type)?.repository).length;
    out.push(
      `ecr.kms turned ${head.ecr.kms ? "on" : "off"}: repositories created from now on are encrypted with ${head.ecr.kms ? "the platform's KMS key" : "AES256"}; ` +
        `existing ones (${existing} among the customers compared) keep their encryption, since ECR cannot change a repository's (move images to a new repository to change it)`,
    );
  }
  return out;
}

const round2 = (n: number) => Math.round(n * 100) / 100;

/**
 * The stacks a change since `base` touches, without planning: the base stack and every shard when
 * the stack settings changed; else the shard of each added, removed or changed customer. For CI's
 * `pulumi up` matrix.
 */
export function affectedStacks(o: { projectDir: string; stack: string; base: string; rosterPath?: string }): {
  stacks: string[];
  customers: string[];
  settingsChanged: boolean;
} {
  const head = loadStackContext({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath });
  const rosterFile = o.rosterPath ?? path.resolve(o.projectDir, head.settings.roster);
  const baseStackText = gitShow(o.projectDir, o.base, `Pulumi.${o.stack}.yaml`);
  const base = loadStackContext({
    projectDir: o.projectDir,
    stack: o.stack,
    rosterPath: o.rosterPath,
    stackText: baseStackText,
    rosterText: gitShowRoster(o.projectDir, o.base, rosterFile),
    label: ` at ${o.base}`,
  });
  const sh = head.settings.shard;
  const settingsChanged = baseStackText !== readFileSync(path.join(o.projectDir, `Pulumi.${o.stack}.yaml`), "utf8");
  const changed = customerChanges(base.roster, head.roster, base.settings, head.settings).map((c) => c.id);
  const customerOf = eitherRoster(head.roster, base.roster);
  const shardStack = (id: string) => shardStackName(o.stack, shardOf(customerOf(id), sh!.count), sh!.count);
  const all = sh ? [o.stack, ...Array.from({ length: sh.count }, (_, i) => shardStackName(o.stack, i, sh.count))] : [o.stack];
  // The platform stack's push role revokes the sessions of ECR customers no longer licensed. (The
  // roster a Kubernetes-hosted broker judges by is each shard stack's part: the shard's own update.)
  const revoked = (c: typeof head) => revokedCustomers(c.roster, "ecr", c.settings.asOf).join(",");
  const platformToo = head.settings.enabledKinds.includes("ecr") && revoked(head) !== revoked(base);
  // A shard's own file (its PATs, provider config) changed: that shard too. Two git processes in
  // all, whatever the number of shard stacks.
  const touched = sh ? changedSince(o.projectDir, o.base, `Pulumi.${o.stack}-shard-*.yaml`) : new Set<string>();
  const ownFileChanged = (sh ? all.slice(1) : []).filter((st) => touched.has(`Pulumi.${st}.yaml`));
  const stacks = settingsChanged
    ? all
    : !sh
      ? changed.length
        ? [o.stack]
        : []
      : [...new Set([...(platformToo ? [o.stack] : []), ...changed.map(shardStack), ...ownFileChanged])].sort();
  return { stacks, customers: changed, settingsChanged };
}
