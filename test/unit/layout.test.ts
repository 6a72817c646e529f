import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "../..");

/**
 * The layers, lowest first. An import may point to its own layer or a lower one, never up:
 * core <- customers <- settings <- kinds' facts <- loaders <- components / runtime / policy
 * <- program <- planning <- automation <- service <- cli.
 * - core: primitives with no knowledge of a roster or a stack (ids, names' limits, errors, tiers, YAML positions, IAM documents);
 * - customers: the roster's schema and what an entry means (status, entitlements, shards), not how it is read;
 * - settings: the stack's settings, typed and checked;
 * - kinds' facts: what each registry kind is (kinds/index.ts, kinds/types.ts, kinds/<kind>/kind.ts);
 * - loaders: what needs every kind's facts: names, the roster and stack loaders, the license check.
 * These five are the Pulumi-free base.
 */
const LAYERS: [name: string, match: RegExp][] = [
  ["core", /^core\/(?!(naming|settings|stack|access)\.ts$)/],
  ["customers", /^customers\/(?!(roster|store)\.ts$)/],
  ["settings", /^core\/settings\.ts$/],
  ["kinds' facts", /^kinds\/(index|types)\.ts$|^kinds\/[^/]+\/kind\.ts$/],
  ["loaders", /^(core\/(naming|stack|access)|customers\/(roster|store))\.ts$/],
  ["parts", /^(components\/|runtime\/|policy\/|kinds\/)/],
  ["program", /^(program|stack-program|index)\.ts$/],
  ["planning", /^planning\//],
  ["automation", /^automation\//],
  ["service", /^service\//],
  ["cli", /^cli\//],
];
const BASE = new Set(["core", "customers", "settings", "kinds' facts", "loaders"]);

/** Folders that may use anything: they are not shipped code. */
const FREE = /^(test|testing|bench|scripts|tools)\//;

function layerOf(file: string): number {
  const i = LAYERS.findIndex(([, m]) => m.test(file));
  if (i < 0) throw new Error(`${file}: in no layer; add its folder to LAYERS in test/unit/layout.test.ts`);
  return i;
}

interface Edge {
  from: string;
  to: string;
  /** `import type`: erased at run time. */
  typeOnly: boolean;
  /** `import()` / `require()` inside a function: loaded on use. */
  lazy: boolean;
}

/** Every relative or package import of one source file. */
function importsOf(file: string, text: string): Edge[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const edges: Edge[] = [];
  const add = (spec: string, typeOnly: boolean, lazy: boolean) => {
    const to = spec.startsWith(".") ? resolve(file, spec) : spec;
    edges.push({ from: file, to, typeOnly, lazy });
  };
  const visit = (n: ts.Node) => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) add(n.moduleSpecifier.text, !!n.importClause?.isTypeOnly, false);
    else if (ts.isExportDeclaration(n) && n.moduleSpecifier && ts.isStringLiteral(n.moduleSpecifier)) add(n.moduleSpecifier.text, n.isTypeOnly, false);
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference) && ts.isStringLiteral(n.moduleReference.expression))
      add(n.moduleReference.expression.text, false, false);
    else if (ts.isCallExpression(n) && n.arguments.length === 1 && ts.isStringLiteral(n.arguments[0])) {
      const callee = n.expression;
      if (callee.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(callee) && callee.text === "require")) add(n.arguments[0].text, false, true);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return edges;
}

function resolve(from: string, spec: string): string {
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec.replace(/\.js$/, "")));
  return base.endsWith(".ts") || base.endsWith(".json") ? base : `${base}.ts`;
}

/** The project's own source files (as git knows them), by path. */
function sources(): Map<string, string> {
  const files = execFileSync("git", ["ls-files", "*.ts"], { cwd: ROOT, encoding: "utf8" }).split("\n").filter(Boolean);
  return new Map(files.map((f) => [f, readFileSync(path.join(ROOT, f), "utf8")]));
}

function graph(files: Map<string, string>): Edge[] {
  return [...files].filter(([f]) => !FREE.test(f)).flatMap(([f, text]) => importsOf(f, text));
}

