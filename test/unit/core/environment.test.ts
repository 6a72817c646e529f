// The environment table (core/environment.ts) is the one list of variables the project reads:
// `intake --help`, the credential helper's help and docs/reference/environment.md are written
// from it, so a variable the code reads and the table lacks is a variable no user can find.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { ENVIRONMENT, environmentHelp } from "../../../core/environment";

const ROOT = path.resolve(__dirname, "../../..");
/** The system's own, not the project's to document. */
const SYSTEM = new Set(["PATH", "HOME"]);

/** Every variable name a source reads (`process.env.X`, `env.X`, `env["X"]`) or names (`INTAKE_*`). */
function readIn(text: string): string[] {
  const names = [...text.matchAll(/\b(?:process\.)?env(?:\.([A-Z][A-Z0-9_]*)|\["([A-Z][A-Z0-9_]*)"\])|\b(INTAKE_[A-Z0-9_]+)\b/g)].map(
    (m) => m[1] ?? m[2] ?? m[3],
  );
  return names.filter((n) => !SYSTEM.has(n));
}

/** Whether the table holds a name, by its patterns too (`INTAKE_GHCR_TOKEN_<ID>`, `AWS_*`). */
function inTable(name: string): boolean {
  return ENVIRONMENT.some((v) =>
    v.name.split(", ").some((pattern) => new RegExp(`^${pattern.replace(/\*/g, ".*").replace(/<[A-Z]+>/g, "[A-Z0-9_]*")}$`).test(name)),
  );
}

describe("the environment table", () => {
  it("holds every variable the shipped code reads", () => {
    const files = execFileSync("git", ["ls-files", "*.ts", "*.js"], { cwd: ROOT, encoding: "utf8" })
      .split("\n")
      .filter((f) => f && !/^(test|testing|bench|scripts)\//.test(f));
    const missing = new Set<string>();
    let seen = 0;
    for (const f of files)
      for (const name of readIn(readFileSync(path.join(ROOT, f), "utf8"))) {
        seen++;
        if (!inTable(name)) missing.add(`${name} (${f})`);
      }
    expect(seen).toBeGreaterThan(20);
    expect([...missing]).toEqual([]);
  });

  it("catches a variable it lacks, in each way code reads one", () => {
    for (const code of ['process.env.INTAKE_NEW_THING ?? ""', 'env["INTAKE_NEW_THING"]', "const v = env.INTAKE_NEW_THING;"])
      expect(readIn(code).filter((n) => !inTable(n))).toEqual(["INTAKE_NEW_THING"]);
    expect(inTable("INTAKE_GHCR_TOKEN_ACME")).toBe(true);
    expect(inTable("AWS_REGION")).toBe(true);
  });

  it("renders both help texts from it, one variable a line", () => {
    for (const which of ["intake", "helper"] as const) {
      const help = environmentHelp(which);
      for (const v of ENVIRONMENT.filter((e) => e[which])) expect(help).toMatch(new RegExp(`^  ${v.name.replace(/[*<>]/g, "\\$&")}\\s`, "m"));
    }
  });
});
