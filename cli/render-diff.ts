// A plan against a base commit as text for the terminal and as markdown for a pull request's comment.
import type { CustomerChange, CustomerChangeKind, PlanDiff } from "../planning/diff";

function money(n: number, currency: string): string {
  return `${n >= 0 ? "+" : "−"}${Math.abs(n).toFixed(2)} ${currency}`;
}

function counts(r: CustomerChange["resources"]): string {
  return (
    [
      r.add.length && `+${r.add.length}`,
      r.remove.length && `−${r.remove.length}`,
      r.retain.length && `${r.retain.length} kept`,
      r.update.length && `~${r.update.length}`,
      r.replace.length && `±${r.replace.length} replaced`,
    ]
      .filter(Boolean)
      .join(" ") || "no resource changes"
  );
}

/** Terminal text. */
export function renderDiffText(d: PlanDiff): string {
  const out = [`Changes against ${d.base} for stack ${d.stack}${d.settingsChanged ? " (stack settings changed too: every customer compared)" : ""}:`];
  for (const c of d.settingsChanges) out.push(`  setting ${c}`);
  const shown = d.customers.filter(worthAListing);
  if (!shown.length) out.push("  no customer changes");
  const cost = (n: number) => (d.prices ? `  ${money(n, d.currency)}/month` : "");
  for (const c of shown) {
    out.push(`  ${c.id.padEnd(24)} ${c.changes.join(", ").padEnd(18)} ${c.details.join("; ")}  [${c.stack}]  ${counts(c.resources)}${cost(c.monthlyCost)}`);
    for (const [k, sign] of [
      ["add", "+"],
      ["remove", "-"],
      ["retain", "kept"],
      ["update", "~"],
      ["replace", "replace"],
    ] as const)
      for (const r of [...c.resources[k]].sort()) out.push(`      ${sign} ${r}`);
  }
  if (shown.length < d.customers.length) out.push(`  (${d.customers.length - shown.length} more compared, with no resource change)`);
  for (const r of d.platform.add) out.push(`  platform + ${r}`);
  for (const r of d.platform.update) out.push(`  platform ~ ${r}`);
  for (const r of d.platform.remove) out.push(`  platform - ${r}`);
  out.push(`${d.prices ? `Estimated monthly cost change: ${money(d.monthlyCost, d.currency)}. ` : ""}Stacks to update: ${d.stacks.join(", ") || "none"}.`);
  for (const w of d.warnings) out.push(`warning: ${w}`);
  out.push(
    d.violations.length
      ? `Policy: ${d.violations.length} violation(s): ${d.violations.map((v) => `${v.enforcement} ${v.policy}`).join(", ")}`
      : "Policy: no violations.",
  );
  return out.join("\n");
}

const mdEscape = (s: string) => s.replace(/\|/g, "\\|");
const node = (s: string) => s.replace(/[^A-Za-z0-9_]/g, "_");

/** GitHub refuses a comment over 65,536 characters; the comment stays under this, with room to spare. */
export const COMMENT_LIMIT = 60_000;

/** Customers the reader must see: a roster change of their own, or any resource change. */
const worthAListing = (c: CustomerChange) => !(c.changes.length === 1 && c.changes[0] === "other") || Object.values(c.resources).some((l) => l.length);

/** The Mermaid picture: one node per customer up to 40, else one per (change, stack) with counts. */
function mermaid(d: PlanDiff, shown: CustomerChange[]): string[] {
  if (!shown.length && !d.stacks.length) return [];
  const out = ["```mermaid", "flowchart LR"];
  const kind = (c: CustomerChange) => c.changes[0];
  if (shown.length <= 40) {
    const groups = new Map<string, CustomerChange[]>();
    for (const c of shown) groups.set(kind(c), [...(groups.get(kind(c)) ?? []), c]);
    for (const [g, cs] of groups) {
      out.push(`  subgraph ${node(g)}["${g}"]`);
      for (const c of cs) out.push(`    ${node(`c_${c.id}`)}["${c.id}<br/>${c.details.join("<br/>").replace(/"/g, "'")}"]`);
      out.push("  end");
    }
    for (const c of shown) out.push(`  ${node(`c_${c.id}`)} -->|"${counts(c.resources)}"| ${node(`s_${c.stack}`)}`);
  } else if (d.stacks.length <= 100) {
    const groups = new Map<string, number>();
    for (const c of shown) groups.set(`${kind(c)}\0${c.stack}`, (groups.get(`${kind(c)}\0${c.stack}`) ?? 0) + 1);
    for (const [key, count] of groups) {
      const [g, stack] = key.split("\0");
      out.push(`  ${node(`g_${g}_${stack}`)}["${count} ${g}"] --> ${node(`s_${stack}`)}`);
    }
  } else {
    // Past 100 stacks one node per change, its count and the number of stacks it touches.
    const byKind = new Map<string, { customers: number; stacks: Set<string> }>();
    for (const c of shown) {
      const g = byKind.get(kind(c)) ?? { customers: 0, stacks: new Set<string>() };
      g.customers++;
      g.stacks.add(c.stack);
      byKind.set(kind(c), g);
    }
    for (const [g, v] of byKind) out.push(`  ${node(`g_${g}`)}["${v.customers} ${g}"] --> ${node(`s_${g}`)}[("${v.stacks.size} stacks")]`);
    out.push("```", "");
    return out;
  }
  for (const st of d.stacks) out.push(`  ${node(`s_${st}`)}[("${st}")]`);
  // The platform stack is updated for a settings or platform change: drawn with its reason.
  if (d.stacks.includes(d.stack) && !shown.some((c) => c.stack === d.stack))
    out.push(`  ${node("why_platform")}["${d.settingsChanged ? "stack settings" : "platform resources"}"] --> ${node(`s_${d.stack}`)}`);
  out.push("```", "");
  return out;
}

