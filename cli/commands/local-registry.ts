import { Command } from "commander";
import * as path from "node:path";
import { listenAddress, projectDirOf, stackName, type CommandContext } from "../options";

type Address = { host: string; port: number };

/** `intake local-registry`. */
export function register(cli: Command, ctx: CommandContext): void {
  cli
    .command("local-registry")
    .description(
      "write what a self-hosted Distribution registry and its token broker need on this machine: the broker's key and certificate, the registry's config.yml, a build registry's, a sample build and a local stack",
    )
    .option("--dir <folder>", "the folder to write into, relative to the project folder (git-ignored)", ".intake-local")
    .option("--stack <name>", "the local stack whose file is written, Pulumi.<stack>.yaml", stackName, "local")
    .option("--registry <host:port>", "where the customers' registry listens", listenAddress, listenAddress("127.0.0.1:5000"))
    .option("--broker <host:port>", "where the token broker listens", listenAddress, listenAddress("127.0.0.1:5001"))
    .option("--source-registry <host:port>", "where the build registry's stand-in listens", listenAddress, listenAddress("127.0.0.1:5002"))
    .option("--force", "write over files that exist (a new key: tokens signed with the old one stop working)")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .action(async (opts: { dir: string; stack: string; registry: Address; broker: Address; sourceRegistry: Address; force?: boolean; project?: string }) => {
      const { writeLocalRegistry } = await import("../../runtime/broker/local.js");
      const projectDir = projectDirOf(opts);
      const f = writeLocalRegistry({
        projectDir,
        dir: opts.dir,
        stack: opts.stack,
        registry: opts.registry,
        broker: opts.broker,
        source: opts.sourceRegistry,
        force: !!opts.force,
      });
      const at = (file: string) => path.relative(process.cwd(), file) || ".";
      const hp = (a: Address) => `${a.host}:${a.port}`;
      const s = opts.stack;
      ctx.io.out(
        [
          `wrote ${at(f.key)} (0600) and ${at(f.cert)}: the broker's key and certificate`,
          `wrote ${at(f.registryConfig)}: the registry on ${hp(opts.registry)}, token auth by the broker on ${hp(opts.broker)}`,
          `wrote ${at(f.sourceConfig)}: a build registry without auth on ${hp(opts.sourceRegistry)}`,
          `wrote ${at(f.sampleImage)}: a sample build (OCI layout, tag 1.0.0)`,
          `wrote ${at(f.stackFile)}: stack ${s}, the distribution kind alone`,
          "",
          "next (docs/getting-started.md walks through them):",
          `  docker-registry serve ${at(f.registryConfig)} &          # Debian's docker-registry (CNCF Distribution); elsewhere: registry serve`,
          `  docker-registry serve ${at(f.sourceConfig)} &`,
          `  pulumi stack init ${s} && pulumi up --stack ${s} --policy-pack policy   # on the engine: docs/getting-started.md, step 3`,
          `  pulumi stack output distributionAcl --show-secrets --stack ${s} > ${at(path.join(path.dirname(f.key), "acl.json"))}`,
          `  npx intake broker --stack ${s} --acl ${at(path.join(path.dirname(f.key), "acl.json"))} --roster customers/roster.yaml --listen ${hp(opts.broker)} \\`,
          `    --key ${at(f.key)} --cert ${at(f.cert)} --service registry-intake --issuer registry-intake-broker &`,
          `  npx intake token --stack ${s} --customer acme --kind distribution --key ${at(f.key)}`,
        ].join("\n"),
      );
    });
}
