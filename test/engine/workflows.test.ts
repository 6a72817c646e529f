// The CI workflows under actionlint (built by scripts/engine.sh): expressions, contexts, shell.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { engineBinDir, engineUnavailable, ROOT } from "../../testing/engine";

const unavailable = engineUnavailable();
if (unavailable) console.log(`skipping actionlint: ${unavailable}`);

describe.skipIf(!!unavailable)(".github/workflows", () => {
  it("passes actionlint", () => {
    const dir = path.join(ROOT, ".github/workflows");
    const files = readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) => path.join(dir, f));
    expect(files.length).toBeGreaterThan(0);
    const r = spawnSync(path.join(engineBinDir(), "actionlint"), ["-no-color", ...files], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });
});
