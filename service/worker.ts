import { createHmac } from "node:crypto";
import { changeCustomer, offboard, onboard, OnboardError, rotateCustomer, type CustomerChange, type Engine, type OnboardOptions, type OnboardResult } from "../automation/onboard";
import type { RotationRequest } from "../automation/rotate";
import { publicJob, type JobRecord, type JobStep, type JobStore } from "./jobs";
import type { ServiceMetrics } from "./metrics";

/** What a job's request holds, by action (stored as JSON with the job). */
export type JobRequest = { entry: Record<string, unknown> } | { change: CustomerChange } | { offboard: true } | { rotate: RotationRequest };

export interface WorkerOptions {
  store: JobStore;
  /** This replica's name (the lease owner). */
  replica: string;
  /** Jobs of different stacks run at once, up to this many. */
  workers: number;
  /** How long a lease lasts without renewal; renewed every third of it. */
  leaseMs: number;
  /** How often to look for work when none was found. */
  pollMs: number;
  onboarding: Pick<OnboardOptions, "projectDir" | "stack" | "rosterPath" | "policyPack" | "lockWait"> & { engine?: Engine };
  /** The HMAC key callbacks are signed with. */
  callbackSecret?: string;
  metrics?: ServiceMetrics;
  log: (fields: Record<string, unknown>) => void;
}

/** How a callback is retried: this many tries, waiting 1 s, 2 s, 4 s … up to 5 minutes between them. */
const CALLBACK_TRIES = 8;

/**
 * Takes jobs from the store and runs them through the onboarding library, one per stack at a time
 * (the store's claim) and up to `workers` at once. A job holds a lease renewed while it runs; a
 * job whose lease this replica lost (it stalled past the lease) is left to the replica that took
 * it. A job run again (another replica's crash) finds its roster commit by its trailer.
 */
export class Worker {
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private stopping = false;
  private wake?: () => void;
  private loop?: Promise<void>;

  constructor(private readonly o: WorkerOptions) {}

  start(): void {
    this.loop = this.run();
  }

