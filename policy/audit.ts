import { readFileSync } from "node:fs";
import { evaluate, policyContext, type PolicyConfig, type Violation } from "./evaluate";
import { fromStackExport, parseStackExport, StackExportError } from "./sources";
import { loadStackContext } from "../core/stack";

export interface AuditOptions {
  projectDir: string;
  exportFile: string;
  /** Stack whose settings and roster to judge by; default: the stack named in the export's URNs. */
  stack?: string;
  rosterPath?: string;
  policyConfig?: PolicyConfig;
  today?: Date;
}

export interface AuditResult {
  stack: string;
  file: string;
  resources: number;
  violations: Violation[];
  /** Things the reader should know, e.g. judging an export by another stack's settings. */
  warnings: string[];
}

/** Run the policy pack over the resources of a `pulumi stack export` file. */
export function auditStackExport(opts: AuditOptions): AuditResult {
  let text: string;
  try {
    text = readFileSync(opts.exportFile, "utf8");
  } catch (e) {
    throw new StackExportError(opts.exportFile, `cannot read: ${(e as Error).message}`);
  }
  const exp = parseStackExport(text, opts.exportFile);
  const { resources, stackName, plainOutputs } = fromStackExport(exp);
  const stack = opts.stack ?? stackName;
  if (!stack) throw new StackExportError(opts.exportFile, "holds no resources to take the stack name from; pass --stack");
  const { settings, roster } = loadStackContext({ projectDir: opts.projectDir, stack, rosterPath: opts.rosterPath, today: opts.today });
  const violations = evaluate(resources, policyContext(roster, settings), opts.policyConfig);
  for (const o of plainOutputs) {
    violations.push({
      policy: "credentials-are-secret",
      enforcement: "mandatory",
      customer: null,
      urn: o.urn,
      message: `stack output ${o.path} holds a credential in plain text`,
    });
  }
  const warnings =
    opts.stack && stackName && opts.stack !== stackName
      ? [
          `--stack ${opts.stack}: the export's resources belong to stack ${stackName}; they are judged by ${opts.stack}'s settings and roster (drop --stack to use ${stackName}'s)`,
        ]
      : [];
  return { stack, file: opts.exportFile, resources: resources.length, violations, warnings };
}

export function renderAudit(a: AuditResult): string {
  const mandatory = a.violations.filter((v) => v.enforcement === "mandatory").length;
  const lines = [`Policy audit of ${a.file} (stack ${a.stack}, ${a.resources} resources)`, ...a.warnings.map((w) => `warning: ${w}`)];
  for (const v of a.violations) lines.push(`${v.enforcement} [${v.policy}] ${v.customer ?? "platform"}: ${v.message}${v.urn ? `\n    ${v.urn}` : ""}`);
  lines.push(a.violations.length === 0 ? "No violations." : `${mandatory} mandatory, ${a.violations.length - mandatory} advisory violation(s).`);
  return lines.join("\n");
}
