#!/usr/bin/env node
// docker credential helper: "credHelpers": { "<registry host>": "intake" } in ~/.docker/config.json.
// Runs the compiled JavaScript of `npm run build` while it is current, else the sources through tsx.
const path = require("node:path");
const root = path.resolve(__dirname, "..", "..");
const built = require("./compiled.js").compiledEntry(root, "cli/credential-helper");
const action = process.argv[2] ?? "";

async function answer(input) {
  try {
    const { credentialHelper } = built ? require(built) : await import("tsx").then(() => require("../credential-helper.ts"));
    const version = require("../../package.json").version;
    const r = await credentialHelper(action, input, process.env, root, version);
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    process.exitCode = r.code;
  } catch (e) {
    process.stderr.write(`docker-credential-intake: ${e && e.message ? e.message : e}\n`);
    process.exitCode = 4;
  }
}

// Only get reads the server URL from stdin; the other actions answer at once.
if (action !== "get") answer("");
else {
  let input = "";
  process.stdin.on("data", (d) => (input += d));
  process.stdin.on("end", () => answer(input));
}
