#!/usr/bin/env node
// `npm run build` (and npm ci's prepare): type-checks every TypeScript file of tsconfig.json and
// compiles them to out/ (git-ignored), then writes out/build.json, the sources and the time the
// build started. The bins run out/ while no source is newer than that; otherwise they run the
// sources through tsx, so a stale build is never run.
"use strict";
const { spawnSync } = require("node:child_process");
const fs = require("node:fs");
const path = require("node:path");

const ROOT = path.resolve(__dirname, "..");
const OUT = path.join(ROOT, "out");
const STAMP = path.join(OUT, "build.json");

let tsc;
try {
  tsc = require.resolve("typescript/bin/tsc", { paths: [ROOT] });
} catch {
  console.error("build: typescript is not installed (npm ci installs it); the bins will run the sources through tsx");
  process.exit(0);
}
// Files saved from here on are newer than the build.
const startedAt = Date.now();
fs.rmSync(STAMP, { force: true });
const r = spawnSync(process.execPath, [tsc, "-p", path.join(ROOT, "tsconfig.build.json")], { cwd: ROOT, stdio: "inherit" });
if (r.status !== 0) {
  console.error(`build: tsc failed (exit ${r.status ?? r.signal}); out/ is not used until a build passes`);
  process.exit(r.status || 1);
}
fs.writeFileSync(STAMP, JSON.stringify({ startedAt, sources: sources() }) + "\n");

/** The TypeScript files tsc compiled (tsconfig.json's include), relative to the package. */
function sources() {
  const { include } = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"));
  const found = [];
  const walk = (rel) => {
    const abs = path.join(ROOT, rel);
    const st = fs.statSync(abs, { throwIfNoEntry: false });
    if (!st) return;
    if (st.isFile()) {
      if (/\.m?ts$/.test(rel) && !rel.endsWith(".d.ts")) found.push(rel);
      return;
    }
    for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
      if (e.name === "node_modules" || e.name.startsWith(".")) continue;
      if (e.isDirectory() || e.isFile()) walk(path.join(rel, e.name));
    }
  };
  // Tests and benchmarks are compiled (and so type-checked) too, but the bins never load them.
  for (const pattern of include.filter((p) => p !== "test" && p !== "bench")) {
    if (pattern.includes("*")) {
      const ext = pattern.replace(/^\*/, "");
      for (const f of fs.readdirSync(ROOT)) if (f.endsWith(ext) && !f.endsWith(".d.ts")) found.push(f);
    } else walk(pattern);
  }
  return [...new Set(found)].sort();
}
