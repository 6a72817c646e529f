import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { fastRead, parseRoster, RosterError } from "../customers/roster";
import { rosterYaml as generatedRosterYaml } from "../bench/roster-gen";

// The fast reader (js-yaml) must read every roster exactly as the yaml library does, or hand it
// back; these cases are where YAML readers disagree.

const PLAIN = [
  "1", "-1", "+1", "0", "-0", "007", "1_000", "1,000", "0x1F", "0X1F", "0o17", "0O17", "0b11",
  "1.5", "-.5", "+.5", ".5", "1.", "1e3", "1E-2", "1.5e+3", ".inf", "-.inf", "+.INF", ".Inf", ".nan", ".NaN", ".NAN", ".nAn",
  "true", "True", "TRUE", "tRUE", "false", "False", "FALSE", "yes", "no", "on", "off", "y", "n",
  "~", "null", "Null", "NULL", "nULL", "", "2027-01-01", "2027-1-1", "2027-01-01T10:00:00Z", "12:30", "1:20:00",
  "-", "a b", "a #b", "a#b", "acme", "enterprise", "push", "ghcr", "cust-00001", "ns-1",
];
const QUOTED = [`'1'`, `"1"`, `"a\\tb"`, `'it''s'`, `"\\u00e9t\\u00e9"`, `"  padded  "`, `''`, `"true"`, `"multi\n      line"`];
const BLOCK = ["|\n      a\n      b", ">\n      a\n      b\n\n      c", "|-\n      a", ">+\n      a\n", "a\n      b"];
const SCALARS = [...PLAIN, ...QUOTED, ...BLOCK];

/** A one-customer roster with `value` written into `field`. */
function withValue(field: string, value: string): string {
  const fields: Record<string, string> = {
    id: "acme", name: "Acme", tier: "enterprise", expires: "2030-01-01", registries: "ghcr",
    allowDelete: "true", shard: "1", member: "octocat", namespace: "acme-apps", access: "push",
  };
  const f = { ...fields, [field]: value };
  return [
    "customers:",
    `  - id: ${f.id}`,
    `    name: ${f.name}`,
    `    tier: ${f.tier}`,
    `    registries: [${f.registries === "" ? "''" : f.registries}, gar]`,
    "    license:",
    `      expires: ${f.expires}`,
    "    acr:",
    `      allowDelete: ${f.allowDelete}`,
    `    shard: ${f.shard}`,
    "    github:",
    "      members:",
    `        - ${f.member}`,
    "    kubernetes:",
    `      namespace: ${f.namespace}`,
    "    distribution:",
    `      access: ${f.access}`,
    "",
  ].join("\n");
}

/** A reading's whole outcome: the roster, or the problems. */
function outcome(text: string, reader: "fast" | "yaml"): unknown {
  try {
    return { roster: parseRoster(text, "r.yaml", { reader }) };
  } catch (e) {
    if (!(e instanceof RosterError)) throw e;
    return { problems: e.problems };
  }
}

