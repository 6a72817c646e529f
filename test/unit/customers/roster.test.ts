import { utimesSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { loadRoster, parseRoster, RosterError, type RosterProblem } from "../../../customers/roster";
import { namesFor, nameProblems } from "../../../core/naming";
import { customerState } from "../../../customers/status";
import { DEFAULT_TIER_TABLE, STATUSES, TIERS } from "../../../core/tiers";
import { main } from "../../../cli/main";
import { customer, rosterYaml } from "../../../testing/helpers";
import { tempDir } from "../../../testing/tmp";

const ROOT = path.resolve(__dirname, "../../..");

function problemsOf(yaml: string, file = "roster.yaml", opts = {}): RosterProblem[] {
  try {
    parseRoster(yaml, file, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(RosterError);
    return (e as RosterError).problems;
  }
  throw new Error("expected the roster to be refused");
}

function only(ps: RosterProblem[]): RosterProblem {
  expect(ps, JSON.stringify(ps, null, 2)).toHaveLength(1);
  return ps[0];
}

describe("roster: valid input", () => {
  it("defaults registries to the tier's kinds and status to active", () => {
    const r = parseRoster(rosterYaml([customer("acme", "enterprise"), customer("globex", "professional"), customer("initech", "standard")]), "r.yaml");
    expect(r.customers.map((c) => [c.id, c.registries, c.status, c.registriesExplicit])).toEqual([
      ["acme", ["ghcr", "ecr", "acr", "gar", "distribution"], "active", false],
      ["globex", ["ghcr", "ecr", "acr"], "active", false],
      ["initech", ["ghcr"], "active", false],
    ]);
  });

  it("keeps an explicit subset, in canonical kind order", () => {
    const r = parseRoster(rosterYaml([customer("acme", "enterprise", { registries: ["gar", "ghcr"] })]), "r.yaml");
    expect(r.customers[0].registries).toEqual(["ghcr", "gar"]);
    expect(r.customers[0].registriesExplicit).toBe(true);
  });

  it("the default roster covers every tier and every status, including a lapsed license", () => {
    const r = loadRoster(path.join(__dirname, "../../..", "customers", "roster.yaml"));
    expect(r.customers.length).toBeGreaterThanOrEqual(5);
    expect(new Set(r.customers.map((c) => c.tier))).toEqual(new Set(TIERS));
    expect(new Set(r.customers.map((c) => c.status))).toEqual(new Set(STATUSES));
    const states = r.customers.map((c) => customerState(c, "2026-11-22"));
    expect(states.some((s) => s.reason.startsWith("license expired"))).toBe(true);
  });

  it("accepts a tier table override from stack config", () => {
    const table = { ...DEFAULT_TIER_TABLE, standard: ["ghcr", "ecr"] as const };
    const r = parseRoster(rosterYaml([customer("initech", "standard")]), "r.yaml", { tierTable: table });
    expect(r.customers[0].registries).toEqual(["ghcr", "ecr"]);
  });
});

describe("roster: every bad-input rule names file, customer, field and rule", () => {
  it("duplicate id, pointing at the second entry and naming the first", () => {
    const p = only(problemsOf(rosterYaml([customer("acme", "standard"), customer("acme", "standard")])));
    expect(p).toMatchObject({ file: "roster.yaml", customer: "acme", field: "id" });
    expect(p.message).toBe('duplicate id: "acme" is already used by entry #1');
    expect(p.line).toBeGreaterThan(1);
  });

  it.each([
    ["Acme", "upper case"],
    ["ac", "too short"],
    ["a".repeat(24), "too long (intake-<id> would pass GCP's 30)"],
    ["acme-", "ends with '-'"],
    ["acme--corp", "a double '-' (an ECR path component refuses it)"],
    ["1acme", "starts with a digit"],
    ["acme_corp", "underscore"],
    ["acme corp", "space"],
  ])("bad id %j (%s): one problem, the id rule's", (id) => {
    const p = only(problemsOf(rosterYaml([customer(id, "standard")])));
    expect(p.field).toBe("id");
    expect(p.message).toContain(
      "breaks the id rule: lower-case, 3-23 chars: runs of [a-z0-9] joined by single '-', starting with a letter, not ending with '-'",
    );
    expect(p.message).toContain(JSON.stringify(id));
  });

  it("an id the rule allows but a provider refuses under a longer prefix is caught with that provider's rule, once", () => {
    // With the default prefix the id rule covers every provider; a 15-char prefix leaves
    // GCP's 30-char service-account ids room for 14.
    expect(nameProblems("abcdefghijklmnop", { repoPrefix: "intake-platform" })).toEqual([
      "gives GCP service account name \"intake-platform-abcdefghijklmnop\", which breaks the rule: GCP service-account ids are 6-30 chars of [a-z0-9-], starting with a letter, not ending with '-'",
    ]);
    expect(nameProblems("abcdefghijklmn", { repoPrefix: "intake-platform" })).toEqual([]);
    expect(nameProblems("abcdefghijklmnopqrstuvw")).toEqual([]);
  });

  it("naming rules follow the prefix: every name of a good id passes every provider", () => {
    expect(nameProblems("acme")).toEqual([]);
    expect(nameProblems("abcdefghijklmnopqrstuvw")).toEqual([]); // 23 chars: intake- + 23 = 30
    expect(namesFor("acme")).toMatchObject({ ecrRepositoryPrefix: "intake/acme/", iamUserName: "intake-customer-acme", gcpServiceAccountId: "intake-acme" });
    expect(nameProblems("abcdefghijklmnopqrstuvw", { repoPrefix: "registry" }).join()).toContain("GCP service account");
  });

  it("unknown tier lists the tiers", () => {
    const p = only(problemsOf(rosterYaml([customer("acme", "gold")])));
    expect(p).toMatchObject({ customer: "acme", field: "tier" });
    expect(p.message).toBe('"gold" must be one of enterprise, professional, standard (license tier)');
  });

  it("unknown registry kind names the value and its position", () => {
    const p = only(problemsOf(rosterYaml([customer("acme", "enterprise", { registries: ["ghcr", "dockerhub"] })])));
    expect(p).toMatchObject({ customer: "acme", field: "registries.1" });
    expect(p.message).toBe('"dockerhub" must be one of ghcr, ecr, acr, gar, distribution (registry kind)');
  });

  it("a registry outside the tier is refused with what the tier allows", () => {
    const p = only(problemsOf(rosterYaml([customer("initech", "standard", { registries: ["ghcr", "ecr"] })])));
    expect(p).toMatchObject({ customer: "initech", field: "registries.1" });
    expect(p.message).toBe('"ecr" is outside tier standard, which allows only ghcr');
  });

  it("the tier check uses the stack's tier table", () => {
    const table = { ...DEFAULT_TIER_TABLE, professional: ["ghcr"] as const };
    const p = only(problemsOf(rosterYaml([customer("globex", "professional", { registries: ["ecr"] })]), "r.yaml", { tierTable: table }));
    expect(p.message).toBe('"ecr" is outside tier professional, which allows only ghcr');
  });

  it.each([["2027-02-30"], ["30/06/2027"], ["2027-6-30"], ["tomorrow"]])("bad date %j", (expires) => {
    const p = only(problemsOf(rosterYaml([customer("acme", "standard", { license: { expires } })])));
    expect(p).toMatchObject({ customer: "acme", field: "license.expires" });
    expect(p.message).toBe(`${JSON.stringify(expires)} must be a real calendar date written YYYY-MM-DD`);
  });

  it("missing required fields", () => {
    const ps = problemsOf(rosterYaml([{ id: "acme" }]));
    expect(ps.map((p) => `${p.field}: ${p.message}`).sort()).toEqual(
      [
        "license: is required (object)",
        "name: is required (string)",
        "tier: is required: must be one of enterprise, professional, standard (license tier)",
      ].sort(),
    );
  });

  it("unknown fields, at every level", () => {
    const ps = problemsOf(rosterYaml([customer("acme", "standard", { colour: "red", license: { expires: "2027-01-01", seats: 5 } })]).concat("extra: 1\n"));
    expect(ps.map((p) => [p.customer, p.field, p.message])).toEqual([
      ["acme", "license", 'unknown field "seats" (not part of the roster format)'],
      ["acme", undefined, 'unknown field "colour" (not part of the roster format)'],
      [undefined, undefined, 'unknown field "extra" (not part of the roster format)'],
    ]);
    // A typo is told the field it is near, at its own level.
    const typos = problemsOf(rosterYaml([customer("acme", "standard", { regsitries: ["ghcr"], license: { expire: "2027-01-01" } })]));
    expect(typos.map((p) => p.message)).toEqual(
      expect.arrayContaining(['unknown field "regsitries" (did you mean "registries"?)', 'unknown field "expire" (did you mean "expires"?)']),
    );
  });

  it("bad status and bad extra repository names", () => {
    const ps = problemsOf(rosterYaml([customer("acme", "enterprise", { status: "paused", ecr: { repositories: ["Worker", "api/v2", "api", "api"] } })]));
    expect(ps.map((p) => p.field)).toEqual(["status", "ecr.repositories.0", "ecr.repositories.1", "ecr.repositories.3"]);
    expect(ps[0].message).toBe('"paused" must be one of active, suspended, offboarded (customer status)');
    expect(ps[1].message).toContain('"Worker" is not a valid repository name');
    // One rule, not two that contradict each other ("'/'-separated components" and "no '/'").
    expect(ps[1].message).toMatch(
      /valid repository name: one component of \[a-z0-9\] runs joined by single '\.', '_' or '-', no '\/' \(the customer's prefix is added\)$/,
    );
    expect(ps[3].message).toBe('lists repository "api" more than once');
  });

  it("lists every problem of every customer at once, in file order, with lines", () => {
    const yaml = rosterYaml([
      customer("Bad", "standard"),
      customer("ok-one", "gold"),
      customer("ok-two", "standard", { registries: ["acr"], license: { expires: "2027-13-01" } }),
      customer("ok-one", "standard"),
    ]);
    const ps = problemsOf(yaml);
    expect(ps.map((p) => `${p.customer}.${p.field}`)).toEqual(["Bad.id", "ok-one.tier", "ok-two.license.expires", "ok-two.registries.0", "ok-one.id"]);
    const lines = ps.map((p) => p.line!);
    expect(lines.every((l) => l > 0)).toBe(true);
    expect([...lines].sort((a, b) => a - b)).toEqual(lines);
    // The message of the error carries all of them, each with file:line:col.
    try {
      parseRoster(yaml, "customers/x.yaml");
    } catch (e) {
      expect((e as Error).message).toMatch(/^roster is invalid \(5 problems\):/);
      expect((e as Error).message).toMatch(/customers\/x\.yaml:\d+:\d+: customer ok-two field license\.expires: "2027-13-01"/);
    }
  });

  it("YAML syntax errors carry a line and column", () => {
    const p = only(problemsOf("customers:\n  - id: acme\n    name: [unclosed\n"));
    expect(p.message).toMatch(/^YAML syntax:/);
    expect(p.line).toBeGreaterThanOrEqual(3);
  });

  it("duplicate YAML keys are an error, not a silent overwrite", () => {
    const p = only(problemsOf("customers:\n  - id: acme\n    id: other\n    name: A\n    tier: standard\n    license: { expires: 2027-01-01 }\n"));
    expect(p.message).toMatch(/YAML syntax: .*unique/i);
  });

  it("a document without customers, or with the wrong shape", () => {
    expect(only(problemsOf("{}\n")).message).toBe("is required (array)");
    expect(only(problemsOf("customers: acme\n")).message).toBe('must be an array, got string "acme"');
  });

  it("a missing file names the path", () => {
    const dir = tempDir("roster-");
    expect(() => loadRoster(path.join(dir, "nope.yaml"))).toThrow(/nope\.yaml: cannot read the roster/);
    writeFileSync(path.join(dir, "ok.yaml"), rosterYaml([customer("acme", "standard")]));
    expect(loadRoster(path.join(dir, "ok.yaml")).customers).toHaveLength(1);
  });
});

describe("license state", () => {
  const c = (status: "active" | "suspended" | "offboarded", expires: string) => ({ status, license: { expires } });
  it("is valid through the whole expiry day, suspended the day after", () => {
    expect(customerState(c("active", "2026-11-22"), "2026-11-22").status).toBe("active");
    expect(customerState(c("active", "2026-11-21"), "2026-11-22")).toEqual({ status: "suspended", reason: "license expired on 2026-11-21" });
  });
  it("offboarded wins over an expired license; suspended over a valid one", () => {
    expect(customerState(c("offboarded", "2020-01-01"), "2026-11-22").status).toBe("offboarded");
    expect(customerState(c("suspended", "2030-01-01"), "2026-11-22").status).toBe("suspended");
  });
});

describe("YAML syntax errors point where the mistake is", () => {
  it("an unclosed quote or [ is placed where it opened, once", () => {
    const one = (text: string) => {
      try {
        parseRoster(text, "roster.yaml");
      } catch (e) {
        return (e as Error).message;
      }
      return "accepted";
    };
    expect(one('customers:\n  - id: acme\n    name: "Acme\n    tier: standard\n  - id: globex\n')).toBe(
      "roster.yaml:3:11: YAML syntax: the double quote opened here is never closed",
    );
    expect(one("customers:\n  - id: acme\n    registries: [ghcr, ecr\n    name: Acme\n  - id: b\n")).toBe(
      "roster.yaml:3:17: YAML syntax: the [ opened here is never closed with ]",
    );
  });
});

describe("hostile roster YAML", () => {
  it("an alias bomb and a 10 MB value: one short line each, exit 2, no trace", async () => {
    const dir = tempDir("hostile-");
    const bomb = path.join(dir, "bomb.yaml");
    const levels = [
      "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]",
      ..."bcdefg".split("").map((l, i) => `${l}: &${l} [${Array(9).fill(`*${"abcdefg"[i]}`).join(", ")}]`),
    ];
    writeFileSync(bomb, `${levels.join("\n")}\ncustomers: []\n`);
    const big = path.join(dir, "big.yaml");
    writeFileSync(big, `customers:\n  - id: big\n    name: ${"x".repeat(10_000_000)}\n    tier: standard\n    license: { expires: "2099-12-31" }\n`);
    for (const [file, message] of [
      [bomb, /^error: .*bomb\.yaml: YAML aliases that expand too far/],
      [big, /^error: .*big\.yaml:3:11: customer big field name: string "x{78}…" \(10000000 characters\) has 10000000 characters, over the maximum of 200$/],
    ] as const) {
      const err: string[] = [];
      const code = await main(["plan", "--stack", "dev", "--roster", file, "--project", ROOT], { out: () => {}, err: (l) => err.push(l) });
      expect(code).toBe(2);
      expect(err.join("\n")).toMatch(message);
      expect(err.join("\n").length).toBeLessThan(400);
    }
  });

  it("10,000 generated hostile rosters: each is a roster or one RosterError, never another exception or a process warning", async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(w.message);
    process.on("warning", onWarning);
    const base = `customers:\n  - id: acme\n    name: Acme\n    tier: enterprise\n    license: { expires: "2099-12-31" }\n    github: { members: [wile-e] }\n  - id: globex\n    name: Globex\n    tier: standard\n    license:\n      expires: 2027-01-31\n`;
    let seed = 7;
    const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)];
    const pieces = [
      "&x ",
      "*x",
      "*nope",
      "!!binary ",
      "!!str ",
      "!!map ",
      "!custom ",
      "<<: *x\n",
      "? [a]\n",
      "[",
      "]",
      "{",
      "}",
      ": ",
      "- ",
      "\n",
      "\t",
      "  ",
      "'",
      '"',
      "#",
      "%YAML 1.1\n---\n",
      "---\n",
      "...\n",
      "\u0000",
      "\uFEFF",
      "🙂",
      "\\u",
      "~",
      "null",
      "0x1F",
      "1e400",
      ".nan",
      "2026-02-30",
      "a".repeat(500),
      "constructor",
      "__proto__",
      "id: acme\n",
      "customers:\n",
    ];
    let rosters = 0;
    for (let i = 0; i < 10_000; i++) {
      let text = base;
      for (let m = 1 + Math.floor(rnd() * 4); m > 0; m--) {
        const at = Math.floor(rnd() * (text.length + 1));
        const cut = rnd() < 0.3 ? Math.floor(rnd() * 10) : 0;
        text = text.slice(0, at) + pick(pieces) + text.slice(at + cut);
      }
      try {
        parseRoster(text, "fuzz.yaml");
        rosters++;
      } catch (e) {
        if (!(e instanceof RosterError)) throw new Error(`input ${JSON.stringify(text)} threw ${(e as Error).stack}`, { cause: e });
        for (const line of e.message.split("\n")) expect(line.length).toBeLessThan(600);
      }
    }
    await new Promise((r) => setImmediate(r));
    process.off("warning", onWarning);
    expect(warnings).toEqual([]);
    // Most mutations break the roster; a few leave it valid (an extra comment, a quote that fits).
    expect(rosters).toBeGreaterThan(5);
  }, 120_000);
});

describe("a roster file read again", () => {
  it("unchanged: the roster read before, read-only; changed (size or time): read anew", () => {
    const dir = tempDir("roster-cache-");
    const file = path.join(dir, "roster.yaml");
    const text = rosterYaml([customer("acme", "enterprise")]);
    writeFileSync(file, text);
    const first = loadRoster(file);
    expect(loadRoster(file)).toBe(first);
    expect(() => (first.customers as unknown[]).push({})).toThrow(TypeError);
    // Other options are another reading.
    expect(loadRoster(file, { prefix: { repoPrefix: "acme" } })).not.toBe(first);
    writeFileSync(file, rosterYaml([customer("acme", "enterprise"), customer("globex", "standard")]));
    const second = loadRoster(file);
    expect(second.customers.map((c) => c.id)).toEqual(["acme", "globex"]);
    // Same size, another time: read anew too.
    writeFileSync(file, text);
    utimesSync(file, new Date(Date.now() + 5000), new Date(Date.now() + 5000));
    expect(loadRoster(file).customers.map((c) => c.id)).toEqual(["acme"]);
  });
});
