import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { loadStackContext } from "../../../core/stack";
import { REGISTRY_KINDS, type RegistryKind } from "../../../core/tiers";
import { KINDS } from "../../../kinds";
import { FAKES } from "../../../kinds/fakes";
import { MAKERS } from "../../../planning/fake-cloud";
import { planProgram } from "../../../planning/plan";

const ROOT = path.resolve(__dirname, "../../..");

/** Every resource type token some kind's descriptor declares. */
const TOKENS = Object.values(KINDS).flatMap((k) => k.resources.map((r) => r.type));

/** String literals (and template pieces) of one source text that are, or start with, a declared token. */
function tokensNamed(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, false, ts.ScriptKind.TS);
  const found: string[] = [];
  const visit = (n: ts.Node) => {
    if (ts.isStringLiteralLike(n) || ts.isTemplateHead(n) || ts.isTemplateMiddle(n) || ts.isTemplateTail(n)) {
      // The token itself, or followed by more than a name goes on with (`::name`, `$child`).
      const t = TOKENS.find((token) => n.text.startsWith(token) && !/^[\w.]/.test(n.text.slice(token.length)));
      if (t) found.push(`${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}: ${t}`);
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return found;
}

describe("the kind descriptor is the one place a kind's resource types are named", () => {
  it("no source file outside kinds/ and the tests and benchmarks (test/, testing/, bench/) names a resource type a kind declares", () => {
    const files = execFileSync("git", ["ls-files", "*.ts"], { cwd: ROOT, encoding: "utf8" })
      .split("\n")
      .filter((f) => f && !/^(kinds|test|testing|bench)\//.test(f));
    expect(files.length).toBeGreaterThan(50);
    expect(files.flatMap((f) => tokensNamed(f, readFileSync(path.join(ROOT, f), "utf8")))).toEqual([]);
  });

  it("a planted token is caught, as a literal, a prefix of one and a template's head", () => {
    const planted = [
      'const t = "aws:iam/user:User";',
      "if (r.type === 'azure-native:containerregistry:Token') disable(r);",
      'const urn = "github:index/team:Team::acme";',
      'const other = "aws:iam/user:Users";',
      "const k = `random:index/randomPassword:RandomPassword::${name}`;",
      "// a comment naming gcp:serviceaccount/key:Key is no literal",
    ].join("\n");
    expect(tokensNamed("policy/planted.ts", planted)).toEqual([
      "policy/planted.ts:1: aws:iam/user:User",
      "policy/planted.ts:2: azure-native:containerregistry:Token",
      "policy/planted.ts:3: github:index/team:Team",
      "policy/planted.ts:5: random:index/randomPassword:RandomPassword",
    ]);
  });

  it("no type is declared by two kinds, nor twice by one", () => {
    expect(TOKENS.length).toBe(new Set(TOKENS).size);
  });
});

describe("each descriptor matches what its kind declares", () => {
  // The production stack (KMS, replication, a Premium registry with a replica, the registry on
  // Kubernetes), with service-account keys: every type a kind can declare shows.
  const prod = loadStackContext({ projectDir: ROOT, stack: "prod" });
  const settings = { ...prod.settings, gar: { ...prod.settings.gar!, serviceAccountKeys: true }, deliveries: [] };

  /**
   * The custom resource types the program declares with only `kind` enabled: its customers' part
   * and its platform part (`own`), and the pull secrets' (registry-intake:kubernetes:PullSecrets),
   * which are every kind's.
   */
  async function declaredTypes(kind: RegistryKind): Promise<{ own: string[]; pullSecrets: string[] }> {
    const plan = await planProgram({ ...settings, enabledKinds: [kind] }, prod.roster);
    const custom = plan.resources.filter((r) => r.custom);
    const types = (rs: typeof custom) => [...new Set(rs.map((r) => r.type))].sort();
    const shared = (r: (typeof custom)[number]) => r.urn.includes("registry-intake:kubernetes:PullSecrets$");
    return { own: types(custom.filter((r) => !shared(r))), pullSecrets: types(custom.filter(shared)) };
  }

  it("every type a kind's component and platform part declare is in that kind's descriptor, and each one it lists shows", async () => {
    const declared = new Map<RegistryKind, { own: string[]; pullSecrets: string[] }>();
    for (const kind of REGISTRY_KINDS) declared.set(kind, await declaredTypes(kind));
    // A type the pull secrets declare too (a Kubernetes Secret) is no one kind's.
    const shared = new Set([...declared.values()].flatMap((d) => d.pullSecrets));
    expect(shared.size).toBeGreaterThan(0);
    for (const kind of REGISTRY_KINDS) {
      const listed = KINDS[kind].resources.map((r) => r.type).sort();
      const own = declared.get(kind)!.own.filter((t) => !shared.has(t) || listed.includes(t));
      expect(own, `${kind}: the types its parts declare, and its descriptor's`).toEqual(listed);
    }
  }, 60_000);

  it("the fake cloud has a maker for every type a kind declares, in that kind's fake.ts", () => {
    for (const kind of REGISTRY_KINDS) {
      for (const r of KINDS[kind].resources) {
        expect(FAKES[kind].makers[r.type], `${kind}: ${r.type}`).toBeTypeOf("function");
        expect(MAKERS[r.type], r.type).toBe(FAKES[kind].makers[r.type]);
      }
      expect(
        Object.keys(FAKES[kind].makers).filter((t) => !KINDS[kind].resources.some((r) => r.type === t)),
        `${kind}'s fake makes types its descriptor does not list`,
      ).toEqual([]);
    }
  });
});
