#!/usr/bin/env node
// The `intake` command: the compiled JavaScript of `npm run build` (npm ci runs it) while it is
// current, else the TypeScript sources through tsx (see compiled.js).
const path = require("node:path");
const built = require("./compiled.js").compiledEntry(path.resolve(__dirname, "..", ".."), "cli/main");
(built ? Promise.resolve(require(built)) : import("tsx").then(() => require("../main.ts")))
  .then((m) => m.main(process.argv.slice(2)))
  .then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`intake: internal error: ${err && err.stack ? err.stack : err}\n`);
      process.exit(70);
    },
  );
