import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { settingsFromConfig } from "../components/stack-settings";
import { loadRoster } from "../customers/roster";
import { readStackConfig } from "../cli/plan/stack";
import { policyContext } from "./evaluate";
import type { PolicyContext } from "./model";
import { RULES } from "./rules";
import { fromAnalyzer } from "./sources";

/**
 * The rules as CrossGuard policies. Building them does not start the analyzer: only
 * policy/index.ts constructs the PolicyPack, so tests and the CLI can import this.
 */
export function analyzerPolicies(ctx: PolicyContext): (ResourceValidationPolicy | StackValidationPolicy)[] {
  return RULES.map((rule) => {
    const base = { name: rule.name, description: rule.description, enforcementLevel: rule.enforcementLevel };
    if (rule.stack) {
      const stack = rule.stack;
      return {
        ...base,
        validateStack: (args, reportViolation) => {
          for (const f of stack(args.resources.map((r) => fromAnalyzer({ ...r, opts: { ...r.opts, parent: r.parent?.urn } })), ctx)) reportViolation(f.message, f.urn);
        },
      } satisfies StackValidationPolicy;
    }
    const check = rule.resource!;
    return {
      ...base,
      validateResource: (args, reportViolation) => {
        for (const f of check(fromAnalyzer(args), ctx)) reportViolation(f.message, f.urn);
      },
    } satisfies ResourceValidationPolicy;
  });
}

/**
 * The context for `pulumi preview --policy-pack policy`: the roster and settings of the stack
 * named by INTAKE_STACK (default dev), read from the project folder above this pack. Secrets
 * are not needed, so nothing is decrypted.
 */
export function packContext(projectDir = path.resolve(__dirname, ".."), stack = process.env.INTAKE_STACK ?? "dev"): PolicyContext {
  const cfg = readStackConfig(projectDir, stack);
  pulumi.runtime.setAllConfig(cfg.config, cfg.secretKeys);
  const settings = settingsFromConfig(cfg.file, stack);
  const roster = loadRoster(path.resolve(projectDir, process.env.INTAKE_ROSTER ?? settings.roster), {
    tierTable: settings.tierTable,
    prefix: { repoPrefix: settings.repoPrefix },
  });
  return policyContext(roster, settings);
}
