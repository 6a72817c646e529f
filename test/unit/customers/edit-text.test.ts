// Roster edits change the file only where they change it (customers/edit-text.ts): a one-customer
// change diffs as that customer alone, whatever the rest of the file looks like.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, parseDocument, stringify, visit, type Document } from "yaml";
import { rosterEntries } from "../../../testing/roster-gen";
import { editedText } from "../../../customers/edit-text";
import { addNewCustomer, setCustomerField } from "../../../customers/store";

const ROOT = path.resolve(__dirname, "../../..");
const DEFAULT = readFileSync(path.join(ROOT, "customers/roster.yaml"), "utf8");

/** The lines of `after` that are not in `before`, and those of `before` that are not in `after` (a line diff by position of the common prefix and suffix). */
function changedLines(before: string, after: string): { removed: string[]; added: string[] } {
  const a = before.split("\n");
  const b = after.split("\n");
  let head = 0;
  while (head < a.length && head < b.length && a[head] === b[head]) head++;
  let tail = 0;
  while (tail < a.length - head && tail < b.length - head && a[a.length - 1 - tail] === b[b.length - 1 - tail]) tail++;
  return { removed: a.slice(head, a.length - tail), added: b.slice(head, b.length - tail) };
}

/** Every map inside an entry (license, github, ...) written as a flow map, as people write `{ expires: … }`. */
function flowInside(text: string): string {
  const doc = parseDocument(text);
  visit(doc, {
    Map(_, map, path) {
      if (path.length > 4) map.flow = true;
    },
  });
  return doc.toString();
}

/** What the edit makes of the document, as data: what the text must parse to. */
function expected(text: string, edit: (d: Document) => void): unknown {
  const doc = parseDocument(text);
  edit(doc);
  return doc.toJS();
}

