import { Command } from "commander";
import type { Roster } from "../../customers/roster";
import { TTL_BOUNDS } from "../../runtime/broker/ttl";
import { projectDirOf, InputError, listenAddress, stackName, ttlSeconds, untilStopped, type CommandContext } from "../options";

/** `intake broker`. */
export function register(cli: Command, ctx: CommandContext): void {
  cli
    .command("broker")
    .description("the token broker of the self-hosted Distribution registry (Docker token authentication)")
    .requiredOption("--acl <path>", "the broker's access list (stack output distributionAcl), or a folder of them (a sharded stack's parts, merged)")
    .requiredOption(
      "--roster <path>",
      "the roster, or a folder of roster parts (a sharded stack's, one per shard): licenses and tiers are checked at every request",
    )
    .requiredOption("--listen <host:port>", "address to serve on, e.g. 127.0.0.1:5001", listenAddress)
    .requiredOption("--key <file>", "PEM private key the tokens are signed with (EC P-256 or RSA)")
    .requiredOption("--cert <file>", "PEM certificate of that key (the registry's rootcertbundle)")
    .requiredOption("--service <name>", "the registry's auth.token.service")
    .requiredOption("--issuer <name>", "the registry's auth.token.issuer")
    .option(
      "--ttl <seconds>",
      `token lifetime in seconds, ${TTL_BOUNDS.min}-${TTL_BOUNDS.max}: how long a revocation can lag at worst`,
      ttlSeconds,
      TTL_BOUNDS.default,
    )
    .option(
      "--metrics-listen <host:port>",
      "serve Prometheus metrics at /metrics on this address, a listener apart from --listen (off by default: the labels name customers)",
      listenAddress,
    )
    .option("--caller-tokens <file>", "enable GET /registry/credentials for callers whose bearer token's sha256 (hex, one per line) is listed")
    .option("--stack <name>", "stack whose settings (tier table, prefix; with --caller-tokens, the minting) apply", stackName, "dev")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .action(
      async (opts: {
        acl: string;
        roster: string;
        listen: { host: string; port: number };
        key: string;
        cert: string;
        service: string;
        issuer: string;
        ttl: number;
        metricsListen?: { host: string; port: number };
        callerTokens?: string;
        stack: string;
        project?: string;
      }) => {
        const m = opts.metricsListen;
        if (m && m.host === opts.listen.host && m.port === opts.listen.port && m.port !== 0) {
          throw new InputError(
            `--metrics-listen ${m.host}:${m.port}: the same address as --listen; the metrics need a listener of their own (e.g. 127.0.0.1:9464)`,
          );
        }
        const { loadSigningKey } = await import("../../runtime/broker/keys.js");
        const { mintFor } = await import("../../runtime/mint/index.js");
        const { CredentialCache } = await import("../../runtime/mint/cache.js");
        const { ghcrTokenVariable } = await import("../../kinds/ghcr/mint.js");
        const { currentStackSettings } = await import("../../core/stack.js");
        const key = loadSigningKey(opts.key, opts.cert);
        const projectDir = projectDirOf(opts);
        // The settings only: the roster is the store's to read (once, and again as it changes).
        const settingsNow = currentStackSettings(projectDir, opts.stack);
        const stackSettings = settingsNow();
        const cache = new CredentialCache();
        const { TokenBroker: Broker } = await import("../../runtime/broker/broker.js");
        const broker: InstanceType<typeof Broker> = new Broker({
          // The broker judges the license itself (checkAccess on its live roster) before minting;
          // the mint takes the stack's settings as they are now (read again when a stack file
          // changed: a stat of each per request, not a parse) and the broker's live roster (never
          // the whole roster re-read per request: seconds at 100,000 customers), so a change of
          // either applies at the next request.
          credentials: opts.callerTokens
            ? {
                callerTokensFile: opts.callerTokens,
                mint: (customer, kind) => {
                  const settings = settingsNow();
                  const roster: Roster = broker.roster;
                  return cache.get({ customer, kind }, () =>
                    mintFor(customer, kind, {
                      settings,
                      roster,
                      signingKey: key,
                      azureSubscriptionId: process.env.AZURE_SUBSCRIPTION_ID,
                      ghcrToken: process.env[ghcrTokenVariable(customer)],
                      acrPasswordSlot: "password1",
                    }),
                  );
                },
              }
            : undefined,
          tierTable: stackSettings.tierTable,
          products: stackSettings.products,
          tierEntitlements: stackSettings.tierEntitlements,
          enabledKinds: stackSettings.enabledKinds,
          repoPrefix: stackSettings.repoPrefix,
          aclFile: opts.acl,
          rosterFile: opts.roster,
          key,
          service: opts.service,
          issuer: opts.issuer,
          ttlSeconds: opts.ttl,
          processMetrics: true,
        });
        const listening = async (flag: string, a: { host: string; port: number }, listen: () => Promise<number>) => {
          try {
            return await listen();
          } catch (e) {
            await broker.close();
            throw new InputError(`${flag} ${a.host}:${a.port}: cannot listen there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
          }
        };
        // The metrics listener first: a taken address stops the broker before it serves any token.
        const metricsPort = m && (await listening("--metrics-listen", m, () => broker.listenMetrics(m.host, m.port)));
        const port = await listening("--listen", opts.listen, () => broker.listen(opts.listen.host, opts.listen.port));
        ctx.io.err(`intake broker: listening on http://${opts.listen.host}:${port}/token (service ${opts.service})`);
        if (m) ctx.io.err(`intake broker: metrics on http://${m.host}:${metricsPort}/metrics`);
        await new Promise<void>((resolve) =>
          untilStopped((why) => {
            ctx.io.err(`intake broker: ${why}: stopping`);
            void broker.close().then(resolve);
          }),
        );
      },
    );
}
