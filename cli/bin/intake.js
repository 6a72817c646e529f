#!/usr/bin/env node
// The `intake` command. TypeScript sources run through tsx's require hook, so there is no build step.
require("tsx/cjs");
const { main } = require("../main.ts");
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`intake: internal error: ${err && err.stack ? err.stack : err}\n`);
    process.exit(70);
  },
);
