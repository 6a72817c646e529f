import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const made: string[] = [];

/** A fresh folder under the temp folder, removed when its test file ends (testing/setup.ts). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * A fresh path under the temp folder for something a test may create there (a cache folder made
 * on first use), removed like tempDir's folders. Nothing is made now: a file whose tests are all
 * skipped (its afterAll hooks then never run) leaves nothing behind.
 */
export function tempPath(prefix: string): string {
  const p = path.join(tmpdir(), `${prefix}${randomBytes(6).toString("hex")}`);
  made.push(p);
  return p;
}

/** Remove every folder tempDir made in this test file (keys, docker configs, registry data). */
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
