// Which code the bins run: the compiled JavaScript in out/ when `npm run build` made it and no
// source file has changed since that build began; otherwise null, and the bin runs the sources
// through tsx (slower to start, never stale). INTAKE_RUN_SOURCES=1 runs the sources anyway.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

/** out/<rel>.js of the package at `root` when the build is current, else null. */
function compiledEntry(root, rel, env = process.env) {
  if (env.INTAKE_RUN_SOURCES === "1") return null;
  let stamp;
  try {
    stamp = JSON.parse(fs.readFileSync(path.join(root, "out", "build.json"), "utf8"));
  } catch {
    return null;
  }
  if (!Array.isArray(stamp.sources) || typeof stamp.startedAt !== "number") return null;
  for (const f of stamp.sources) {
    const st = fs.statSync(path.join(root, f), { throwIfNoEntry: false });
    if (!st || st.mtimeMs >= stamp.startedAt) return null;
  }
  const entry = path.join(root, "out", `${rel}.js`);
  return fs.existsSync(entry) ? entry : null;
}

module.exports = { compiledEntry };
