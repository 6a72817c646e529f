// The roster's JSON Schema for editors (customers/roster.schema.json, generated from the roster's
// zod schema and kept in step with it by test/unit/docs.test.ts): it accepts every committed
// roster and marks each bad entry at the field the loader names.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { execFileSync } from "node:child_process";
import Ajv2020 from "ajv/dist/2020";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { parseRoster, RosterError } from "../../../customers/roster";
import { customer, rosterYaml } from "../../../testing/helpers";

const ROOT = path.resolve(__dirname, "../../..");
const FILE = path.join(ROOT, "customers", "roster.schema.json");
const committed = () => readFileSync(FILE, "utf8");

/** The schema's verdict on a document: the fields it marks, dotted inside the customer (`tier`, `license.expires`). */
function marked(doc: unknown): string[] {
  const validate = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(committed()));
  if (validate(doc)) return [];
  return [
    ...new Set(
      (validate.errors ?? []).map((e) => {
        const at = e.instancePath.split("/").slice(3); // "", "customers", "<i>", ...
        const extra =
          e.keyword === "additionalProperties" ? [String(e.params.additionalProperty)] : e.keyword === "required" ? [String(e.params.missingProperty)] : [];
        return [...at, ...extra].join(".");
      }),
    ),
  ];
}

/** The loader's verdict: the fields its problems name, an unknown field's name included. */
function named(text: string): string[] {
  try {
    parseRoster(text, "roster.yaml");
    return [];
  } catch (e) {
    if (!(e instanceof RosterError)) throw e;
    return e.problems.map((p) => {
      const unknown = /^unknown field "([^"]+)"/.exec(p.message)?.[1];
      return [p.field, unknown].filter(Boolean).join(".");
    });
  }
}

describe("the roster's JSON Schema", () => {
  it("every committed roster names it on its first line, and it accepts each", () => {
    const rosters = execFileSync("git", ["ls-files", "*.yaml"], { cwd: ROOT, encoding: "utf8" })
      .split("\n")
      .filter((f) => f && /^customers:/m.test(readFileSync(path.join(ROOT, f), "utf8")));
    expect(rosters).toContain("customers/roster.yaml");
    for (const f of rosters) {
      const text = readFileSync(path.join(ROOT, f), "utf8");
      const ref = /^# yaml-language-server: \$schema=(\S+)\n/.exec(text)?.[1];
      expect(ref, f).toBeDefined();
      expect(path.resolve(ROOT, path.dirname(f), ref!)).toBe(FILE);
      expect(marked(parse(text)), f).toEqual([]);
    }
  });

  it.each([
    ["tier", { tier: "platinum" }],
    ["id", { id: "Bad_Id" }],
    ["status", { status: "paused" }],
    ["registries.0", { registries: ["quay"] }],
    ["license.expires", { license: {} }],
    ["colour", { colour: "blue" }],
    ["distribution.access", { distribution: { access: "write" } }],
    ["acr.allowDelete", { acr: { allowDelete: "yes" } }],
  ])("a bad %s is marked at the field the loader names", (field, over) => {
    const text = rosterYaml([{ ...customer("acme", "enterprise"), ...over }]);
    expect(named(text)).toContain(field);
    expect(marked(parse(text))).toContain(field);
  });
});