describe("roster edits keep the file as written outside the change", () => {
  it("onboarding appends exactly the new entry, separated as the others, lists on one line", () => {
    const entry = {
      id: "newco",
      name: "NewCo",
      tier: "professional",
      registries: ["ecr", "acr"],
      license: { expires: "2027-01-01" },
      github: { members: ["ann", "bob"] },
    };
    const edit = addNewCustomer("roster.yaml", entry);
    const out = editedText(DEFAULT, edit);
    expect(out.startsWith(DEFAULT)).toBe(true);
    expect(out.slice(DEFAULT.length)).toBe(
      [
        "",
        "  - id: newco",
        "    name: NewCo",
        "    tier: professional",
        "    registries: [ecr, acr]",
        "    license:",
        "      expires: 2027-01-01",
        "    github:",
        "      members: [ann, bob]",
        "",
      ].join("\n"),
    );
    expect(parse(out)).toEqual(expected(DEFAULT, edit));
  });

  it("a changed value is replaced in place, its comment kept in its column; a flow map stays as written", () => {
    const status = editedText(DEFAULT, setCustomerField("roster.yaml", "umbrella", "status", "active"));
    expect(changedLines(DEFAULT, status)).toEqual({
      removed: ["    status: suspended           # unpaid invoice: keep everything, disable credentials"],
      added: ["    status: active              # unpaid invoice: keep everything, disable credentials"],
    });
    const expires = editedText(DEFAULT, setCustomerField("roster.yaml", "globex", ["license", "expires"], "2028-01-31"));
    expect(changedLines(DEFAULT, expires)).toEqual({ removed: ["    license: { expires: 2027-03-31 }"], added: ["    license: { expires: 2028-01-31 }"] });
  });

  it("a key added to an entry (offboarding's status, a rotation's credentials) is inserted after its last key, nothing else moves", () => {
    const off = editedText(DEFAULT, setCustomerField("roster.yaml", "initech", "status", "offboarded"));
    expect(changedLines(DEFAULT, off)).toEqual({ removed: [], added: ["    status: offboarded"] });
    const rotate = setCustomerField("roster.yaml", "acme", ["credentials", "ecr"], { generation: 2, previousUntil: "2026-12-10" });
    const rotated = editedText(DEFAULT, rotate);
    expect(changedLines(DEFAULT, rotated)).toEqual({
      removed: [],
      added: ["    credentials:", "      ecr:", "        generation: 2", "        previousUntil: 2026-12-10"],
    });
    expect(parse(rotated)).toEqual(expected(DEFAULT, rotate));
  });

  it("an edit it cannot splice (a removed or reordered entry, a change outside the list) gives yaml's whole document, still right", () => {
    const remove = (d: Document) => void (d.get("customers") as { delete(i: number): void }).delete(1);
    expect(parse(editedText(DEFAULT, remove))).toEqual(expected(DEFAULT, remove));
    const outside = (d: Document) => void d.set("note", "x");
    expect(parse(editedText(DEFAULT, outside))).toEqual(expected(DEFAULT, outside));
    const empty = "customers: []\n";
    const add = addNewCustomer("r", { id: "a", name: "A", tier: "standard", license: { expires: "2030-01-01" } });
    expect(parse(editedText(empty, add))).toEqual(expected(empty, add));
  });

  it("forms it must not break: two keys added at one place, empty and block values, flow-map values, anchors, a wider dash", () => {
    const cases: [string, string, (d: Document) => void][] = [
      [
        "a rotation of all kinds (a key into ecr and acr beside it, at one offset)",
        "customers:\n  - id: a\n    credentials:\n      ecr:\n        generation: 3\n",
        (d) => {
          setCustomerField("r", "a", ["credentials", "ecr", "previousUntil"], "2026-12-10")(d);
          setCustomerField("r", "a", ["credentials", "acr"], { generation: 2 })(d);
        },
      ],
      ["an empty value", "customers:\n  - id: a\n    status:\n    name: A\n", setCustomerField("r", "a", "status", "offboarded")],
      ["an empty value with a comment", "customers:\n  - id: a\n    status:   # x\n    name: A\n", setCustomerField("r", "a", "status", "offboarded")],
      ["a block scalar", "customers:\n  - id: a\n    name: |\n      two\n      lines\n    tier: standard\n", setCustomerField("r", "a", "name", "one")],
      ["a value with a comma in a flow map", "customers:\n  - { id: a, name: A }\n", setCustomerField("r", "a", "name", "Acme, Inc.")],
      [
        "an anchored value",
        "customers:\n  - id: a\n    tier: &pro professional\n  - id: b\n    tier: *pro\n",
        setCustomerField("r", "a", "tier", "enterprise"),
      ],
      ["an anchored entry with a comment above", "customers:\n  # the first\n  - &first\n    id: a\n    name: A\n", setCustomerField("r", "a", "name", "B")],
      [
        "a wider dash",
        "customers:\n-   id: a\n    name: A\n",
        addNewCustomer("r", { id: "b", name: "B", tier: "standard", license: { expires: "2030-01-01" } }),
      ],
      [
        "no newline at the end",
        "customers:\n  - id: a\n    name: A",
        addNewCustomer("r", { id: "b", name: "B", tier: "standard", license: { expires: "2030-01-01" } }),
      ],
    ];
    for (const [what, text, edit] of cases) {
      const out = editedText(text, edit);
      expect(parseDocument(out).errors, what).toEqual([]);
      expect(parse(out), what).toEqual(expected(text, edit));
    }
    // A comment above an entry is not written twice.
    const commented = "customers:\n  # the first\n  - id: a\n    tags: [x]\n";
    expect(editedText(commented, setCustomerField("r", "a", "tags", ["x", "y"])).match(/# the first/g)).toHaveLength(1);
  });

  it("gives the document the edit made, for 300 random edits of a generated roster (values, nested keys, new keys, new entries)", () => {
    let seed = 29;
    const rand = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    // The generated roster in three styles: yaml's own, with flow maps, with comments after values.
    const entries = rosterEntries(40);
    const styles = [
      stringify({ customers: entries }),
      flowInside(stringify({ customers: entries })),
      stringify({ customers: entries }).replace(/^( +tier: \S+)$/gm, "$1   # the tier"),
    ];
    let spliced = 0;
    for (let i = 0; i < 300; i++) {
      const text = styles[i % styles.length];
      const doc = parseDocument(text);
      const ids = (doc.toJS() as { customers: { id: string }[] }).customers.map((c) => c.id);
      const id = ids[rand(ids.length)];
      const edits = [
        setCustomerField("r", id, "status", ["active", "suspended", "offboarded"][rand(3)]),
        setCustomerField("r", id, ["license", "expires"], `20${30 + rand(60)}-0${1 + rand(9)}-1${rand(10)}`),
        setCustomerField("r", id, ["credentials", ["ecr", "acr", "gar"][rand(3)]], { generation: 1 + rand(5) }),
        setCustomerField("r", id, "name", `Name "${rand(1000)}": with # and quotes`),
        addNewCustomer("r", { id: `new-${i}`, name: `New ${i}`, tier: "standard", license: { expires: "2031-01-01" }, github: { members: [`m${i}`] } }),
      ];
      const edit = edits[rand(edits.length)];
      const out = editedText(text, edit);
      expect(parse(out), `edit ${i} of style ${i % styles.length}`).toEqual(expected(text, edit));
      const rewrite = parseDocument(text);
      edit(rewrite);
      if (out !== rewrite.toString({ flowCollectionPadding: false })) spliced++;
    }
    // Most edits were spliced, not yaml's whole rewrite (which would move the comments and pad the flow maps).
    expect(spliced).toBeGreaterThan(150);
  });
});
