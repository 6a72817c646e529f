import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import type { Settings } from "../../components/settings";
import type { Customer, Roster } from "../../customers/roster";
import { shardOf, shardStackName } from "../../customers/shards";
import type { RegistryKind } from "../../customers/tiers";
import type { PolicyConfig, Violation } from "../../policy/evaluate";
import { REPLACE_ON } from "../../planning/replace-on";
import { planProgram, type PlannedResource } from "./plan";
import { KEPT_KINDS, ledgerKey, type Ledger } from "../../components/ledger";
import { program } from "../../program";
import { loadStack } from "./stack";

export type CustomerChangeKind = "added" | "removed" | "tier" | "status" | "registries" | "other";

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

/** A file as it was at a git ref, or undefined when it did not exist there. */
export function gitShow(projectDir: string, ref: string, file: string): string | undefined {
  let prefix: string;
  try {
    prefix = execFileSync("git", ["-C", projectDir, "rev-parse", "--show-prefix"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    execFileSync("git", ["-C", projectDir, "rev-parse", "--verify", "--quiet", `${ref}^{commit}`], { stdio: "ignore" });
  } catch {
    throw new Error(`--base ${ref}: not a commit of the git repository at ${projectDir}`);
  }
  const rel = path.posix.join(prefix, path.relative(projectDir, path.resolve(projectDir, file)).split(path.sep).join("/"));
  try {
    return execFileSync("git", ["-C", projectDir, "show", `${ref}:${rel}`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 256 * 1024 * 1024 });
  } catch {
    return undefined;
  }
}

const entryOf = (c: Customer) => JSON.stringify({ ...c, registriesExplicit: undefined });

function customerChanges(base: Roster, head: Roster, settings: Settings): Omit<CustomerChange, "stack" | "resources" | "monthlyCost">[] {
  const b = new Map(base.customers.map((c) => [c.id, c]));
  const h = new Map(head.customers.map((c) => [c.id, c]));
  const out: Omit<CustomerChange, "stack" | "resources" | "monthlyCost">[] = [];
  for (const c of head.customers) {
    const old = b.get(c.id);
    if (!old) {
      out.push({ id: c.id, changes: ["added"], details: [`${c.tier}, ${c.registries.join(", ")}`] });
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
    if (!changes.length) {
      changes.push("other");
      details.push("other fields");
    }
    out.push({ id: c.id, changes, details });
  }
  for (const c of base.customers) if (!h.has(c.id)) out.push({ id: c.id, changes: ["removed"], details: ["removed from the roster (its repositories are kept)"] });
  void settings;
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
 * removed (or kept, when retained), updated and replaced, with the estimated monthly cost change.
 * Only the changed customers are planned, on both sides, so a PR's plan costs what it changes.
 */
export async function planDiff(o: { projectDir: string; stack: string; base: string; rosterPath?: string; policyConfig?: PolicyConfig }): Promise<PlanDiff> {
  const head = loadStack({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath });
  const rosterFile = o.rosterPath ?? path.resolve(o.projectDir, head.settings.roster);
  const baseStackText = gitShow(o.projectDir, o.base, `Pulumi.${o.stack}.yaml`);
  const headStackText = readFileSync(path.join(o.projectDir, `Pulumi.${o.stack}.yaml`), "utf8");
  const baseRosterText = gitShow(o.projectDir, o.base, rosterFile) ?? "customers: []\n";
  const base = loadStack({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath, stackText: baseStackText, rosterText: baseRosterText, label: ` at ${o.base}` });
  // A settings change (prefix, kinds, tiers...) can touch every customer: then all are compared.
  const settingsChanged = JSON.stringify({ ...base.settings, asOf: 0 }) !== JSON.stringify({ ...head.settings, asOf: 0 }) || (baseStackText !== undefined && baseStackText !== headStackText);
  let changes = customerChanges(base.roster, head.roster, head.settings);
  if (settingsChanged) {
    const listed = new Set(changes.map((c) => c.id));
    for (const c of head.roster.customers) if (!listed.has(c.id)) changes.push({ id: c.id, changes: ["other"], details: ["stack settings changed"] });
  }
  const ids = new Set(changes.map((c) => c.id));
  // Plan only the changed customers, as one stack holding everything (a customer's resources do
  // not depend on its shard), on both sides.
  const only = (s: Settings, r: Roster, ledger: Partial<Ledger>) =>
    planProgram({ ...s, shard: undefined, deliveries: [] }, { ...r, customers: r.customers.filter((c) => ids.has(c.id)) }, o.policyConfig, program, ledger);
  const before = await only(base.settings, base.roster, {});
  // The stack is taken to hold what the base declares: its kept repositories stay declared (an
  // offboarded customer's are tagged orphaned, not dropped).
  const held = before.recorded.flatMap((r) => {
    const kind = KEPT_KINDS[r.type as keyof typeof KEPT_KINDS];
    return kind && r.id ? [ledgerKey(kind, r.id)] : [];
  });
  const after = await only(head.settings, head.roster, { declared: held });
  const byUrn = (rs: PlannedResource[]) => new Map(rs.filter((r) => r.custom).map((r) => [r.urn, r]));
  const b = byUrn(before.resources);
  const a = byUrn(after.resources);
  const sh = head.settings.shard;
  const stackOf = (id: string) => {
    if (!sh) return o.stack;
    const c = head.roster.customers.find((x) => x.id === id) ?? base.roster.customers.find((x) => x.id === id)!;
    return shardStackName(o.stack, shardOf(c, sh.count), sh.count);
  };
  const empty = () => ({ add: [] as string[], remove: [] as string[], retain: [] as string[], update: [] as string[], replace: [] as string[] });
  const perCustomer = new Map<string, ReturnType<typeof empty>>(changes.map((c) => [c.id, empty()]));
  const platform = { add: [] as string[], remove: [] as string[], update: [] as string[] };
  for (const [urn, r] of a) {
    const old = b.get(urn);
    const bucket = r.customer ? perCustomer.get(r.customer) : undefined;
    if (!old) (bucket ?? platform).add.push(label(r));
    else if (JSON.stringify(compared(old)) !== JSON.stringify(compared(r))) {
      const replace = (REPLACE_ON[r.type] ?? []).filter((k) => !r.ignoreChanges?.includes(k)).some((k) => JSON.stringify(old.inputs[k]) !== JSON.stringify(r.inputs[k])) || JSON.stringify((old.inputs.metadata as { name?: unknown })?.name) !== JSON.stringify((r.inputs.metadata as { name?: unknown })?.name);
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
    customers,
    platform,
    currency: head.settings.prices?.currency ?? "USD",
    monthlyCost: round2(customers.reduce((n, c) => n + c.monthlyCost, 0)),
    stacks: [...new Set([...(settingsChanged || platform.add.length + platform.remove.length + platform.update.length ? [o.stack] : []), ...customers.map((c) => c.stack)])].sort(),
    violations: after.violations,
    warnings: diffWarnings(base.settings, head.settings, after.resources),
  };
}

/** Inputs as the engine compares them: without those it ignores changes of. */
function compared(r: PlannedResource): Record<string, unknown> {
  return r.ignoreChanges?.length ? Object.fromEntries(Object.entries(r.inputs).filter(([k]) => !r.ignoreChanges!.includes(k))) : r.inputs;
}

function diffWarnings(base: Settings, head: Settings, after: PlannedResource[]): string[] {
  const out: string[] = [];
  if (base.ecr.kms !== head.ecr.kms) {
    const existing = after.filter((r) => r.type === "aws:ecr/repository:Repository").length;
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
export function affectedStacks(o: { projectDir: string; stack: string; base: string; rosterPath?: string }): { stacks: string[]; customers: string[]; settingsChanged: boolean } {
  const head = loadStack({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath });
  const rosterFile = o.rosterPath ?? path.resolve(o.projectDir, head.settings.roster);
  const baseStackText = gitShow(o.projectDir, o.base, `Pulumi.${o.stack}.yaml`);
  const base = loadStack({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath, stackText: baseStackText, rosterText: gitShow(o.projectDir, o.base, rosterFile) ?? "customers: []\n", label: ` at ${o.base}` });
  const sh = head.settings.shard;
  const settingsChanged = baseStackText !== readFileSync(path.join(o.projectDir, `Pulumi.${o.stack}.yaml`), "utf8");
  const changed = customerChanges(base.roster, head.roster, head.settings).map((c) => c.id);
  const shardStack = (id: string) => {
    const c = head.roster.customers.find((x) => x.id === id) ?? base.roster.customers.find((x) => x.id === id)!;
    return shardStackName(o.stack, shardOf(c, sh!.count), sh!.count);
  };
  const all = sh ? [o.stack, ...Array.from({ length: sh.count }, (_, i) => shardStackName(o.stack, i, sh.count))] : [o.stack];
  // With a Kubernetes-hosted broker the platform stack carries the roster it judges by.
  const platformToo = !!head.settings.distribution?.kubernetes && changed.length > 0;
  const stacks = settingsChanged ? all : !sh ? (changed.length ? [o.stack] : []) : [...new Set([...(platformToo ? [o.stack] : []), ...changed.map(shardStack)])].sort();
  return { stacks, customers: changed, settingsChanged };
}

function money(n: number, currency: string): string {
  return `${n >= 0 ? "+" : "−"}${Math.abs(n).toFixed(2)} ${currency}`;
}

function counts(r: CustomerChange["resources"]): string {
  return [
    r.add.length && `+${r.add.length}`,
    r.remove.length && `−${r.remove.length}`,
    r.retain.length && `${r.retain.length} kept`,
    r.update.length && `~${r.update.length}`,
    r.replace.length && `±${r.replace.length} replaced`,
  ]
    .filter(Boolean)
    .join(" ") || "no resource changes";
}

/** Terminal text. */
export function renderDiffText(d: PlanDiff): string {
  const out = [`Changes against ${d.base} for stack ${d.stack}${d.settingsChanged ? " (stack settings changed too: every customer compared)" : ""}:`];
  if (!d.customers.length) out.push("  no customer changes");
  for (const c of d.customers) {
    out.push(`  ${c.id.padEnd(24)} ${c.changes.join(", ").padEnd(18)} ${c.details.join("; ")}  [${c.stack}]  ${counts(c.resources)}  ${money(c.monthlyCost, d.currency)}/month`);
    for (const [k, sign] of [["add", "+"], ["remove", "-"], ["retain", "kept"], ["update", "~"], ["replace", "replace"]] as const) for (const r of c.resources[k]) out.push(`      ${sign} ${r}`);
  }
  for (const r of d.platform.add) out.push(`  platform + ${r}`);
  for (const r of d.platform.update) out.push(`  platform ~ ${r}`);
  for (const r of d.platform.remove) out.push(`  platform - ${r}`);
  out.push(`Estimated monthly cost change: ${money(d.monthlyCost, d.currency)}. Stacks to update: ${d.stacks.join(", ") || "none"}.`);
  for (const w of d.warnings) out.push(`warning: ${w}`);
  out.push(d.violations.length ? `Policy: ${d.violations.length} violation(s): ${d.violations.map((v) => `${v.enforcement} ${v.policy}`).join(", ")}` : "Policy: no violations.");
  return out.join("\n");
}

const mdEscape = (s: string) => s.replace(/\|/g, "\\|");
const node = (s: string) => s.replace(/[^A-Za-z0-9_]/g, "_");

/** A pull-request comment: summary, a Mermaid picture of who changes and which stacks, per-customer table. */
export function renderDiffMarkdown(d: PlanDiff): string {
  const out: string[] = [`### registry-intake: what this change does to stack \`${d.stack}\``, ""];
  const n = (k: CustomerChangeKind) => d.customers.filter((c) => c.changes.includes(k)).length;
  out.push(
    `Against \`${d.base}\`: ${n("added")} added, ${n("removed")} removed, ${n("tier")} tier changes, ${n("status")} status changes, ${n("registries")} registry changes. ` +
      `Estimated monthly cost change **${money(d.monthlyCost, d.currency)}**. Stacks to update: ${d.stacks.map((s) => `\`${s}\``).join(", ") || "none"}.` +
      (d.settingsChanged ? " The stack settings changed too, so every customer was compared." : ""),
  );
  out.push("");
  if (d.customers.length && d.customers.length <= 40) {
    out.push("```mermaid", "flowchart LR");
    const groups = new Map<string, CustomerChange[]>();
    for (const c of d.customers) groups.set(c.changes[0], [...(groups.get(c.changes[0]) ?? []), c]);
    for (const [g, cs] of groups) {
      out.push(`  subgraph ${node(g)}["${g}"]`);
      for (const c of cs) out.push(`    ${node(`c_${c.id}`)}["${c.id}<br/>${c.details.join("<br/>").replace(/"/g, "'")}"]`);
      out.push("  end");
    }
    for (const s of d.stacks) out.push(`  ${node(`s_${s}`)}[("${s}")]`);
    for (const c of d.customers) out.push(`  ${node(`c_${c.id}`)} -->|"${counts(c.resources)}"| ${node(`s_${c.stack}`)}`);
    out.push("```", "");
  }
  out.push("| customer | change | stack | resources | cost / month |", "| --- | --- | --- | --- | ---: |");
  for (const c of d.customers) out.push(`| \`${c.id}\` | ${mdEscape(c.details.join("; "))} | \`${c.stack}\` | ${counts(c.resources)} | ${money(c.monthlyCost, d.currency)} |`);
  out.push("");
  const detail = d.customers.filter((c) => Object.values(c.resources).some((l) => l.length));
  if (detail.length) {
    out.push("<details><summary>Resources per customer</summary>", "");
    for (const c of detail) {
      out.push(`**${c.id}**`, "");
      for (const [k, word] of [["add", "add"], ["remove", "delete"], ["retain", "drop from state, kept in the cloud"], ["update", "update"], ["replace", "replace"]] as const) {
        for (const r of c.resources[k]) out.push(`- ${word}: \`${r}\``);
      }
      out.push("");
    }
    out.push("</details>", "");
  }
  for (const w of d.warnings) out.push(`> **Warning:** ${mdEscape(w)}`, "");
  out.push(d.violations.length ? `Policy: ${d.violations.map((v) => `**${v.enforcement}** \`${v.policy}\` ${v.customer ?? "platform"}: ${mdEscape(v.message)}`).join("; ")}` : "Policy: no violations.");
  return out.join("\n") + "\n";
}
