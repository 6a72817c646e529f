import { Command } from "commander";
import * as path from "node:path";
import { EXIT } from "../../core/errors";
import { REGISTRY_KINDS, type RegistryKind } from "../../core/tiers";
import { customerById } from "../../core/access";
import { loadPrivateSigningKey } from "../../runtime/broker/keys";
import { AccessDenied, dockerConfig, mintFor } from "../../runtime/mint";
import { ghcrTokenVariable } from "../../kinds/ghcr/mint";
import { projectDirOf, InputError, outputFormat, registryKind, stackName, type CommandContext } from "../options";
import { loadStackContext } from "../../core/stack";

/** `intake token`. */
export function register(cli: Command, ctx: CommandContext): void {
  cli
    .command("token")
    .description("mint a short-lived credential for one customer's namespace on one registry kind")
    .requiredOption("--customer <id>", "customer id")
    .requiredOption("--kind <kind>", `registry kind: ${REGISTRY_KINDS.join(", ")}`, registryKind)
    .option("--stack <name>", "stack whose settings to use", stackName, "dev")
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--format <format>", "json, or docker-config (a config.json fragment)", outputFormat, "json")
    .option("--key <file>", "distribution: the broker's PEM private key (mints an offline 1 h credential)")
    .option("--subscription <id>", "acr: the Azure subscription of the registry (default AZURE_SUBSCRIPTION_ID)")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .action(async (opts: { customer: string; kind: RegistryKind; stack: string; roster?: string; format: "json" | "docker-config"; key?: string; subscription?: string; project?: string }) => {
      const projectDir = projectDirOf(opts);
      const { settings, roster } = loadStackContext({ projectDir, stack: opts.stack, rosterPath: opts.roster && path.resolve(opts.roster) });
      if (!customerById(roster, opts.customer)) throw new InputError(`--customer: ${opts.customer} is not in ${roster.source}`);
      const envName = ghcrTokenVariable(opts.customer);
      try {
        const cred = await mintFor(opts.customer, opts.kind, {
          settings,
          roster,
          signingKey: opts.key ? loadPrivateSigningKey(opts.key) : undefined,
          ghcrToken: process.env[envName],
          azureSubscriptionId: opts.subscription ?? process.env.AZURE_SUBSCRIPTION_ID,
        });
        ctx.io.out(
          opts.format === "docker-config"
            ? JSON.stringify(dockerConfig(cred), null, 2)
            : JSON.stringify(
                { registry: cred.registry, namespace: cred.namespace, username: cred.username, password: cred.password, expiresAt: cred.expiresAt?.toISOString() ?? null, ...(cred.longLived ? { longLived: true } : {}) },
                null,
                2,
              ),
        );
      } catch (e) {
        if (e instanceof AccessDenied) {
          ctx.io.err(`denied: ${e.message}`);
          ctx.exit(EXIT.denied);
          return;
        }
        throw e;
      }
    });
}
