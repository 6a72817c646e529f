// A sixth registry kind, planted in a copy of the project: its folder under kinds/, a line in each
// of the kinds' tables and its name in the tier table compile, and nothing else had to change.
// The compiler is the judge: every place that must know each kind is a table typed over them.
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { tempDir } from "../../../testing/tmp";

const ROOT = path.resolve(__dirname, "../../..");

/** The planted kind: a self-hosted registry whose customers get a path and nothing declared. */
const ZOT: Record<string, string> = {
  "kinds/zot/kind.ts": `import type { KindFacts } from "../types";

export interface ZotNames {
  zotPathPrefix: string;
}

export const zot: KindFacts<ZotNames> = {
  kind: "zot",
  names: (id, p) => ({ zotPathPrefix: \`\${p}/\${id}/\` }),
  nameRules: [],
  host: () => "zot.example.com",
  path: (n) => n.zotPathPrefix,
  resources: [],
  owners: [],
  deletes: () => ({ may: false, why: "a zot robot pulls and pushes only" }),
};
`,
  "kinds/zot/component.ts": `import type { KindBuilder } from "../../components/kind";

export const build: KindBuilder = () => ({});
`,
  "kinds/zot/mint.ts": `import { MissingCredential, type Minter } from "../../runtime/mint/types";

export const mint: Minter = async () => {
  throw new MissingCredential("zot: no credential source in this copy");
};
`,
  "kinds/zot/fake.ts": `import type { KindFake } from "../fake";

export const zotFake: KindFake = { makers: {} };
`,
};

/** The lines the tables gain: [file, text replaced, replacement]. */
const TABLES: [string, string, string][] = [
  [
    "kinds/index.ts",
    'import { ghcr, type GhcrNames } from "./ghcr/kind";',
    'import { ghcr, type GhcrNames } from "./ghcr/kind";\nimport { zot, type ZotNames } from "./zot/kind";',
  ],
  ["kinds/index.ts", "= { ecr, acr, gar, ghcr, distribution };", "= { ecr, acr, gar, ghcr, distribution, zot };"],
  ["kinds/index.ts", "& GhcrNames & DistributionNames;", "& GhcrNames & DistributionNames & ZotNames;"],
  [
    "kinds/components.ts",
    'import { build as ghcr } from "./ghcr/component";',
    'import { build as ghcr } from "./ghcr/component";\nimport { build as zot } from "./zot/component";',
  ],
  ["kinds/components.ts", "= { ecr, acr, gar, ghcr, distribution };", "= { ecr, acr, gar, ghcr, distribution, zot };"],
  ["kinds/fakes.ts", "distribution: distributionFake };", 'distribution: distributionFake, zot: zotFake };\nimport { zotFake } from "./zot/fake";'],
  [
    "kinds/minters.ts",
    'distribution: async () => (await import("./distribution/mint.js")).mint,',
    'distribution: async () => (await import("./distribution/mint.js")).mint,\n  zot: async () => (await import("./zot/mint.js")).mint,',
  ],
  [
    "core/tiers.ts",
    'export const REGISTRY_KINDS = ["ghcr", "ecr", "acr", "gar", "distribution"] as const;',
    'export const REGISTRY_KINDS = ["ghcr", "ecr", "acr", "gar", "distribution", "zot"] as const;',
  ],
];

describe("a sixth registry kind", () => {
  it("is its folder in kinds/, a line in each kinds/ table and its name in core/tiers.ts: the shipped code compiles with nothing else changed", () => {
    const copy = tempDir("sixth-kind-");
    const tracked = execFileSync("git", ["ls-files", "*.ts", "*.mts", "tsconfig.json", "package.json"], { cwd: ROOT, encoding: "utf8" })
      .split("\n")
      .filter(Boolean);
    for (const f of tracked) {
      mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
      copyFileSync(path.join(ROOT, f), path.join(copy, f));
    }
    symlinkSync(path.join(ROOT, "node_modules"), path.join(copy, "node_modules"), "dir");
    for (const [f, text] of Object.entries(ZOT)) {
      mkdirSync(path.dirname(path.join(copy, f)), { recursive: true });
      writeFileSync(path.join(copy, f), text);
    }
    for (const [f, from, to] of TABLES) {
      const text = readFileSync(path.join(copy, f), "utf8");
      expect(text.includes(from), `${f} no longer holds: ${from}`).toBe(true);
      writeFileSync(path.join(copy, f), text.replace(from, to));
    }
    const changed = [...Object.keys(ZOT), ...new Set(TABLES.map(([f]) => f))].sort();
    expect(changed.filter((f) => !f.startsWith("kinds/") && f !== "core/tiers.ts")).toEqual([]);
    const tsc = spawnSync(process.execPath, [require.resolve("typescript/bin/tsc", { paths: [ROOT] }), "--noEmit", "-p", path.join(copy, "tsconfig.json")], {
      cwd: copy,
      encoding: "utf8",
      timeout: 300_000,
      // tsc keeps a compile cache in the temp folder unless told not to: nothing is left behind.
      env: { ...process.env, NODE_DISABLE_COMPILE_CACHE: "1" },
    });
    // What failed to compile names the files a new kind would also have to change. A test that
    // covers each kind by a table of its own asks for the new one's case too, rightly.
    const files = [...new Set([...tsc.stdout.matchAll(/^([^(\n]+)\(\d+,\d+\): error/gm)].map((m) => m[1]))];
    expect(files.filter((f) => !f.startsWith("test/"))).toEqual([]);
    expect(files).toEqual(["test/unit/policy/policy.test.ts"]);
  }, 360_000);
});