describe("roster: the fast reader reads what the yaml library reads", () => {
  const fields = ["id", "name", "tier", "expires", "registries", "allowDelete", "shard", "member", "namespace", "access"];

  it("gives the same data for every scalar form it accepts, in every field", () => {
    let fast = 0;
    for (const field of fields) {
      for (const s of SCALARS) {
        // The flow sequence of `registries` takes flow scalars only.
        if (field === "registries" && (BLOCK.includes(s) || s.includes("\n") || /[,#]/.test(s))) continue;
        const text = withValue(field, s);
        const raw = fastRead(text);
        if (raw === undefined) continue;
        fast++;
        expect(raw, `${field}: ${JSON.stringify(s)}`).toEqual(parse(text, { uniqueKeys: true }));
      }
    }
    // The comparison above only means something if the fast reader is used.
    expect(fast).toBeGreaterThan(fields.length * PLAIN.length * 0.9);
  });

  it("gives the same roster or the same problems (with lines) for every scalar form, in every field", () => {
    const seen = { valid: 0, invalid: 0 };
    for (const field of fields) {
      for (const s of SCALARS) {
        if (field === "registries" && (BLOCK.includes(s) || s.includes("\n") || /[,#]/.test(s))) continue;
        const text = withValue(field, s);
        const a = outcome(text, "fast");
        expect(a, `${field}: ${JSON.stringify(s)}`).toEqual(outcome(text, "yaml"));
        seen["roster" in (a as object) ? "valid" : "invalid"]++;
      }
    }
    expect(seen.valid).toBeGreaterThan(20);
    expect(seen.invalid).toBeGreaterThan(100);
  });

  it("reads scalars the way the yaml library does where js-yaml's own core schema would not", () => {
    // js-yaml's CORE_SCHEMA reads -.5 as a string and 0b11 as 3; YAML 1.2 core says the opposite.
    expect(fastRead("a: -.5\nb: 0b11\nc: 1_000\n")).toEqual({ a: -0.5, b: "0b11", c: "1_000" });
    expect(outcome(withValue("shard", "0b11"), "fast")).toMatchObject({ problems: [{ customer: "acme", field: "shard", line: 10 }] });
    expect(outcome(withValue("name", "-.5"), "fast")).toMatchObject({ problems: [{ customer: "acme", field: "name", line: 3 }] });
  });

  it("hands back what it cannot vouch for, and the yaml library's reading stands", () => {
    const anchored = [
      "customers:",
      "  - &a {id: acme, name: Acme, tier: standard, license: {expires: 2030-01-01}}",
      "  - *a",
      "",
    ].join("\n");
    const cases: [string, string][] = [
      ["a collection reached twice through an alias", anchored],
      ["a YAML 1.1 directive (yes is true there)", `%YAML 1.1\n---\n${withValue("name", "yes")}`],
      ["a duplicate key", withValue("name", "Acme").replace("    tier:", "    name: Again\n    tier:")],
      ["two documents", `${withValue("id", "acme")}---\n${withValue("id", "globex")}`],
      ["a syntax error", withValue("name", "[unclosed")],
      // js-yaml accepts these continuation lines; the yaml library refuses them as under-indented.
      ["an under-indented quoted scalar", withValue("name", '"Acme\n    Corp"')],
      ["an under-indented flow sequence", withValue("registries", "ghcr").replace("[ghcr, gar]", "[ghcr,\n    gar]")],
      ["a value on the next line", withValue("name", "\n      Acme")],
      ["a block scalar", withValue("name", "|-\n      Acme")],
      // js-yaml reads these keys as `id`, `shard`, `customers`; the yaml library as `[ id ]`…
      ["a flow sequence as a key", "customers: [{[id]: acme, name: Acme, tier: standard, license: {expires: 2030-01-01}}]\n"],
      ["an explicit flow key", "customers: [{? [id] : acme, name: Acme, tier: standard, license: {expires: 2030-01-01}}]\n"],
      ["an explicit block key", withValue("shard", "1").replace("    shard: 1\n", "    ? [shard]\n    : 1\n")],
      ["an explicit key at the top", withValue("id", "acme").replace("customers:\n", "? [customers]\n:\n")],
      // …and the yaml library refuses a comment that touches the token before it.
      ["a comment after a quoted scalar", withValue("id", '"acme"#x')],
      ["a comment after a flow sequence", withValue("registries", "ghcr").replace("[ghcr, gar]", "[ghcr, gar]#x")],
    ];
    for (const [what, text] of cases) {
      expect(fastRead(text), what).toBeUndefined();
      expect(outcome(text, "fast"), what).toEqual(outcome(text, "yaml"));
    }
    // Each refused one is refused with a line to look at.
    for (const [what, text] of cases.slice(0, 7)) {
      const o = outcome(text, "fast") as { problems?: { line?: number }[] };
      if (what.startsWith("a YAML 1.1")) expect(o.problems?.[0]).toMatchObject({ field: "name" });
      expect(o.problems?.[0]?.line, what).toBeGreaterThan(0);
    }
    // The valid ones read as the yaml library reads them.
    for (const [what, text] of cases.slice(9)) expect((outcome(text, "fast") as { problems?: unknown[] }).problems?.length, what).toBeGreaterThan(0);
    expect(outcome(cases[7][1], "fast")).toMatchObject({ roster: { customers: [{ name: "Acme" }] } });
    expect(outcome(cases[8][1], "fast")).toMatchObject({ roster: { customers: [{ name: "Acme" }] } });
    // A scalar alias reads the same in both and stays on the fast path.
    const scalarAlias = withValue("name", "&n Acme").replace("namespace: acme-apps", "namespace: acme-apps\n    # same name\n");
    expect(fastRead(scalarAlias)).toEqual(parse(scalarAlias));
  });

  it("reads the default roster and a generated 2,000-customer roster as the yaml library does", () => {
    const file = path.join(__dirname, "..", "customers", "roster.yaml");
    for (const text of [readFileSync(file, "utf8"), generatedRosterYaml(2000)]) {
      expect(fastRead(text)).toBeDefined();
      expect(parseRoster(text, "r.yaml")).toEqual(parseRoster(text, "r.yaml", { reader: "yaml" }));
    }
  });
});
