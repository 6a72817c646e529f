import { Command } from "commander";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { deferSdkClosureModules } from "../../planning/sdk-modules";
import { InputError, listenAddress, positiveInt, projectDirOf, stackName, untilStopped, type CommandContext } from "../options";

/** `intake serve`: the onboarding service. */
export function register(cli: Command, ctx: CommandContext): void {
  cli
    .command("serve")
    .description(
      "the onboarding service: an HTTP API that onboards, changes, rotates and offboards customers as durable jobs (each a roster commit, then a Pulumi update)",
    )
    .requiredOption("--listen <host:port>", "address to serve the API on, e.g. 127.0.0.1:8080", listenAddress)
    .requiredOption("--stack <name>", "the base (platform) stack; its onboarding.git setting names the roster branch", stackName)
    .option("--database <url>", "jobs: sqlite:FILE (one replica) or postgres://USER@HOST:PORT/DB (several replicas)", "sqlite:.intake/jobs.db")
    .option("--workers <n>", "jobs of different stacks run at once, up to this many", positiveInt, 2)
    .option("--tokens <file>", 'bearer tokens: JSON {"tokens":[{"name":"crm","sha256":"<hex sha256 of the token>","role":"write"}]}')
    .option("--oidc-issuer <url>", "accept OIDC JWTs from this issuer (its JWKS from the discovery document); scope intake:read or intake:write")
    .option("--oidc-audience <aud>", "the audience OIDC JWTs must carry")
    .option("--metrics-listen <host:port>", "serve Prometheus metrics at /metrics on this address, a listener apart from --listen", listenAddress)
    .option("--callback-secret-file <file>", "the key callbacks are signed with (HMAC-SHA256); without it, requests may not ask for callbacks")
    .option("--lease-seconds <n>", "a job's lease: another replica takes a job whose replica stopped renewing it for this long", positiveInt, 60)
    .option("--drain-seconds <n>", "on SIGTERM, how long running jobs may go on before they are cancelled and given back", positiveInt, 600)
    .option("--replica <name>", "this replica's name in leases and job steps (default: host name and process id)")
    .option("--roster <path>", "roster file (default: the stack's roster setting)")
    .option("--project <dir>", "project folder holding Pulumi.yaml (default: found from the working folder)")
    .action(
      async (opts: {
        listen: { host: string; port: number };
        stack: string;
        database: string;
        workers: number;
        tokens?: string;
        oidcIssuer?: string;
        oidcAudience?: string;
        metricsListen?: { host: string; port: number };
        callbackSecretFile?: string;
        leaseSeconds: number;
        drainSeconds: number;
        replica?: string;
        roster?: string;
        project?: string;
      }) => {
        deferSdkClosureModules();
        if (!!opts.oidcIssuer !== !!opts.oidcAudience)
          throw new InputError("--oidc-issuer and --oidc-audience: give both (tokens must be for this service's audience) or neither");
        if (opts.oidcIssuer && !/^https?:\/\/\S+$/.test(opts.oidcIssuer)) throw new InputError(`--oidc-issuer ${opts.oidcIssuer}: not an http(s) URL`);
        const m = opts.metricsListen;
        if (m && m.host === opts.listen.host && m.port === opts.listen.port && m.port !== 0)
          throw new InputError(`--metrics-listen ${m.host}:${m.port}: the same address as --listen; the metrics need a listener of their own`);
        let callbackSecret: string | undefined;
        if (opts.callbackSecretFile) {
          try {
            callbackSecret = readFileSync(opts.callbackSecretFile, "utf8").trim();
          } catch (e) {
            throw new InputError(
              `--callback-secret-file ${opts.callbackSecretFile}: ${(e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message}`,
            );
          }
          if (callbackSecret.length < 32)
            throw new InputError(`--callback-secret-file ${opts.callbackSecretFile}: the key is under 32 characters; make one with: openssl rand -hex 32`);
        }
        const projectDir = projectDirOf(opts);
        const database =
          opts.database.startsWith("sqlite:") && !path.isAbsolute(opts.database.slice(7))
            ? `sqlite:${path.resolve(projectDir, opts.database.slice(7))}`
            : opts.database;
        const { OnboardingService } = await import("../../service/serve.js");
        const { service, port, metricsPort } = await OnboardingService.start({
          projectDir,
          stack: opts.stack,
          rosterPath: opts.roster && path.resolve(opts.roster),
          listen: opts.listen,
          database,
          workers: opts.workers,
          auth: { tokensFile: opts.tokens, oidc: opts.oidcIssuer ? { issuer: opts.oidcIssuer, audience: opts.oidcAudience! } : undefined },
          metricsListen: opts.metricsListen,
          callbackSecret,
          replica: opts.replica,
          leaseMs: opts.leaseSeconds * 1000,
        });
        ctx.io.err(`intake serve: listening on http://${opts.listen.host}:${port}/v1 (stack ${opts.stack}, jobs in ${service.store.kind})`);
        if (m) ctx.io.err(`intake serve: metrics on http://${m.host}:${metricsPort}/metrics`);
        await new Promise<void>((resolve) => {
          const stop = (signal: string) => {
            ctx.io.err(`intake serve: ${signal}: taking no new jobs; ${service.worker.busy} running may take up to ${opts.drainSeconds} s`);
            void service.stop(opts.drainSeconds * 1000).then(resolve);
          };
          untilStopped(stop);
        });
        ctx.io.err("intake serve: stopped");
      },
    );
}
