import { Command } from "commander";
import * as path from "node:path";
import { EXIT } from "../../core/errors";
import { projectDirOf, InputError, plural, positiveInt, stackName, type CommandContext } from "../options";
import { deferSdkClosureModules } from "../../planning/sdk-modules";

/** `intake shards`. */
export function register(cli: Command, ctx: CommandContext): void {
  cli
    .command("shards")
    .description("the shard stacks of a stack and their customers; with --base, the stacks a change since that git ref touches (for CI)")
    .requiredOption("--stack <name>", "the base (platform) stack", stackName)
    .option("--base <git-ref>", "list only the stacks changed customers or settings touch since this ref")
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .option("--json", "print JSON (CI: a matrix of stacks)")
    .option(
      "--max-jobs <n>",
      "with --base --json: split the stacks into at most this many batches (GitHub Actions runs at most 256 jobs from one matrix)",
      positiveInt,
      256,
    )
    .option("--init", "write the missing Pulumi.<stack>-shard-NN.yaml files from the platform stack's (needs --platform-stack)")
    .option("--platform-stack <ref>", "with --init: the platform stack as the shard stacks reference it (org/registry-intake/prod)")
    .option(
      "--check",
      "check every shard stack file against the platform's (shard key, no settings of its own, equal provider config); exit 1 naming each difference",
    )
    .action(
      async (opts: {
        stack: string;
        base?: string;
        roster?: string;
        project?: string;
        json?: boolean;
        maxJobs: number;
        init?: boolean;
        platformStack?: string;
        check?: boolean;
      }) => {
        deferSdkClosureModules();
        const { shardBuckets, shardStackName } = await import("../../customers/shards.js");
        const { checkShardStacks, initShardStacks } = await import("../../planning/shard-init.js");
        const { loadStackContext } = await import("../../core/stack.js");
        const projectDir = projectDirOf(opts);
        const rosterPath = opts.roster && path.resolve(opts.roster);
        if (opts.platformStack && !opts.init) throw new InputError("--platform-stack is for --init");
        if (opts.check) {
          if (opts.init || opts.base) throw new InputError("--check goes alone: not with --init or --base");
          const r = checkShardStacks({ projectDir, stack: opts.stack });
          if (opts.json) ctx.io.out(JSON.stringify(r));
          else if (r.shards === 0) ctx.io.out(`${opts.stack} is not sharded: no shard stack files to check`);
          else if (r.problems.length === 0) ctx.io.out(`${r.shards} shard stack files agree with Pulumi.${opts.stack}.yaml (every setting is read from it)`);
          else for (const p of r.problems) ctx.io.out(p);
          if (r.problems.length) ctx.exit(EXIT.violations);
          return;
        }
        if (opts.init) {
          if (opts.base) throw new InputError("--init and --base do not go together");
          if (!opts.platformStack)
            throw new InputError("--init needs --platform-stack: the platform stack as the shard stacks reference it, e.g. org/registry-intake/prod");
          const r = initShardStacks({ projectDir, stack: opts.stack, platformStack: opts.platformStack });
          if (opts.json) ctx.io.out(JSON.stringify(r));
          else {
            for (const f of r.created) ctx.io.out(`created ${f}`);
            if (r.kept.length)
              ctx.io.out(`${r.kept.length} shard stack file${r.kept.length === 1 ? "" : "s"} already there and in agreement, left as they are`);
            if (r.copySecrets.length) {
              ctx.io.out("Secrets are not copied (ciphertext belongs to the stack that encrypted it); after `pulumi stack init` of each new stack run:");
              for (const c of r.copySecrets) ctx.io.out(`  pulumi config cp ${c}`);
            }
          }
          return;
        }
        if (opts.base) {
          const { affectedStacks } = await import("../../planning/diff.js");
          const r = affectedStacks({ projectDir, stack: opts.stack, base: opts.base, rosterPath });
          // A settings change touches every stack: 1,001 at 100,000 customers, over a matrix's 256 jobs.
          const size = Math.ceil(r.stacks.length / opts.maxJobs);
          const batches = Array.from({ length: Math.ceil(r.stacks.length / Math.max(1, size)) }, (_, i) => r.stacks.slice(i * size, (i + 1) * size));
          if (opts.json) ctx.io.out(JSON.stringify({ ...r, batches }));
          else ctx.io.out(r.stacks.length ? r.stacks.join("\n") : `no stack is touched by changes since ${opts.base}`);
          return;
        }
        const { settings, roster } = loadStackContext({ projectDir, stack: opts.stack, rosterPath });
        const sh = settings.shard;
        const rows = sh
          ? shardBuckets(roster, sh.count).map((customers, i) => ({ stack: shardStackName(opts.stack, i, sh.count), customers: customers.map((c) => c.id) }))
          : [{ stack: opts.stack, customers: roster.customers.map((c) => c.id) }];
        if (opts.json) ctx.io.out(JSON.stringify({ platform: opts.stack, shards: rows }));
        else {
          const customers = plural(roster.customers.length, "customer");
          ctx.io.out(
            sh ? `${opts.stack}: platform stack, ${plural(sh.count, "shard stack")}, ${customers}` : `${opts.stack}: not sharded (one stack), ${customers}`,
          );
          for (const r of rows) ctx.io.out(`  ${r.stack.padEnd(24)} ${String(r.customers.length).padStart(5)} customers`);
        }
      },
    );
}