/** Imports that point to a higher layer, as `from -> to (layer -> layer)`. */
function backEdges(files: Map<string, string>): string[] {
  return graph(files)
    .filter((e) => files.has(e.to) && !FREE.test(e.to))
    .filter((e) => layerOf(e.to) > layerOf(e.from))
    .map((e) => `${e.from} -> ${e.to} (${LAYERS[layerOf(e.from)][0]} -> ${LAYERS[layerOf(e.to)][0]})`);
}

/**
 * Import cycles among the given files (value, type and lazy imports alike), each as its files in
 * order, `a -> b -> a`: Tarjan's strongly connected components, then one cycle through each.
 */
function cycles(files: Map<string, string>, skip: RegExp = /^bench\//): string[] {
  const edges = new Map<string, string[]>();
  for (const [f, text] of files) {
    if (skip.test(f)) continue;
    edges.set(f, [
      ...new Set(
        importsOf(f, text)
          .map((e) => e.to)
          .filter((t) => files.has(t) && !skip.test(t)),
      ),
    ]);
  }
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[] = [];
  const connect = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v)!) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = new Set<string>();
    for (let w = ""; w !== v;) {
      w = stack.pop()!;
      component.add(w);
      onStack.delete(w);
    }
    const self = edges.get(v)!.includes(v);
    if (component.size < 2 && !self) return;
    // One cycle through the component: from its first file (by name), the shortest way back.
    const start = [...component].sort()[0];
    const back = new Map<string, string>([[start, ""]]);
    const queue = [start];
    let end = "";
    while (queue.length && !end) {
      const f = queue.shift()!;
      for (const t of edges.get(f)!.filter((x) => component.has(x))) {
        if (t === start) {
          end = f;
          break;
        }
        if (!back.has(t)) {
          back.set(t, f);
          queue.push(t);
        }
      }
    }
    const path = [start];
    for (let f = end; f !== start; f = back.get(f)!) path.splice(1, 0, f);
    found.push([...path, start].join(" -> "));
  };
  for (const f of edges.keys()) if (!index.has(f)) connect(f);
  return found.sort();
}

/** Functions (declarations, methods, arrows, expressions) of more than `max` lines, as `file:line name (n lines)`. */
function longFunctions(file: string, text: string, max: number): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS);
  const out: string[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isFunctionDeclaration(n) || ts.isMethodDeclaration(n) || ts.isArrowFunction(n) || ts.isFunctionExpression(n) || ts.isConstructorDeclaration(n)) {
      const from = sf.getLineAndCharacterOfPosition(n.getStart(sf)).line;
      const lines = sf.getLineAndCharacterOfPosition(n.getEnd()).line - from + 1;
      const name = (n as { name?: ts.Node }).name?.getText(sf) ?? (ts.isVariableDeclaration(n.parent) ? n.parent.name.getText(sf) : "(anonymous)");
      if (lines > max) out.push(`${file}:${from + 1} ${name} (${lines} lines)`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** Every file `entry` loads when it starts (static, non-type imports, transitively), and the packages among them. */
function loadedAtStart(files: Map<string, string>, entry: string): { files: Set<string>; packages: Set<string> } {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const todo = [entry];
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const e of importsOf(f, files.get(f) ?? "")) {
      if (e.typeOnly || e.lazy) continue;
      if (files.has(e.to)) todo.push(e.to);
      else if (!e.to.startsWith(".") && !e.to.includes(".ts")) packages.add(e.to);
    }
  }
  return { files: seen, packages };
}

