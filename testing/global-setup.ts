import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

/**
 * The whole run (every test file, every process it starts: registries, skopeo, the Pulumi engine)
 * gets its own temp folder, and the run fails if anything is left in it at the end: keys, docker
 * configs, registry data and scratch projects must all be removed by the tests that made them.
 */
export default function setup(): () => void {
  const dir = mkdtempSync(path.join(tmpdir(), "intake-test-run-"));
  process.env.TMPDIR = dir;
  return () => {
    // The TypeScript runners' compile caches (tsx's, and the ts-node the engine's language host
    // uses) hold compiled project code only: removed with the folder, not counted.
    const left = readdirSync(dir).filter((f) => !/^(tsx-\d+|ts-node-[0-9a-f]{64})$/.test(f));
    rmSync(dir, { recursive: true, force: true });
    if (left.length > 0) {
      // An error thrown here is printed but does not fail the run: set the exit code.
      console.error(`FAIL: the test run left ${left.length} entr${left.length === 1 ? "y" : "ies"} in the temp folder: ${left.slice(0, 20).join(", ")}`);
      process.exitCode = 1;
    }
  };
}
