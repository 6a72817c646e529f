#!/usr/bin/env node
// docker credential helper: "credHelpers": { "<registry host>": "intake" } in ~/.docker/config.json.
// The AWS SDK warns on every client that its releases after January 2027 need Node 22: the
// lockfile pins this one, and the warning would sit in every token's output. Set it to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
require("tsx/cjs");
const path = require("node:path");
const { credentialHelper } = require("../credential-helper.ts");
const version = require("../../package.json").version;
const action = process.argv[2] ?? "";

async function answer(input) {
  try {
    const r = await credentialHelper(action, input, process.env, path.resolve(__dirname, "..", ".."), version);
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    process.exit(r.code);
  } catch (e) {
    process.stderr.write(`docker-credential-intake: ${e && e.message ? e.message : e}\n`);
    process.exit(4);
  }
}

// Only get reads the server URL from stdin; the other actions answer at once.
if (action !== "get") answer("");
else {
  let input = "";
  process.stdin.on("data", (d) => (input += d));
  process.stdin.on("end", () => answer(input));
}
