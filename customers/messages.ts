import type { z } from "zod";

/**
 * One sentence per zod issue, quoting the offending value (parse with `reportInput: true`).
 * Shared by the roster loader and the stack settings so both speak alike.
 */
export function issueMessage(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case "invalid_type":
      if (input === undefined) return `is required (${issue.expected})`;
      // YAML reads 2, 1.10 or 444455556666 as numbers (1.10 as 1.1): a string is written in quotes.
      if (issue.expected === "string" && (typeof input === "number" || typeof input === "boolean"))
        return `must be a string, got ${describe(input)}: write it in quotes (YAML reads it as a ${typeof input})`;
      return `must be ${article(issue.expected)}, got ${describe(input)}`;
    case "invalid_value":
      return input === undefined ? `is required: ${issue.message}` : `${quoted(input)} ${issue.message}`;
    case "invalid_key":
      return `key ${quoted(input)}: ${issue.issues.map((i) => i.message).join("; ")}`;
    case "too_small":
      return issue.origin === "array" || issue.origin === "string"
        ? `${describe(input)} ${ownWords(issue.message) ?? `has ${sizeOf(input)}, under the minimum of ${issue.minimum}`}`
        : `${quoted(input)} is below the minimum of ${issue.minimum}`;
    case "too_big":
      return issue.origin === "array" || issue.origin === "string"
        ? `${describe(input)} ${ownWords(issue.message) ?? `has ${sizeOf(input)}, over the maximum of ${issue.maximum}`}`
        : `${quoted(input)} is above the maximum of ${issue.maximum}`;
    default:
      return input !== undefined && typeof input !== "object" ? `${quoted(input)} ${issue.message}` : issue.message;
  }
}

/** A schema's own message, or undefined for zod's stock wording ("Too big: expected string to have <=200 characters"). */
function ownWords(message: string): string | undefined {
  return /^Too (big|small): expected /.test(message) ? undefined : message;
}

function sizeOf(v: unknown): string {
  if (typeof v === "string") return `${v.length} character${v.length === 1 ? "" : "s"}`;
  if (Array.isArray(v)) return `${v.length} item${v.length === 1 ? "" : "s"}`;
  return "a size";
}

function article(t: string): string {
  return /^[aeiou]/.test(t) ? `an ${t}` : `a ${t}`;
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${quoted(v)}`;
}

/** A value as JSON, cut to a readable length (a 10 MB value must not bury the rule that refused it). */
export function quoted(v: unknown, max = 80): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length <= max ? s : `${s.slice(0, max - 1)}…" (${typeof v === "string" ? `${v.length} characters` : `${s.length} characters of JSON`})`;
}
