import { Command, CommanderError, InvalidArgumentError } from "commander";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { EXIT, IntakeError, InvalidInput } from "../core/errors";
import { isLedgerKey, LEDGER_OUTPUT, parseLedger, type Ledger } from "../components/ledger";
// The plan (Pulumi SDK, the program), the broker, the audit and the Automation API load on
// demand: `intake token` and `intake deliver` start without them.
import { loadStack } from "./plan/stack";
import { checkShardStacks, initShardStacks } from "./plan/shard-init";
import { parseJsonFile } from "../core/json";
import { TTL_BOUNDS } from "../runtime/broker/ttl";
import { loadPrivateSigningKey, loadSigningKey } from "../runtime/broker/keys";
import { AccessDenied, dockerConfig, mintFor } from "../runtime/mint";
import { ghcrTokenVariable } from "../runtime/mint/ghcr-distribution";
import { CredentialCache } from "../runtime/mint/cache";
import { REGISTRY_KINDS, type RegistryKind } from "../customers/tiers";
import { policyConfigProblems, type PolicyConfig } from "../policy/evaluate";
import { chooseTool } from "../runtime/delivery/copy";
import { discoverCredential } from "../runtime/delivery/credentials";
import { deliver, type DeliveryPlanTarget, type TargetResult } from "../runtime/delivery/deliver";
import { parseReference } from "../runtime/delivery/reference";
import { stackDelivery } from "../runtime/delivery/stack";
import { DeliveryProgress, resultLine, summaryLine } from "./deliver";
import { shardOf, shardStackName } from "../customers/shards";
import { customerById } from "../runtime/access";
import type { OnboardResult } from "../automation/onboard";

/** A bad --policy-config file: names the file and each problem. */
export class PolicyConfigError extends InvalidInput {
  constructor(readonly problems: string[]) {
    super(problems.join("\n"));
  }
}

function readPolicyConfig(file: string | undefined): PolicyConfig {
  if (!file) return {};
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new PolicyConfigError([`--policy-config ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`]);
  }
  const doc = parseJsonFile(file, text);
  const problems = policyConfigProblems(doc, file);
  if (problems.length) throw new PolicyConfigError(problems);
  return doc as PolicyConfig;
}

/** `--retained FILE`: the JSON of `pulumi stack output --json` (its `retained` output), or that output alone. */
function readLedgerFile(file: string | undefined): Partial<Ledger> | undefined {
  if (!file) return undefined;
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? "not JSON";
    throw new InputError(`--retained ${file}: cannot read it (${why}); write it with \`pulumi stack output --json > ${file}\``);
  }
  const value = typeof doc === "object" && doc !== null && LEDGER_OUTPUT in doc ? (doc as Record<string, unknown>)[LEDGER_OUTPUT] : doc;
  const ledger = parseLedger(value);
  const lists = typeof value === "object" && value !== null ? [(value as Record<string, unknown>).declared, (value as Record<string, unknown>).kept] : [];
  const bad = lists.flatMap((l) => (Array.isArray(l) ? l.filter((k) => !isLedgerKey(k)) : []));
  if (!ledger && bad.length) throw new InputError(`--retained ${file}: ${bad.map((k) => JSON.stringify(k)).join(", ")} ${bad.length > 1 ? "are not kept resources" : "is not a kept resource"} (<kind>:<cloud id>, kind ecr, gar or github)`);
  if (!ledger) throw new InputError(`--retained ${file}: holds no ledger of kept resources (a "${LEDGER_OUTPUT}" output with declared and kept lists); write it with \`pulumi stack output --json > ${file}\``);
  return ledger;
}

/** `1 customer`, `2 customers`. */
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/** This package's version (package.json). */
function packageVersion(): string {
  return (JSON.parse(readFileSync(path.join(__dirname, "..", "package.json"), "utf8")) as { version: string }).version;
}

