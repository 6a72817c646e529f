import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(__dirname, "..");

/**
 * The layers, lowest first. An import may point to its own layer or a lower one, never up:
 * core <- components / runtime / policy <- program <- planning <- automation <- service <- cli.
 * A kind's facts (kinds/<kind>/kind.ts) are part of the Pulumi-free base; its component, minting
 * and platform part are parts like components/ and runtime/.
 */
const LAYERS: [name: string, match: RegExp][] = [
  ["base", /^(core\/|customers\/|kinds\/(index|types)\.ts$|kinds\/[^/]+\/kind\.ts$)/],
  ["parts", /^(components\/|runtime\/|policy\/|kinds\/)/],
  ["program", /^(program|stack-program|index)\.ts$/],
  ["planning", /^planning\//],
  ["automation", /^(automation|providers)\//],
  ["service", /^service\//],
  ["cli", /^cli\//],
];

/** Folders that may use anything: they are not shipped code. */
const FREE = /^(test|bench|scripts)\//;

function layerOf(file: string): number {
  const i = LAYERS.findIndex(([, m]) => m.test(file));
  if (i < 0) throw new Error(`${file}: in no layer; add its folder to LAYERS in test/layout.test.ts`);
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
    else if (ts.isImportEqualsDeclaration(n) && ts.isExternalModuleReference(n.moduleReference) && ts.isStringLiteral(n.moduleReference.expression)) add(n.moduleReference.expression.text, false, false);
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

  it("a planted back-edge is caught: core importing the program, a kind's facts importing its component", () => {
    const planted = new Map(files);
    planted.set("core/settings.ts", `import { program } from "../program";\n${files.get("core/settings.ts")}`);
    planted.set("kinds/ecr/kind.ts", `import type { EcrNamespace } from "./component";\n${files.get("kinds/ecr/kind.ts")}`);
    expect(backEdges(planted)).toEqual([
      "core/settings.ts -> program.ts (base -> program)",
      "kinds/ecr/kind.ts -> kinds/ecr/component.ts (base -> parts)",
    ]);
  });

  it("the Pulumi-free base loads no Pulumi package, even by a type", () => {
    const pulumi = graph(files).filter((e) => LAYERS[layerOf(e.from)][0] === "base" && e.to.startsWith("@pulumi/"));
    expect(pulumi.map((e) => `${e.from} -> ${e.to}`)).toEqual([]);
  });

  it("the credential helper and `intake token` start without the Pulumi SDK or any component", () => {
    for (const entry of ["cli/credential-helper.ts", "cli/commands/token.ts"]) {
      const { files: loaded, packages } = loadedAtStart(files, entry);
      expect([...packages].filter((p) => p.startsWith("@pulumi/")), entry).toEqual([]);
      expect([...loaded].filter((f) => /^(components\/|kinds\/[^/]+\/component\.ts|program\.ts)/.test(f)), entry).toEqual([]);
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