  /** Look for work now (a job was just queued). */
  poke(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let took = false;
      try {
        if (this.running.size < this.o.workers) {
          const job = await this.o.store.claim(this.o.replica, this.o.leaseMs);
          if (job) {
            took = true;
            this.begin(job);
          }
        }
        took = (await this.deliverCallback()) || took;
      } catch (e) {
        this.o.log({ level: "error", msg: `job store: ${(e as Error).message.split("\n")[0]}` });
      }
      if (!took && !this.stopping) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, this.o.pollMs);
          this.wake = () => {
            clearTimeout(t);
            r();
          };
        });
        this.wake = undefined;
      }
    }
  }

  private begin(job: JobRecord): void {
    const abort = new AbortController();
    const done = this.execute(job, abort.signal).finally(() => {
      this.running.delete(job.id);
      this.poke();
    });
    this.running.set(job.id, { abort, done });
  }

  private async execute(job: JobRecord, signal: AbortSignal): Promise<void> {
    const { store, replica, leaseMs, metrics } = this.o;
    const started = Date.now();
    const steps: JobStep[] = [...job.steps];
    let lost = false;
    const renew = setInterval(() => {
      store.renew(job.id, replica, leaseMs).then(
        (held) => {
          if (!held && !lost) {
            lost = true;
            this.o.log({ level: "warn", msg: "lost the lease of a job (another replica took it)", job: job.id });
          }
        },
        () => {},
      );
    }, Math.max(50, Math.floor(leaseMs / 3)));
    const step = (name: string) => {
      if (steps.at(-1)?.name === name) return;
      steps.push({ name, at: new Date().toISOString() });
      void store.progress(job.id, replica, { steps: [...steps] }).catch(() => {});
    };
    const onOutput = (line: string) => {
      const l = line.trimEnd();
      if (/: preview of \S+ with the policy pack$/.test(l)) step("preview");
      else if (/^roster: commit /.test(l)) step("commit");
      else if (/^roster: pushed /.test(l)) step("pushed");
      else if (/: up \S+$/.test(l)) step("up");
      if (/is locked by another update|was locked by a process of this host that is gone/.test(l)) metrics?.retry("lock");
      if (/^roster: \S+ moved on/.test(l)) metrics?.retry("push");
      if (/^roster: |: (preview|up) |locked by /.test(l)) this.o.log({ level: "info", msg: l, job: job.id });
    };
    this.o.log({ level: "info", msg: `job ${job.action} ${job.customer} on ${job.stack}${job.attempts > 1 ? ` (taken again, attempt ${job.attempts})` : ""}`, job: job.id });
    let end: { state: "succeeded" | "failed"; commit?: string | null; changes?: Record<string, number> | null; error?: string | null };
    try {
      const r = await this.perform(job, { ...this.o.onboarding, job: job.id, onOutput, signal });
      end = { state: "succeeded", commit: r.commit ?? null, changes: r.changes };
    } catch (e) {
      if (signal.aborted) {
        // Stopping past the deadline: the job goes back to the queue for the next replica.
        clearInterval(renew);
        await store.release(job.id, replica).catch(() => {});
        this.o.log({ level: "warn", msg: "job given back unfinished (the service is stopping)", job: job.id });
        return;
      }
      const message = e instanceof OnboardError ? e.message : `internal error: ${(e as Error).message}`;
      if (!(e instanceof OnboardError)) this.o.log({ level: "error", msg: (e as Error).stack ?? String(e), job: job.id });
      end = { state: "failed", error: message.split("\n").map((l) => l.trim()).filter(Boolean).join("; ") };
    } finally {
      clearInterval(renew);
    }
    const ours = await store.finish(job.id, replica, end);
    if (!ours) return this.o.log({ level: "warn", msg: "the job was taken by another replica meanwhile; its end is that replica's to record", job: job.id });
    metrics?.finished(job.action, end.state, (Date.now() - started) / 1000);
    this.o.log({ level: end.state === "succeeded" ? "info" : "warn", msg: `job ${end.state}${end.error ? `: ${end.error}` : ""}`, job: job.id, commit: end.commit ?? undefined });
    if (job.callbackUrl) this.poke();
  }

  private perform(job: JobRecord, o: OnboardOptions): Promise<OnboardResult> {
    const req = job.request as JobRequest;
    if ("entry" in req) return onboard(req.entry, o);
    if ("change" in req) return changeCustomer(job.customer, req.change, o);
    if ("rotate" in req) return rotateCustomer(job.customer, req.rotate, o);
    return offboard(job.customer, o);
  }

  /** Sends one due callback: POST of `{ job }`, signed `Intake-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`. */
  private async deliverCallback(): Promise<boolean> {
    const due = await this.o.store.claimCallback(this.o.replica, 60_000);
    if (!due) return false;
    const { job, tries } = due;
    const body = JSON.stringify({ job: publicJob(job) });
    const t = Math.floor(Date.now() / 1000);
    const signature = createHmac("sha256", this.o.callbackSecret ?? "").update(`${t}.${body}`).digest("hex");
    let status = 0;
    let why = "";
    try {
      const r = await fetch(job.callbackUrl!, { method: "POST", headers: { "content-type": "application/json", "intake-signature": `t=${t},v1=${signature}`, "intake-job": job.id }, body, signal: AbortSignal.timeout(10_000), redirect: "manual" });
      status = r.status;
      await r.arrayBuffer().catch(() => {});
    } catch (e) {
      why = (e as Error).message;
    }
    const delivered = status >= 200 && status < 300;
    const giveUp = !delivered && tries >= CALLBACK_TRIES;
    await this.o.store.callbackDone(job.id, { delivered, giveUp, retryMs: Math.min(300_000, 1000 * 2 ** (tries - 1)) });
    this.o.metrics?.callback(delivered ? "delivered" : giveUp ? "failed" : "retry");
    if (!delivered) this.o.log({ level: "warn", msg: `callback ${giveUp ? "given up" : "to be retried"} after try ${tries}: ${status ? `answered ${status}` : why}`, job: job.id });
    return true;
  }

  /**
   * Stop taking jobs; let the running ones finish up to `deadlineMs`, then abort them (the engine
   * cancels the update) and give them back to the queue for another replica.
   */
  async stop(deadlineMs: number): Promise<void> {
    this.stopping = true;
    this.poke();
    await this.loop;
    const all = [...this.running.values()];
    const timer = setTimeout(() => all.forEach((r) => r.abort.abort()), deadlineMs);
    await Promise.all(all.map((r) => r.done));
    clearTimeout(timer);
  }

  /** Jobs running on this replica now. */
  get busy(): number {
    return this.running.size;
  }
}