/** Exit codes and environment variables, after every command's help. */
export const HELP_AFTER = `
Exit codes (every command):
  0  done
  1  mandatory policy violations (plan, policy audit), or shard files that disagree (shards --check)
  2  invalid input: a flag, file, setting, roster entry or missing credential; nothing was changed
  3  denied: the customer's license does not allow it (token, deliver)
  4  failed: a registry or the engine failed part-way (deliver, onboard, offboard)
  5  no engine: the pulumi CLI is not on PATH (onboard, offboard)

Environment:
  INTAKE_GHCR_TOKEN_<ID>    a customer's machine-user PAT for GHCR (id upper-cased, - as _), e.g. INTAKE_GHCR_TOKEN_ACME
  INTAKE_DELIVERY_PASSWORD  the delivery robot's password (deliver to distribution; or --key)
  INTAKE_COPY_TOOL          crane or skopeo (deliver; default crane when on PATH)
  INTAKE_ROSTER             another roster file for the policy pack (onboarding sets it)
  AZURE_SUBSCRIPTION_ID     the ACR registry's subscription (token, deliver; or --subscription)
  AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_*   the clouds' own credential chains (token, deliver)`;

/** A bad flag value: names the flag and the rule. */
export class InputError extends InvalidInput {}

export { EXIT } from "../core/errors";

/** The project folder: the nearest folder up from `start` that holds Pulumi.yaml, else this package. */
export function findProjectDir(start = process.cwd()): string {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "Pulumi.yaml"))) return dir;
    if (path.dirname(dir) === dir) return path.resolve(__dirname, "..");
  }
}

function writeOut(file: string, text: string): void {
  mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  writeFileSync(file, text);
}

function listenAddress(v: string): { host: string; port: number } {
  const m = /^(\[[0-9a-f:]+\]|[\w.-]+):(\d{1,5})$/i.exec(v);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new InvalidArgumentError("must be host:port, e.g. 127.0.0.1:5001 (port 0 picks a free one)");
  return { host: m[1].replace(/^\[|\]$/g, ""), port };
}

function registryKind(v: string): RegistryKind {
  if (!(REGISTRY_KINDS as readonly string[]).includes(v)) throw new InvalidArgumentError(`must be one of ${REGISTRY_KINDS.join(", ")}`);
  return v as RegistryKind;
}

function outputFormat(v: string): "json" | "docker-config" {
  if (v !== "json" && v !== "docker-config") throw new InvalidArgumentError("must be json or docker-config");
  return v;
}

function positiveInt(v: string): number {
  if (!/^\d+$/.test(v) || Number(v) < 1) throw new InvalidArgumentError("must be a whole number above 0");
  return Number(v);
}

function ttlSeconds(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < TTL_BOUNDS.min || n > TTL_BOUNDS.max) throw new InvalidArgumentError(`must be a whole number of seconds from ${TTL_BOUNDS.min} to ${TTL_BOUNDS.max}`);
  return n;
}

function stackName(v: string): string {
  if (!/^[A-Za-z0-9_.-]+$/.test(v)) throw new InvalidArgumentError("a stack name holds only letters, digits, '_', '.' and '-'");
  return v;
}

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Raw writes to a terminal, for live progress; absent when stderr is not one. */
  tty?: (s: string) => void;
}

const processIo: Io = {
  out: (s) => process.stdout.write(s + "\n"),
  err: (s) => process.stderr.write(s + "\n"),
  tty: process.stderr.isTTY ? (s) => process.stderr.write(s) : undefined,
};

function idList(v: string, previous: string[] = []): string[] {
  const ids = v.split(",").map((x) => x.trim()).filter(Boolean);
  if (!ids.length) throw new InvalidArgumentError("must name at least one customer id");
  return [...new Set([...previous, ...ids])];
}

function kindList(v: string, previous: RegistryKind[] = []): RegistryKind[] {
  return [...new Set([...previous, ...v.split(",").map((k) => registryKind(k.trim()))])];
}

