import type { z } from "zod";

/**
 * One sentence per zod issue, quoting the offending value (parse with `reportInput: true`).
 * Shared by the roster loader and the stack settings so both speak alike.
 */
export function issueMessage(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "invalid_type":
      return input === undefined ? `is required (${issue.expected})` : `must be ${article(issue.expected)}, got ${describe(input)}`;
    case "invalid_value":
      return input === undefined ? `is required: ${issue.message}` : `${JSON.stringify(input)} ${issue.message}`;
    case "invalid_key":
      return `key ${JSON.stringify(input)}: ${issue.issues.map((i) => i.message).join("; ")}`;
    case "too_small":
      return issue.origin === "array" || issue.origin === "string"
        ? `${describe(input)} ${issue.message}`
        : `${JSON.stringify(input)} is below the minimum of ${issue.minimum}`;
    case "too_big":
      return issue.origin === "array" || issue.origin === "string"
        ? `${describe(input)} ${issue.message}`
        : `${JSON.stringify(input)} is above the maximum of ${issue.maximum}`;
    default:
      return input !== undefined && typeof input !== "object" ? `${JSON.stringify(input)} ${issue.message}` : issue.message;
  }
}

function article(t: string): string {
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}
