import { resourceFacts } from "../kinds";
import type { PlanResult, PlannedResource } from "../planning/plan";

/** A short, human name for a resource: its physical name where it has one (as its kind says: `display`). */
function displayName(r: PlannedResource): string {
  const i = r.inputs;
  const display = resourceFacts(r.type)?.display;
  if (display) return display(i, r.name);
  if (r.type.startsWith("kubernetes:")) {
    const meta = (i.metadata ?? {}) as { name?: string; namespace?: string };
    return meta.name ? `${meta.namespace ?? "default"}/${meta.name}` : r.name;
  }
  return typeof i.name === "string" ? i.name : r.name;
}

interface TypeGroup {
  type: string;
  count: number;
  names: string[];
  retained: number;
  adopted: number;
}

/**
 * Each owner's custom resources (null: the platform's) grouped by type, sorted by type: the
 * resources are walked once, not once per customer (a 5,000-customer plan has 50,000).
 */
function typeGroups(resources: PlannedResource[]): (owner: string | null) => TypeGroup[] {
  const owners = new Map<string | null, Map<string, TypeGroup>>();
  for (const r of resources) {
    if (!r.custom) continue;
    let groups = owners.get(r.customer);
    if (!groups) owners.set(r.customer, (groups = new Map()));
    let g = groups.get(r.type);
    if (!g) groups.set(r.type, (g = { type: r.type, count: 0, names: [], retained: 0, adopted: 0 }));
    g.count++;
    g.names.push(displayName(r));
    if (r.retainOnDelete) g.retained++;
    if (r.adopted) g.adopted++;
  }
  return (owner) => [...(owners.get(owner)?.values() ?? [])].sort((a, b) => a.type.localeCompare(b.type));
}

/** `aws:ecr/repository:Repository` → `aws:ecr/Repository`: the token without its repeated resource name. */
function shortType(t: string): string {
  const [pkg, mod, name] = t.split(":");
  const parts = mod?.split("/") ?? [];
  return name && parts.length === 2 && parts[1].toLowerCase() === name.toLowerCase() ? `${pkg}:${parts[0]}/${name}` : t;
}

/** Plan lines stay within this many columns: names past it are counted, not listed. */
const WIDTH = 120;

/** As many names as fit in `room` columns (at least one), then `+N more`. */
function fitted(names: string[], room: number): string {
  let out = names[0] ?? "";
  let i = 1;
  for (; i < names.length; i++) {
    const more = `, +${names.length - i - 1} more`;
    if (out.length + 2 + names[i].length + (i < names.length - 1 ? more.length : 0) > room) break;
    out += `, ${names[i]}`;
  }
  if (out.length > room) out = `${out.slice(0, Math.max(10, room - 12))}…`;
  return i < names.length ? `${out}, +${names.length - i} more` : out;
}

function list(names: string[], max = 4): string {
  return names.length <= max ? names.join(", ") : `${names.slice(0, max).join(", ")}, +${names.length - max} more`;
}