/** Run the CLI with `argv` (without node and script); resolves to the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let code: number = EXIT.ok;
  const cli = new Command("intake")
    .description("registry-intake: isolated customer namespaces and scoped credentials on container registries")
    .version(packageVersion(), "-V, --version", "print the version")
    // Program options only before the subcommand: deliver has a --version of its own (the tag).
    .enablePositionalOptions()
    .addHelpText("after", HELP_AFTER)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError("(add --help for usage)");

  cli
    .command("plan")
    .description("plan the stack offline under the Pulumi SDK's mock engine: no cloud credentials needed")
    .option("--stack <name>", "stack whose Pulumi.<name>.yaml to read", stackName, "dev")
    .option("--roster <path>", "roster file (default: the stack's roster setting, customers/roster.yaml)")
    .option("--json <path>", "write the plan as JSON")
    .option("--markdown <path>", "write a summary fit for a pull-request comment")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .option("--policy-config <file>", "per-rule enforcement levels, as for pulumi preview --policy-pack-config")
    .option("--base <git-ref>", "show only what changed since this git ref (customers added, removed, changed; resources; cost)")
    .option("--retained <file>", "the stack's outputs (`pulumi stack output --json`): show which kept resources the update adopts")
    .action(async (opts: { stack: string; roster?: string; json?: string; markdown?: string; project?: string; policyConfig?: string; base?: string; retained?: string }) => {
      const projectDir = opts.project ? path.resolve(opts.project) : findProjectDir();
      const policyConfig = readPolicyConfig(opts.policyConfig);
      const ledger = readLedgerFile(opts.retained);
      if (ledger && opts.base) throw new InputError("--retained and --base: pick one (--retained shows adoption in a full plan)");
      if (opts.base) {
        const { planDiff, renderDiffMarkdown, renderDiffText } = await import("./plan/diff.js");
        const diff = await planDiff({ projectDir, stack: opts.stack, base: opts.base, rosterPath: opts.roster && path.resolve(opts.roster), policyConfig });
        io.out(renderDiffText(diff));
        if (opts.json) writeOut(opts.json, JSON.stringify(diff, null, 2) + "\n");
        if (opts.markdown) writeOut(opts.markdown, renderDiffMarkdown(diff));
        if (diff.violations.some((v) => v.enforcement === "mandatory")) code = EXIT.violations;
        return;
      }
      const { planStack } = await import("./plan/plan.js");
      const { renderMarkdown, renderText } = await import("./plan/render.js");
      const { plan } = await planStack({ projectDir, stack: opts.stack, rosterPath: opts.roster && path.resolve(opts.roster), policyConfig, ledger });
      const { recorded: _recorded, ...result } = plan;
      io.out(renderText(result));
      if (opts.json) writeOut(opts.json, JSON.stringify(result, null, 2) + "\n");
      if (opts.markdown) writeOut(opts.markdown, renderMarkdown(result));
      if (result.violations.some((v) => v.enforcement === "mandatory")) code = EXIT.violations;
    });

  const policy = cli.command("policy").description("the policy pack outside pulumi preview");
  policy
    .command("audit")
    .description("run the policy pack over the resources of a `pulumi stack export` file")
    .requiredOption("--stack-export <file>", "a `pulumi stack export` file (deployment version 3)")
    .option("--stack <name>", "stack whose settings and roster to judge by (default: the stack in the export's URNs)", stackName)
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--policy-config <file>", "per-rule enforcement levels, as for pulumi preview --policy-pack-config")
    .option("--json <path>", "write the violations as JSON")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .action(async (opts: { stackExport: string; stack?: string; roster?: string; policyConfig?: string; json?: string; project?: string }) => {
      const projectDir = opts.project ? path.resolve(opts.project) : findProjectDir();
      const { auditStackExport, renderAudit } = await import("./audit.js");
      const result = auditStackExport({
        projectDir,
        exportFile: opts.stackExport,
        stack: opts.stack,
        rosterPath: opts.roster && path.resolve(opts.roster),
        policyConfig: readPolicyConfig(opts.policyConfig),
      });
      io.out(renderAudit(result));
      if (opts.json) writeOut(opts.json, JSON.stringify(result, null, 2) + "\n");
      if (result.violations.some((v) => v.enforcement === "mandatory")) code = EXIT.violations;
    });

  cli
    .command("broker")
    .description("the token broker of the self-hosted Distribution registry (Docker token authentication)")
    .requiredOption("--acl <path>", "the broker's access list (stack output distributionAcl), or a folder of them (a sharded stack's parts, merged)")
    .requiredOption("--roster <file>", "the roster: licenses and tiers are checked at every request")
    .requiredOption("--listen <host:port>", "address to serve on, e.g. 127.0.0.1:5001", listenAddress)
    .requiredOption("--key <file>", "PEM private key the tokens are signed with (EC P-256 or RSA)")
    .requiredOption("--cert <file>", "PEM certificate of that key (the registry's rootcertbundle)")
    .requiredOption("--service <name>", "the registry's auth.token.service")
    .requiredOption("--issuer <name>", "the registry's auth.token.issuer")
    .option("--ttl <seconds>", `token lifetime in seconds, ${TTL_BOUNDS.min}-${TTL_BOUNDS.max}: how long a revocation can lag at worst`, ttlSeconds, TTL_BOUNDS.default)
    .option("--caller-tokens <file>", "enable GET /registry/credentials for callers whose bearer token's sha256 (hex, one per line) is listed")
    .option("--stack <name>", "stack whose settings (tier table, prefix; with --caller-tokens, the minting) apply", stackName, "dev")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .action(async (opts: { acl: string; roster: string; listen: { host: string; port: number }; key: string; cert: string; service: string; issuer: string; ttl: number; callerTokens?: string; stack: string; project?: string }) => {
      const key = loadSigningKey(opts.key, opts.cert);
      const projectDir = opts.project ? path.resolve(opts.project) : findProjectDir();
      const stackSettings = loadStack({ projectDir, stack: opts.stack, rosterPath: path.resolve(opts.roster) }).settings;
      const cache = new CredentialCache();
      const { TokenBroker: Broker } = await import("../runtime/broker/broker.js");
      const broker = new Broker({
        // The broker judges the license itself (checkAccess on its live roster) before minting;
        // the mint reads settings and roster again, so a change of either applies at the next request.
        credentials: opts.callerTokens
          ? {
              callerTokensFile: opts.callerTokens,
              mint: (customer, kind) => {
                const { settings, roster } = loadStack({ projectDir, stack: opts.stack, rosterPath: path.resolve(opts.roster) });
                return cache.get({ customer, kind }, () =>
                  mintFor(customer, kind, { settings, roster, signingKey: key, azureSubscriptionId: process.env.AZURE_SUBSCRIPTION_ID, ghcrToken: process.env[ghcrTokenVariable(customer)], acrPasswordSlot: "password1" }),
                );
              },
            }
          : undefined,
        tierTable: stackSettings.tierTable,
        enabledKinds: stackSettings.enabledKinds,
        repoPrefix: stackSettings.repoPrefix,
        aclFile: opts.acl,
        rosterFile: opts.roster,
        key,
        service: opts.service,
        issuer: opts.issuer,
        ttlSeconds: opts.ttl,
      });
      const port = await broker.listen(opts.listen.host, opts.listen.port);
      io.err(`intake broker: listening on http://${opts.listen.host}:${port}/token (service ${opts.service})`);
      await new Promise<void>((resolve) => {
        const stop = () => void broker.close().then(resolve);
        process.once("SIGTERM", stop);
        process.once("SIGINT", stop);
      });
    });

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
      const projectDir = opts.project ? path.resolve(opts.project) : findProjectDir();
      const { settings, roster } = loadStack({ projectDir, stack: opts.stack, rosterPath: opts.roster && path.resolve(opts.roster) });
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
        io.out(
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
          io.err(`denied: ${e.message}`);
          code = EXIT.denied;
          return;
        }
        throw e;
      }
    });

  cli
    .command("deliver")
    .description("copy one build into customers' namespaces, registry to registry: cache check, copy or blob mounts, then tags")
    .requiredOption("--source <ref>", "the build's image, e.g. build.example.com/app:1.4.2 or ...@sha256:...")
    .requiredOption("--build <name>", "repository name inside each customer's namespace, e.g. app")
    .requiredOption("--version <tag>", "the versioned tag to deliver (never overwritten once delivered)")
    .requiredOption("--customer <ids>", "customer ids, comma-separated or repeated", idList)
    .option("--kind <kinds>", `registry kinds, comma-separated (default: every kind each customer asked for): ${REGISTRY_KINDS.join(", ")}`, kindList)
    .option("--tool <tool>", "crane or skopeo (default INTAKE_COPY_TOOL, else crane when on PATH, else skopeo)")
    .option("--concurrency <n>", "registry operations at once", positiveInt, 4)
    .option("--no-latest", "leave `latest` where it is")
    .option("--json <path>", "write the per-target results as JSON")
    .option("--stack <name>", "stack whose settings to use", stackName, "dev")
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--key <file>", "distribution: the broker's PEM private key, for the delivery robot's offline credential (else INTAKE_DELIVERY_PASSWORD)")
    .option("--subscription <id>", "acr: the Azure subscription of the registry (default AZURE_SUBSCRIPTION_ID)")
    .option("--source-config <file>", "a mounted kubernetes.io/dockerconfigjson file holding the source registry's credential")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .action(
      async (opts: {
        source: string; build: string; version: string; customer: string[]; kind?: RegistryKind[]; tool?: string; concurrency: number; latest: boolean;
        json?: string; stack: string; roster?: string; key?: string; subscription?: string; sourceConfig?: string; project?: string;
      }) => {
        const projectDir = opts.project ? path.resolve(opts.project) : findProjectDir();
        const { settings, roster } = loadStack({ projectDir, stack: opts.stack, rosterPath: opts.roster && path.resolve(opts.roster) });
        let source;
        try {
          source = parseReference(opts.source);
        } catch (e) {
          throw new InputError(`--source: ${(e as Error).message}`);
        }
        const unknown = opts.customer.filter((id) => !roster.customers.some((c) => c.id === id));
        if (unknown.length) throw new InputError(`--customer: ${unknown.join(", ")} ${unknown.length > 1 ? "are" : "is"} not in ${roster.source}`);
        let tool;
        try {
          tool = chooseTool(opts.tool);
        } catch (e) {
          throw new InputError((e as Error).message);
        }
        const targets: DeliveryPlanTarget[] = opts.customer.flatMap((id) => {
          const c = roster.customers.find((x) => x.id === id)!;
          const kinds = opts.kind ?? c.registries.filter((k) => settings.enabledKinds.includes(k));
          return kinds.map((kind) => ({ customer: id, kind }));
        });
        // Credentials a delivery needs are checked before anything is read or copied.
        if (targets.some((t) => t.kind === "distribution") && !opts.key && !process.env.INTAKE_DELIVERY_PASSWORD) {
          throw new InputError(
            "distribution targets need the delivery robot's password: set INTAKE_DELIVERY_PASSWORD (`pulumi stack output distributionDeliveryPassword --show-secrets`) or pass --key with the broker's private key",
          );
        }
        const sourceCredential = await discoverCredential(source.registry, { dockerConfigJsonFile: opts.sourceConfig });
        if (sourceCredential) io.err(`source credential for ${source.registry}: ${sourceCredential.source}`);
        const progress = new DeliveryProgress(io.tty ?? ((s) => io.err(s.replace(/\n$/, ""))), !!io.tty);
        const t0 = performance.now();
        let results: TargetResult[];
        try {
          results = await deliver({
            source,
            sourceCredential,
            build: opts.build,
            version: opts.version,
            targets,
            tool,
            latest: opts.latest,
            concurrency: opts.concurrency,
            onEvent: (e) => progress.event(e),
            ...stackDelivery({
              settings,
              roster,
              deliveryPassword: process.env.INTAKE_DELIVERY_PASSWORD,
              ghcrToken: (id) => process.env[ghcrTokenVariable(id)],
              mint: { signingKey: opts.key ? loadPrivateSigningKey(opts.key) : undefined, azureSubscriptionId: opts.subscription ?? process.env.AZURE_SUBSCRIPTION_ID },
            }),
          });
        } catch (e) {
          progress.end();
          if (e instanceof IntakeError) throw e;
          io.err(`error: the source ${opts.source} could not be read: ${(e as Error).message}`);
          code = EXIT.failed;
          return;
        }
        progress.end();
        for (const r of results) io.out(resultLine(r));
        io.out(summaryLine(results, (performance.now() - t0) / 1000));
        if (opts.json) writeOut(opts.json, JSON.stringify({ source: opts.source, build: opts.build, version: opts.version, tool, results }, null, 2) + "\n");
        code = results.some((r) => r.status === "failed") ? EXIT.failed : results.some((r) => r.status === "denied") ? EXIT.denied : EXIT.ok;
      },
    );

  cli
    .command("shards")
    .description("the shard stacks of a stack and their customers; with --base, the stacks a change since that git ref touches (for CI)")
    .requiredOption("--stack <name>", "the base (platform) stack", stackName)
    .option("--base <git-ref>", "list only the stacks changed customers or settings touch since this ref")
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .option("--json", "print JSON (CI: a matrix of stacks)")
    .option("--init", "write the missing Pulumi.<stack>-shard-NN.yaml files from the platform stack's (needs --platform-stack)")
    .option("--platform-stack <ref>", "with --init: the platform stack as the shard stacks reference it (org/registry-intake/prod)")
    .option("--check", "check every shard stack file against the platform's (shard key, no settings of its own, equal provider config); exit 1 naming each difference")
    .action(async (opts: { stack: string; base?: string; roster?: string; project?: string; json?: boolean; init?: boolean; platformStack?: string; check?: boolean }) => {
      const projectDir = opts.project ? path.resolve(opts.project) : findProjectDir();
      const rosterPath = opts.roster && path.resolve(opts.roster);
      if (opts.platformStack && !opts.init) throw new InputError("--platform-stack is for --init");
      if (opts.check) {
        if (opts.init || opts.base) throw new InputError("--check goes alone: not with --init or --base");
        const r = checkShardStacks({ projectDir, stack: opts.stack });
        if (opts.json) io.out(JSON.stringify(r));
        else if (r.shards === 0) io.out(`${opts.stack} is not sharded: no shard stack files to check`);
        else if (r.problems.length === 0) io.out(`${r.shards} shard stack files agree with Pulumi.${opts.stack}.yaml (every setting is read from it)`);
        else for (const p of r.problems) io.out(p);
        if (r.problems.length) code = EXIT.violations;
        return;
      }
      if (opts.init) {
        if (opts.base) throw new InputError("--init and --base do not go together");
        if (!opts.platformStack) throw new InputError("--init needs --platform-stack: the platform stack as the shard stacks reference it, e.g. org/registry-intake/prod");
        const r = initShardStacks({ projectDir, stack: opts.stack, platformStack: opts.platformStack });
        if (opts.json) io.out(JSON.stringify(r));
        else {
          for (const f of r.created) io.out(`created ${f}`);
          if (r.kept.length) io.out(`${r.kept.length} shard stack file${r.kept.length === 1 ? "" : "s"} already there and in agreement, left as they are`);
          if (r.copySecrets.length) {
            io.out("Secrets are not copied (ciphertext belongs to the stack that encrypted it); after `pulumi stack init` of each new stack run:");
            for (const c of r.copySecrets) io.out(`  pulumi config cp ${c}`);
          }
        }
        return;
      }
      if (opts.base) {
        const { affectedStacks } = await import("./plan/diff.js");
        const r = affectedStacks({ projectDir, stack: opts.stack, base: opts.base, rosterPath });
        if (opts.json) io.out(JSON.stringify(r));
        else io.out(r.stacks.length ? r.stacks.join("\n") : `no stack is touched by changes since ${opts.base}`);
        return;
      }
      const { settings, roster } = loadStack({ projectDir, stack: opts.stack, rosterPath });
      const sh = settings.shard;
      const rows = sh
        ? Array.from({ length: sh.count }, (_, i) => ({ stack: shardStackName(opts.stack, i, sh.count), customers: roster.customers.filter((c) => shardOf(c, sh.count) === i).map((c) => c.id) }))
        : [{ stack: opts.stack, customers: roster.customers.map((c) => c.id) }];
      if (opts.json) io.out(JSON.stringify({ platform: opts.stack, shards: rows }));
      else {
        const customers = plural(roster.customers.length, "customer");
        io.out(sh ? `${opts.stack}: platform stack, ${plural(sh.count, "shard stack")}, ${customers}` : `${opts.stack}: not sharded (one stack), ${customers}`);
        for (const r of rows) io.out(`  ${r.stack.padEnd(24)} ${String(r.customers.length).padStart(5)} customers`);
      }
    });

  const printOnboard = (r: OnboardResult) => {
    io.out(`${r.action} ${r.customer} on stack ${r.stack}${r.shard !== undefined ? ` (shard ${r.shard})` : ""}: ${Object.entries(r.changes).map(([k, n]) => `${n} ${k}`).join(", ") || "no changes"}`);
    for (const [kind, ns] of Object.entries(r.namespaces)) io.out(`  ${kind.padEnd(12)} ${ns}`);
    for (const c of r.credentials) io.out(`  credentials: ${c}`);
  };
  cli
    .command("onboard")
    .description("add one customer: validate, preview with the policy pack and up its shard stack (Automation API), then write the roster")
    .requiredOption("--file <customer.yaml>", "the customer's roster entry (YAML)")
    .requiredOption("--stack <name>", "the base (platform) stack; with sharding the customer's shard stack is chosen from it", stackName)
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .option("--json", "print the result as JSON")
    .action(async (opts: { file: string; stack: string; roster?: string; project?: string; json?: boolean }) => {
      const projectDir = opts.project ? path.resolve(opts.project) : findProjectDir();
      const { onboard, readCustomerFile } = await import("../automation/onboard.js");
      const entry = readCustomerFile(opts.file);
      const r = await onboard(entry, { projectDir, stack: opts.stack, rosterPath: opts.roster && path.resolve(opts.roster), onOutput: (l) => io.err(l.trimEnd()) });
      if (opts.json) io.out(JSON.stringify(r, null, 2));
      else printOnboard(r);
    });
  cli
    .command("offboard")
    .description("offboard one customer (status offboarded: credentials deleted, repositories kept) through its shard stack")
    .requiredOption("--customer <id>", "customer id")
    .requiredOption("--stack <name>", "the base (platform) stack", stackName)
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .option("--json", "print the result as JSON")
    .action(async (opts: { customer: string; stack: string; roster?: string; project?: string; json?: boolean }) => {
      const projectDir = opts.project ? path.resolve(opts.project) : findProjectDir();
      const { offboard } = await import("../automation/onboard.js");
      const r = await offboard(opts.customer, { projectDir, stack: opts.stack, rosterPath: opts.roster && path.resolve(opts.roster), onOutput: (l) => io.err(l.trimEnd()) });
      if (opts.json) io.out(JSON.stringify(r, null, 2));
      else printOnboard(r);
    });

  try {
    await cli.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.invalidInput;
    // The one error family: its message, its exit code. Anything else is a defect, shown whole.
    if (e instanceof IntakeError) {
      io.err(`error: ${e.message}`);
      return e.exitCode;
    }
    throw e;
  }
  return code;
}
