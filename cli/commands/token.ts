import { Command } from "commander";
import { credentialJson, dockerConfig, type MintedCredential } from "../../runtime/mint/types";
import * as path from "node:path";
import { EXIT } from "../../core/errors";
import { REGISTRY_KINDS, type RegistryKind } from "../../core/tiers";
import { projectDirOf, InputError, outputFormat, registryKind, stackName, type CommandContext } from "../options";

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
    .option("--no-cache", "mint a new credential, neither read from nor kept in the credential cache")
    .action(
      async (opts: {
        customer: string;
        kind: RegistryKind;
        stack: string;
        roster?: string;
        format: "json" | "docker-config";
        key?: string;
        subscription?: string;
        project?: string;
        cache: boolean;
      }) => {
        const { decisionDay, DiskCredentialCache } = await import("../../runtime/mint/disk-cache.js");
        const projectDir = projectDirOf(opts);
        const rosterPath = opts.roster && path.resolve(opts.roster);
        const keyFile = opts.key && path.resolve(opts.key);
        const subscription = opts.subscription ?? process.env.AZURE_SUBSCRIPTION_ID;
        const cacheKey = {
          project: projectDir,
          stack: opts.stack,
          roster: rosterPath,
          customer: opts.customer,
          target: opts.kind,
          signingKey: keyFile,
          subscription,
        };
        const day = decisionDay();
        const { cache, warning } = opts.cache ? DiskCredentialCache.forUser() : {};
        if (warning) ctx.io.err(`warning: ${warning}`);
        const hit = cache?.get(cacheKey, day);
        if (hit) {
          ctx.io.out(render(hit.credential, opts.format));
          return;
        }

        const { customerById } = await import("../../core/access.js");
        const { loadPrivateSigningKey } = await import("../../runtime/broker/keys.js");
        const { AccessDenied, mintFor } = await import("../../runtime/mint/index.js");
        const { ghcrTokenVariable } = await import("../../kinds/ghcr/mint.js");
        const { loadStackContext } = await import("../../core/stack.js");
        const context = loadStackContext({ projectDir, stack: opts.stack, rosterPath });
        const { settings, roster } = context;
        if (!customerById(roster, opts.customer)) {
          cache?.drop(cacheKey);
          throw new InputError(`--customer: ${opts.customer} is not in ${roster.source}`);
        }
        try {
          const cred = await mintFor(opts.customer, opts.kind, {
            settings,
            roster,
            signingKey: keyFile ? loadPrivateSigningKey(keyFile) : undefined,
            ghcrToken: process.env[ghcrTokenVariable(opts.customer)],
            azureSubscriptionId: subscription,
            today: day,
          });
          cache?.put(cacheKey, day, keyFile ? [...context.files, keyFile] : context.files, cred);
          ctx.io.out(render(cred, opts.format));
        } catch (e) {
          if (e instanceof AccessDenied) {
            cache?.drop(cacheKey);
            ctx.io.err(`denied: ${e.message}`);
            ctx.exit(EXIT.denied);
            return;
          }
          throw e;
        }
      },
    );
}

/** The credential as JSON, or as a docker config.json fragment. */
function render(cred: MintedCredential, format: "json" | "docker-config"): string {
  return format === "docker-config" ? JSON.stringify(dockerConfig(cred), null, 2) : JSON.stringify(credentialJson(cred), null, 2);
}
