#!/usr/bin/env node
// The `intake` command. TypeScript sources run through tsx (its require and import hooks, so the
// CLI can load the heavy parts on demand), so there is no build step.
// The AWS SDK warns on every client that its releases after January 2027 need Node 22: the
// lockfile pins this one, and the warning would sit in every token's output. Set it to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
import("tsx")
  .then(() => require("../main.ts").main(process.argv.slice(2)))
  .then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`intake: internal error: ${err && err.stack ? err.stack : err}\n`);
      process.exit(70);
    },
  );
