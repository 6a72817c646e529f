#!/usr/bin/env node
// The `intake` command. TypeScript sources run through tsx (its require and import hooks, so the
// CLI can load the heavy parts on demand), so there is no build step.
import("tsx")
  .then(() => require("../main.ts").main(process.argv.slice(2)))
  .then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`intake: internal error: ${err && err.stack ? err.stack : err}\n`);
      process.exit(70);
    },
  );