describe("layout: imports point one way", () => {
  const files = sources();

  it("no shipped file imports a higher layer", () => {
    expect(backEdges(files)).toEqual([]);
  });

  it("no shipped file imports what is never shipped: tests, benchmarks, scripts, tools", () => {
    const into = graph(files).filter((e) => files.has(e.to) && FREE.test(e.to));
    expect(into.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
    const planted = new Map(files).set(
      "planning/plan.ts",
      `import { LocalProvider } from "../tools/providers/local-provider";\n${files.get("planning/plan.ts")}`,
    );
    expect(
      graph(planted)
        .filter((e) => planted.has(e.to) && FREE.test(e.to))
        .map((e) => `${e.from} -> ${e.to}`),
    ).toEqual(["planning/plan.ts -> tools/providers/local-provider.ts"]);
  });

  it("no import cycle outside bench/, by value, type or lazy import, tests included", () => {
    expect(cycles(files)).toEqual([]);
  });

  it("a planted cycle is caught, a type import's too", () => {
    const planted = new Map(files);
    planted.set("core/ids.ts", `import type { Settings } from "./settings";\n${files.get("core/ids.ts")}`);
    expect(cycles(planted)).toEqual(["core/ids.ts -> core/settings.ts -> core/ids.ts"]);
  });

  it("a planted back-edge is caught: the settings importing the program, the roster schema the names, a kind's facts its component", () => {
    const planted = new Map(files);
    planted.set("core/settings.ts", `import { program } from "../program";\n${files.get("core/settings.ts")}`);
    planted.set("kinds/ecr/kind.ts", `import type { EcrNamespace } from "./component";\n${files.get("kinds/ecr/kind.ts")}`);
    // Inside the base too: the roster's schema asking the names every kind gives (a loader's job).
    planted.set("customers/schema.ts", `import { nameProblems } from "../core/naming";\n${files.get("customers/schema.ts")}`);
    expect(backEdges(planted)).toEqual([
      "core/settings.ts -> program.ts (settings -> program)",
      "customers/schema.ts -> core/naming.ts (customers -> loaders)",
      "kinds/ecr/kind.ts -> kinds/ecr/component.ts (kinds' facts -> parts)",
    ]);
  });

  it("the Pulumi-free base loads no Pulumi package, even by a type", () => {
    const pulumi = graph(files).filter((e) => BASE.has(LAYERS[layerOf(e.from)][0]) && e.to.startsWith("@pulumi/"));
    expect(pulumi.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it("the credential helper and `intake token` start without the Pulumi SDK or any component", () => {
    for (const entry of ["cli/credential-helper.ts", "cli/commands/token.ts"]) {
      const { files: loaded, packages } = loadedAtStart(files, entry);
      expect(
        [...packages].filter((p) => p.startsWith("@pulumi/")),
        entry,
      ).toEqual([]);
      expect(
        [...loaded].filter((f) => /^(components\/|kinds\/[^/]+\/component\.ts|program\.ts)/.test(f)),
        entry,
      ).toEqual([]);
    }
  });

  it("every kind is one folder: facts, component and minting, and nothing outside kinds/ names a kind's component", () => {
    const kinds = [...files.keys()].filter((f) => /^kinds\/[^/]+\/kind\.ts$/.test(f)).map((f) => f.split("/")[1]);
    expect(kinds.sort()).toEqual(["acr", "distribution", "ecr", "gar", "ghcr"]);
    for (const k of kinds) {
      expect(files.has(`kinds/${k}/component.ts`), k).toBe(true);
      expect(files.has(`kinds/${k}/mint.ts`), k).toBe(true);
    }
    const outside = graph(files).filter((e) => !e.from.startsWith("kinds/") && /^kinds\/[^/]+\/component\.ts$/.test(e.to));
    expect(outside.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });
});

describe("functions a reader can hold", () => {
  const files = sources();

  it("no function in runtime/ or planning/ is over 120 lines; deliver() is at most 80", () => {
    const long = [...files].filter(([f]) => /^(runtime|planning)\//.test(f)).flatMap(([f, text]) => longFunctions(f, text, 120));
    expect(long).toEqual([]);
    expect(longFunctions("runtime/delivery/deliver.ts", files.get("runtime/delivery/deliver.ts")!, 80)).toEqual([]);
  });

  it("a planted long function is counted, an arrow's by the name it is given", () => {
    const body = Array.from({ length: 121 }, (_, i) => `  const x${i} = ${i};`).join("\n");
    expect(longFunctions("runtime/x.ts", `export const f = () => {\n${body}\n};\n`, 120)).toEqual(["runtime/x.ts:1 f (123 lines)"]);
  });
});