/**
 * A pull-request comment: summary, changed settings, stacks, a Mermaid picture of who changes,
 * the per-customer table and details. Bounded under GitHub's comment limit at any roster size:
 * the summary comes first, and the table and details are cut, with a note, where they would overflow.
 */
export function renderDiffMarkdown(d: PlanDiff, limit = COMMENT_LIMIT): string {
  const head: string[] = [`### registry-intake: what this change does to stack \`${d.stack}\``, ""];
  const n = (k: CustomerChangeKind) => d.customers.filter((c) => c.changes.includes(k)).length;
  const shown = d.customers.filter(worthAListing);
  const unlisted = d.customers.length - shown.length;
  head.push(
    `Against \`${d.base}\`: ${n("added")} added, ${n("removed")} removed, ${n("tier")} tier changes, ${n("status")} status changes, ${n("registries")} registry changes${n("products") ? `, ${n("products")} product changes` : ""}. ` +
      (d.prices ? `Estimated monthly cost change **${money(d.monthlyCost, d.currency)}**. ` : "") +
      `Stacks to update: ${d.stacks.map((s) => `\`${s}\``).join(", ") || "none"}.`,
  );
  head.push("");
  if (d.settingsChanged) {
    head.push(
      `Stack settings changed${d.settingsChanges.length ? "" : " (the stack file was edited; no setting's value differs)"}, so every customer was compared` +
        `${unlisted ? ` (${unlisted} with no resource change are not listed)` : ""}${d.settingsChanges.length ? ":" : "."}`,
    );
    for (const c of d.settingsChanges.slice(0, 30)) head.push(`- \`${mdEscape(c)}\``);
    if (d.settingsChanges.length > 30) head.push(`- ... and ${d.settingsChanges.length - 30} more`);
    head.push("");
  }
  // Every part of the head is bounded too, so the budget below can never go negative.
  for (const w of d.warnings.slice(0, 20)) head.push(`> **Warning:** ${mdEscape(w)}`, "");
  if (d.warnings.length > 20) head.push(`> ... and ${d.warnings.length - 20} more warnings (plan.json)`, "");
  if (d.stacks.length > 1) {
    const perStack = new Map<string, number>();
    for (const c of shown) perStack.set(c.stack, (perStack.get(c.stack) ?? 0) + 1);
    head.push("| stack | customers changing |", "| --- | ---: |");
    for (const st of d.stacks.slice(0, 100)) head.push(`| \`${st}\` | ${perStack.get(st) ?? 0} |`);
    if (d.stacks.length > 100) head.push(`| ... | ${d.stacks.length - 100} more stacks (plan.json) |`);
    head.push("");
  }
  head.push(...mermaid(d, shown));
  const policy = d.violations.length
    ? `Policy: ${d.violations
        .slice(0, 50)
        .map((v) => `**${v.enforcement}** \`${v.policy}\` ${v.customer ?? "platform"}: ${mdEscape(v.message)}`)
        .join("; ")}${d.violations.length > 50 ? `; ... and ${d.violations.length - 50} more (plan.json)` : ""}`
    : "Policy: no violations.";

  // The table, then the details, line by line until the budget (room kept for the notes and policy line).
  const budget = limit - head.join("\n").length - policy.length - 400;
  const body: string[] = [];
  let used = 0;
  const fits = (lines: string[]) => used + lines.join("\n").length + 1 <= budget;
  const add = (...lines: string[]) => {
    body.push(...lines);
    used += lines.join("\n").length + 1;
  };
  const priced = d.prices ? " cost / month |" : "";
  if (shown.length) add(`| customer | change | stack | resources |${priced}`, `| --- | --- | --- | --- |${d.prices ? " ---: |" : ""}`);
  let rows = 0;
  for (const c of shown) {
    const line = `| \`${c.id}\` | ${mdEscape(c.details.join("; "))} | \`${c.stack}\` | ${counts(c.resources)} |${d.prices ? ` ${money(c.monthlyCost, d.currency)} |` : ""}`;
    if (!fits([line])) break;
    add(line);
    rows++;
  }
  if (rows < shown.length) body.push(`| ... | ${shown.length - rows} more customers: see plan.json (the job's artifact) | | |${d.prices ? " |" : ""}`);
  body.push("");
  const detail = shown.filter((c) => Object.values(c.resources).some((l) => l.length));
  if (detail.length && rows === shown.length) {
    body.push("<details><summary>Resources per customer</summary>", "");
    let listed = 0;
    for (const c of detail) {
      const lines = [`**${c.id}**`, ""];
      for (const [k, word] of [
        ["add", "add"],
        ["remove", "delete"],
        ["retain", "drop from state, kept in the cloud"],
        ["update", "update"],
        ["replace", "replace"],
      ] as const) {
        for (const r of [...c.resources[k]].sort()) lines.push(`- ${word}: \`${r}\``);
      }
      lines.push("");
      if (!fits(lines)) break;
      add(...lines);
      listed++;
    }
    if (listed < detail.length) body.push(`... and ${detail.length - listed} more customers' resources: see plan.json`, "");
    body.push("</details>", "");
  }
  return [...head, ...body, policy].join("\n") + "\n";
}
