import { existsSync } from "node:fs";
import * as path from "node:path";

/**
 * This package's folder (the one holding its package.json): above this file both when it runs
 * from source and when it runs compiled from out/.
 */
export const PACKAGE_ROOT = (() => {
  for (let dir = path.resolve(__dirname, ".."); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "package.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
})();
