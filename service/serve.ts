import { createServer, type Server } from "node:http";
import { hostname } from "node:os";
import pino from "pino";
import type { Engine, OnboardOptions } from "../automation/onboard";
import { InvalidInput } from "../core/errors";
import { loadStackContext } from "../core/stack";
import { Api } from "./api";
import { Authenticator, type AuthOptions } from "./auth";
import type { JobStore } from "./jobs";
import { openJobStore } from "./stores";
import { ServiceMetrics } from "./metrics";
import { Worker } from "./worker";

export interface ServeOptions {
  projectDir: string;
  stack: string;
  rosterPath?: string;
  listen: { host: string; port: number };
  /** `sqlite:FILE` or `postgres://…`. */
  database: string;
  workers: number;
  auth: AuthOptions;
  metricsListen?: { host: string; port: number };
  callbackSecret?: string;
  /** This replica's name in leases and job steps (default: host name and process id). */
  replica?: string;
  leaseMs?: number;
  pollMs?: number;
  policyPack?: string;
  lockWait?: OnboardOptions["lockWait"];
  /** The engine (tests: a stand-in); default the Automation API. */
  engine?: Engine;
  /** Log lines (JSON); default stderr. */
  logTo?: NodeJS.WritableStream;
}

/**
 * The onboarding service: the HTTP API, a worker that runs jobs, the job store, and /metrics.
 * It runs in a clone of the roster repository; every change is a commit on the roster branch
 * (the stack's `onboarding.git`), so CI's `pulumi up` and the service never undo each other.
 */
export class OnboardingService {
  private server?: Server;
  private constructor(
    readonly store: JobStore,
    readonly worker: Worker,
    private readonly api: Api,
    private readonly metrics: ServiceMetrics,
    private readonly o: ServeOptions,
    readonly log: pino.Logger,
  ) {}

  static async start(o: ServeOptions): Promise<{ service: OnboardingService; port: number; metricsPort?: number }> {
    const { settings } = loadStackContext({ projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath });
    if (!settings.onboarding?.git) {
      throw new InvalidInput(
        `intake serve: stack ${o.stack} has no onboarding.git setting; the service commits every change to the roster repository: ` +
          "set registry-intake:onboarding: { git: { remote: origin, branch: main } } in its Pulumi.<stack>.yaml",
      );
    }
    const auth = new Authenticator(o.auth);
    const store = await openJobStore(o.database);
    const log = pino({ base: { service: "intake-serve" }, timestamp: pino.stdTimeFunctions.isoTime }, (o.logTo ?? process.stderr) as pino.DestinationStream);
    const write = (f: Record<string, unknown>) => {
      const { level = "info", msg, ...rest } = f as { level?: "info" | "warn" | "error"; msg: string };
      log[level](rest, msg);
    };
    const metrics = new ServiceMetrics(store);
    const onboarding = { projectDir: o.projectDir, stack: o.stack, rosterPath: o.rosterPath };
    const worker = new Worker({
      store,
      replica: o.replica ?? `${hostname()}-${process.pid}`,
      workers: o.workers,
      leaseMs: o.leaseMs ?? 60_000,
      pollMs: o.pollMs ?? 1000,
      onboarding: { ...onboarding, policyPack: o.policyPack, lockWait: o.lockWait, engine: o.engine },
      callbackSecret: o.callbackSecret,
      metrics,
      log: write,
    });
    const api = new Api({ store, auth, onboarding, canCallBack: o.callbackSecret !== undefined, queued: () => worker.poke(), log: write });
    const service = new OnboardingService(store, worker, api, metrics, o, log);
    try {
      const metricsPort = o.metricsListen
        ? await listening("--metrics-listen", o.metricsListen, () => metrics.listen(o.metricsListen!.host, o.metricsListen!.port))
        : undefined;
      const port = await listening("--listen", o.listen, () => service.listen());
      worker.start();
      return { service, port, metricsPort };
    } catch (e) {
      await metrics.close();
      await store.close();
      throw e;
    }
  }

  private async listen(): Promise<number> {
    this.server = createServer(this.api.handle);
    this.server.requestTimeout = 30_000;
    this.server.headersTimeout = 10_000;
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.o.listen.port, this.o.listen.host, () => resolve());
    });
    return (this.server.address() as { port: number }).port;
  }

  /**
   * Stop: no new requests or jobs; running jobs finish up to `deadlineMs`, then are cancelled and
   * given back to the queue; the store is closed.
   */
  async stop(deadlineMs: number): Promise<void> {
    const closed = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
    this.server?.closeIdleConnections();
    await this.worker.stop(deadlineMs);
    this.server?.closeAllConnections();
    await closed;
    await this.metrics.close();
    await this.store.close();
  }
}

async function listening(flag: string, a: { host: string; port: number }, listen: () => Promise<number>): Promise<number> {
  try {
    return await listen();
  } catch (e) {
    throw new InvalidInput(`${flag} ${a.host}:${a.port}: cannot listen there (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}