function count(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? "" : "s"}`;
}

const STATUS_NOTE: Record<string, string> = {
  active: "",
  suspended: "  credentials disabled, everything kept",
  offboarded: "  credentials deleted; repositories the stack holds kept, tagged orphaned; none created",
};

/** The terminal report: per customer, the resources it would get, grouped and counted. */
export function renderText(plan: PlanResult): string {
  const warnings = plan.warnings;
  const out: string[] = [];
  const custom = plan.resources.filter((r) => r.custom);
  out.push(`Plan for stack ${plan.stack} (roster ${plan.roster}; licenses judged as of ${plan.asOf})`);
  out.push("");
  const groupsOf = typeGroups(plan.resources);
  const platform = groupsOf(null);
  out.push(
    `platform  ${count(
      platform.reduce((n, g) => n + g.count, 0),
      "resource",
    )}`,
  );
  const row = (g: TypeGroup, marks = "") => {
    const head = `    ${shortType(g.type).padEnd(42)} ${String(g.count).padStart(3)}  `;
    return `${head}${fitted(g.names, WIDTH - head.length - marks.length)}${marks}`;
  };
  for (const g of platform) out.push(row(g));
  for (const c of plan.customers) {
    const groups = groupsOf(c.id);
    const n = groups.reduce((s, g) => s + g.count, 0);
    out.push("");
    const kinds = c.registries.length ? c.registries.join(", ") : "none";
    out.push(`${c.id}  ${c.tier}  ${c.status} (${c.reason})  kinds: ${kinds}  ${count(n, "resource")}`);
    if (STATUS_NOTE[c.status]) out.push(`    ${STATUS_NOTE[c.status].trim()}`);
    for (const r of c.rotations ?? []) {
      out.push(
        r.previous !== undefined
          ? `    rotating ${r.kind}: generation ${r.generation}; generation ${r.previous} kept through ${r.previousUntil}, removed by the first pulumi up after`
          : `    ${r.kind} credential: generation ${r.generation}`,
      );
    }
    for (const g of groups) {
      const kept = g.retained ? `  [${g.retained === g.count ? "all" : g.retained} kept on delete]` : "";
      const adopted = g.adopted ? `  [${g.adopted === g.count ? "all" : g.adopted} adopted from the cloud]` : "";
      out.push(row(g, `${kept}${adopted}`));
    }
  }
  out.push("");
  out.push(
    `Total: ${count(plan.customers.length, "customer")}, ${count(custom.length, "resource")} ` +
      `(${custom.filter((r) => r.customer === null).length} platform), secrets masked.`,
  );
  const adopted = custom.filter((r) => r.adopted);
  if (adopted.length)
    out.push(
      `Adopted from the cloud (kept by an earlier update; imported, not created): ${list(
        adopted.map((r) => `${r.type.split(":").pop()} ${r.adopted}`),
        8,
      )}`,
    );
  for (const w of warnings) out.push(`warning: ${w}`);
  const mandatory = plan.violations.filter((v) => v.enforcement === "mandatory");
  for (const v of plan.violations) out.push(`${v.enforcement} violation [${v.policy}] ${v.customer ?? "platform"}: ${v.message}`);
  if (plan.violations.length === 0) out.push("Policy: no violations.");
  else out.push(`Policy: ${count(mandatory.length, "mandatory violation")}, ${count(plan.violations.length - mandatory.length, "advisory violation")}.`);
  return out.join("\n");
}

function md(s: string): string {
  return s.replace(/\|/g, "\\|");
}

/** A summary fit for a pull-request comment. */
export function renderMarkdown(plan: PlanResult): string {
  const warnings = plan.warnings;
  const out: string[] = [];
  const custom = plan.resources.filter((r) => r.custom);
  out.push(`### registry-intake plan: stack \`${plan.stack}\``);
  out.push("");
  out.push(
    `${count(plan.customers.length, "customer")}, ${count(custom.length, "resource")}, licenses judged as of ${plan.asOf}. ` +
      `Roster \`${plan.roster}\`. Secrets are masked.`,
  );
  out.push("");
  out.push("| customer | tier | status | registries | resources |");
  out.push("| --- | --- | --- | --- | ---: |");
  for (const c of plan.customers) {
    const n = custom.filter((r) => r.customer === c.id).length;
    out.push(`| \`${c.id}\` | ${c.tier} | ${c.status}${c.status === "active" ? "" : `: ${md(c.reason)}`} | ${c.registries.join(", ") || "none"} | ${n} |`);
  }
  out.push("");
  if (plan.violations.length > 0) {
    out.push("#### Policy violations");
    out.push("");
    for (const v of plan.violations) out.push(`- **${v.enforcement}** \`${v.policy}\` ${v.customer ? `\`${v.customer}\`` : "platform"}: ${md(v.message)}`);
    out.push("");
  } else {
    out.push("Policy: no violations.");
    out.push("");
  }
  if (warnings.length) {
    for (const w of warnings) out.push(`> **Warning:** ${md(w)}`);
    out.push("");
  }
  const adopted = custom.filter((r) => r.adopted);
  if (adopted.length) {
    out.push(
      `Adopted from the cloud (kept by an earlier update; imported, not created): ${md(
        list(
          adopted.map((r) => `\`${r.adopted}\``),
          8,
        ),
      )}`,
    );
    out.push("");
  }
  out.push("<details><summary>Resources per customer</summary>");
  out.push("");
  const groupsOf = typeGroups(plan.resources);
  for (const owner of [null, ...plan.customers.map((c) => c.id)]) {
    const groups = groupsOf(owner);
    if (groups.length === 0) continue;
    out.push(`**${owner ?? "platform"}**`);
    out.push("");
    out.push("| type | count | names |");
    out.push("| --- | ---: | --- |");
    for (const g of groups) out.push(`| \`${g.type}\` | ${g.count} | ${md(list(g.names, 6))} |`);
    out.push("");
  }
  out.push("</details>");
  return out.join("\n") + "\n";
}
