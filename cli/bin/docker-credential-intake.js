#!/usr/bin/env node
// docker credential helper: "credHelpers": { "<registry host>": "intake" } in ~/.docker/config.json.
require("tsx/cjs");
const path = require("node:path");
const { credentialHelper } = require("../credential-helper.ts");
let input = "";
process.stdin.on("data", (d) => (input += d));
process.stdin.on("end", async () => {
  try {
    const r = await credentialHelper(process.argv[2] ?? "", input, process.env, path.resolve(__dirname, "..", ".."));
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    process.exit(r.code);
  } catch (e) {
    process.stderr.write(`docker-credential-intake: ${e && e.message ? e.message : e}\n`);
    process.exit(1);
  }
});
