import { Command } from "commander";
import * as path from "node:path";
import { EXIT, IntakeError } from "../../core/errors";
import { REGISTRY_KINDS, type RegistryKind } from "../../core/tiers";
import type { DeliveryPlanTarget, TargetResult } from "../../runtime/delivery/deliver";
import { projectDirOf, idList, InputError, kindList, positiveInt, stackName, writeOut, type CommandContext, outputFile } from "../options";

/** `intake deliver`. */
export function register(cli: Command, ctx: CommandContext): void {
  cli
    .command("deliver")
    .description("copy one build into customers' namespaces, registry to registry: cache check, copy or blob mounts, then tags")
    .requiredOption("--source <ref>", "the build's image, e.g. build.example.com/app:1.4.2 or ...@sha256:...")
    .option(
      "--build <name>",
      "repository name inside each customer's namespace, e.g. app (with --product: one of the product's repositories, default its first); required without --product",
    )
    .requiredOption("--version <tag>", "the versioned tag to deliver (never overwritten once delivered); with --product a semver version")
    .option(
      "--product <name>",
      "a product of the stack's catalogue (setting products): deliver to the customers entitled to this release, into <namespace>/<product>/<build>",
    )
    .option("--channel <name>", "with --product: the release channel", "stable")
    .option("--released <date>", "with --product: the release day, YYYY-MM-DD (default: the stack's asOf day, today)")
    .option("--customer <ids>", "customer ids, comma-separated or repeated; required without --product (with it: narrows the entitled customers)", idList)
    .option("--kind <kinds>", `registry kinds, comma-separated (default: every kind each customer asked for): ${REGISTRY_KINDS.join(", ")}`, kindList)
    .option("--tool <tool>", "crane or skopeo (default INTAKE_COPY_TOOL, else crane when on PATH, else skopeo)")
    .option("--concurrency <n>", "registry operations at once", positiveInt, 4)
    .option("--no-latest", "leave `latest` where it is")
    .option(
      "--require-signature <KEY.pub>",
      "deliver only a source digest signed with cosign by this public key's private half (default: the stack's requireSignature setting); else exit 4, nothing delivered",
    )
    .option("--no-attached", "leave the build's signatures, attestations and SBOMs (cosign tags, OCI referrers) behind")
    .option("--json <path>", "write the per-target results as JSON", outputFile)
    .option("--stack <name>", "stack whose settings to use", stackName, "dev")
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--key <file>", "distribution: the broker's PEM private key, for the delivery robot's offline credential (else INTAKE_DELIVERY_PASSWORD)")
    .option("--subscription <id>", "acr: the Azure subscription of the registry (default AZURE_SUBSCRIPTION_ID)")
    .option("--source-config <file>", "a mounted kubernetes.io/dockerconfigjson file holding the source registry's credential")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .action(
      async (opts: {
        source: string;
        build?: string;
        version: string;
        customer?: string[];
        product?: string;
        channel: string;
        released?: string;
        kind?: RegistryKind[];
        tool?: string;
        concurrency: number;
        latest: boolean;
        json?: string;
        stack: string;
        roster?: string;
        key?: string;
        subscription?: string;
        sourceConfig?: string;
        project?: string;
        requireSignature?: string;
        attached: boolean;
      }) => {
        const { loadPrivateSigningKey } = await import("../../runtime/broker/keys.js");
        const { chooseTool } = await import("../../runtime/delivery/copy.js");
        const { discoverCredential } = await import("../../runtime/delivery/credentials.js");
        const { deliver } = await import("../../runtime/delivery/deliver.js");
        const { parseReference } = await import("../../core/reference.js");
        const { stackDelivery } = await import("../../runtime/delivery/stack.js");
        const { ghcrTokenVariable } = await import("../../kinds/ghcr/mint.js");
        const { DeliveryProgress, notReachedLine, resultLine, summaryLine } = await import("../deliver.js");
        const { loadStackContext } = await import("../../core/stack.js");
        const { loadSignatureKey } = await import("../../runtime/delivery/signature.js");
        const { errorText } = await import("../../runtime/delivery/retry.js");
        const projectDir = projectDirOf(opts);
        const { settings, roster } = loadStackContext({ projectDir, stack: opts.stack, rosterPath: opts.roster && path.resolve(opts.roster) });
        const signatureKey = opts.requireSignature
          ? loadSignatureKey(opts.requireSignature, "--require-signature")
          : settings.requireSignature
            ? loadSignatureKey(path.resolve(projectDir, settings.requireSignature), `stack ${opts.stack} setting requireSignature:`)
            : undefined;
        let source;
        try {
          source = parseReference(opts.source);
        } catch (e) {
          throw new InputError(`--source: ${(e as Error).message}`);
        }
        const unknown = (opts.customer ?? []).filter((id) => !roster.customers.some((c) => c.id === id));
        if (unknown.length) throw new InputError(`--customer: ${unknown.join(", ")} ${unknown.length > 1 ? "are" : "is"} not in ${roster.source}`);
        const { releaseAudience } = await import("../../customers/audience.js");
        const { releaseProblems } = await import("../../customers/entitlements.js");
        const { isoDate } = await import("../../customers/schema.js");
        let build: string;
        let customers: string[];
        let notReached: import("../../customers/audience").NotReached[] = [];
        if (opts.product !== undefined) {
          const product = settings.products?.[opts.product];
          build = opts.build ?? product?.repositories[0] ?? "";
          const released = opts.released ?? settings.asOf;
          if (!isoDate.safeParse(released).success) throw new InputError(`--released: "${released}" must be a real calendar date written YYYY-MM-DD`);
          const problems = releaseProblems(settings.products, { product: opts.product, channel: opts.channel, version: opts.version, build, released });
          if (problems.length) {
            const p = problems[0];
            throw new InputError(`--${p.field}: ${p.message}${p.field === "product" && !settings.products ? ` (stack ${opts.stack})` : ""}`);
          }
          const audience = releaseAudience(
            roster.customers,
            { product: opts.product, channel: opts.channel, version: opts.version, released },
            settings.tierEntitlements,
            settings.asOf,
            opts.customer,
          );
          customers = audience.to;
          notReached = audience.notReached;
        } else {
          if (settings.products)
            throw new InputError(
              `--product: required while stack ${opts.stack} has a product catalogue (${Object.keys(settings.products).join(", ")}): every repository is a product's`,
            );
          if (opts.channel !== "stable" || opts.released !== undefined)
            throw new InputError(`--${opts.released !== undefined ? "released" : "channel"}: needs --product (a release of a catalogue product)`);
          if (!opts.build) throw new InputError("--build: required without --product (the repository name inside each customer's namespace, e.g. app)");
          if (!opts.customer) throw new InputError("--customer: required without --product (customer ids, comma-separated)");
          build = opts.build;
          customers = opts.customer;
        }
        let tool;
        try {
          tool = chooseTool(opts.tool);
        } catch (e) {
          throw new InputError((e as Error).message);
        }
        const targets: DeliveryPlanTarget[] = customers.flatMap((id) => {
          const c = roster.customers.find((x) => x.id === id)!;
          const kinds = opts.kind ?? c.registries.filter((k) => settings.enabledKinds.includes(k));
          return kinds.map((kind) => ({ customer: id, kind }));
        });
        const onStack = stackDelivery({
          settings,
          roster,
          product: opts.product,
          deliveryPassword: process.env.INTAKE_DELIVERY_PASSWORD,
          ghcrToken: (id) => process.env[ghcrTokenVariable(id)],
          mint: {
            signingKey: opts.key ? loadPrivateSigningKey(opts.key) : undefined,
            azureSubscriptionId: opts.subscription ?? process.env.AZURE_SUBSCRIPTION_ID,
          },
        });
        // The robot's password is needed only for distribution targets the license allows; it is
        // checked before anything is read or copied.
        const distribution = targets.some((t) => t.kind === "distribution" && onStack.access(t.customer, t.kind).allowed);
        if (distribution && !opts.key && !process.env.INTAKE_DELIVERY_PASSWORD) {
          throw new InputError(
            "distribution targets need the delivery robot's password: set INTAKE_DELIVERY_PASSWORD (`pulumi stack output distributionDeliveryPassword --show-secrets`) or pass --key with the broker's private key",
          );
        }
        const sourceCredential = await discoverCredential(source.registry, { dockerConfigJsonFile: opts.sourceConfig });
        if (sourceCredential) ctx.io.err(`source credential for ${source.registry}: ${sourceCredential.source}`);
        const progress = new DeliveryProgress(ctx.io.tty ?? ((s) => ctx.io.err(s.replace(/\n$/, ""))), !!ctx.io.tty);
        const t0 = performance.now();
        let results: TargetResult[];
        try {
          results = await deliver({
            source,
            sourceCredential,
            build,
            version: opts.version,
            targets,
            tool,
            latest: opts.latest,
            attached: opts.attached,
            requireSignature: signatureKey,
            concurrency: opts.concurrency,
            onEvent: (e) => progress.event(e),
            ...onStack,
          });
        } catch (e) {
          progress.end();
          if (e instanceof IntakeError) throw e;
          ctx.io.err(`error: the source ${opts.source} could not be read: ${errorText(e)}`);
          ctx.exit(EXIT.failed);
          return;
        }
        progress.end();
        for (const r of results) ctx.io.out(resultLine(r));
        for (const n of notReached) ctx.io.out(notReachedLine(n));
        ctx.io.out(summaryLine(results, (performance.now() - t0) / 1000, notReached));
        const release = opts.product !== undefined ? { product: opts.product, channel: opts.channel, released: opts.released ?? settings.asOf } : {};
        if (opts.json)
          writeOut(opts.json, JSON.stringify({ source: opts.source, build, version: opts.version, ...release, tool, results, notReached }, null, 2) + "\n");
        ctx.exit(results.some((r) => r.status === "failed") ? EXIT.failed : results.some((r) => r.status === "denied") ? EXIT.denied : EXIT.ok);
      },
    );
}
