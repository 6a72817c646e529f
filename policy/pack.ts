import { IntakeError } from "../core/errors";
import type { ResourceValidationPolicy, StackValidationPolicy } from "@pulumi/policy";
import * as path from "node:path";
import { loadStackContext } from "../core/stack";
import { PACKAGE_ROOT } from "../core/package";
import { policyContext } from "./evaluate";
import type { PolicyContext } from "./model";
import { RULES } from "./rules";
import { fromAnalyzer } from "./sources";

/**
 * The rules as CrossGuard policies. Building them does not start the analyzer: only
 * policy/index.ts constructs the PolicyPack, so tests and the CLI can import this.
 */
export function analyzerPolicies(context: PolicyContext | ((urn: string) => PolicyContext)): (ResourceValidationPolicy | StackValidationPolicy)[] {
  const ctxFor = typeof context === "function" ? context : () => context;
  return RULES.map((rule) => {
    const base = { name: rule.name, description: rule.description, enforcementLevel: rule.enforcementLevel };
    if (rule.stack) {
      const stack = rule.stack;
      return {
        ...base,
        validateStack: (args, reportViolation) => {
          if (!args.resources.length) return;
          const ctx = ctxFor(args.resources[0].urn);
          for (const f of stack(
            args.resources.map((r) => fromAnalyzer({ ...r, opts: { ...r.opts, parent: r.parent?.urn } })),
            ctx,
          ))
            reportViolation(f.message, f.urn);
        },
      } satisfies StackValidationPolicy;
    }
    const check = rule.resource!;
    return {
      ...base,
      validateResource: (args, reportViolation) => {
        for (const f of check(fromAnalyzer(args), ctxFor(args.urn))) reportViolation(f.message, f.urn);
      },
    } satisfies ResourceValidationPolicy;
  });
}

/** The stack a URN belongs to: `urn:pulumi:<stack>::<project>::...`. */
function stackOfUrn(urn: string): string {
  const m = /^urn:pulumi:([^:]+)::/.exec(urn);
  if (!m) throw new Error(`not a Pulumi URN: ${urn}`);
  return m[1];
}

/**
 * The context for `pulumi preview --policy-pack policy` / `pulumi up --policy-pack policy`: the
 * roster and settings of the stack the engine is updating, named by the URNs it sends (the
 * analyzer gets no other word of the stack), read from the project folder above this pack.
 * INTAKE_ROSTER names another roster file (onboarding judges the roster it is about to write).
 * Secrets are not needed, so nothing is decrypted. Made once per stack, on first use.
 */
export function packContext(projectDir = PACKAGE_ROOT): (urn: string) => PolicyContext {
  const made = new Map<string, PolicyContext>();
  return (urn) => {
    const stack = stackOfUrn(urn);
    let ctx = made.get(stack);
    if (!ctx) {
      const rosterPath = process.env.INTAKE_ROSTER && path.resolve(projectDir, process.env.INTAKE_ROSTER);
      let loaded: ReturnType<typeof loadStackContext>;
      try {
        loaded = loadStackContext({ projectDir, stack, rosterPath });
      } catch (e) {
        // A bad setting or roster entry is the user's to fix: its one line, not this pack's stack trace.
        if (e instanceof IntakeError) e.stack = `${e.name}: ${e.message}`;
        throw e;
      }
      const { settings, roster } = loaded;
      ctx = policyContext(roster, settings);
      made.set(stack, ctx);
    }
    return ctx;
  };
}
