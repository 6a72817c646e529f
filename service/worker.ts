import { createHmac } from "node:crypto";
import { applyBatch, OnboardError, type BatchOutcome, type Change, type CustomerChange, type Engine, type OnboardOptions } from "../automation/onboard";
import type { RotationRequest } from "../automation/rotate";
import { publicJob, type JobRecord, type JobStore } from "./jobs";
import type { ServiceMetrics } from "./metrics";

/** What a job's request holds, by action (stored as JSON with the job). */
export type JobRequest = { entry: Record<string, unknown> } | { change: CustomerChange } | { offboard: true } | { rotate: RotationRequest };

export interface WorkerOptions {
  store: JobStore;
  /** This replica's name (the lease owner). */
  replica: string;
  /** Jobs of different stacks run at once, up to this many. */
  workers: number;
  /** At most this many queued jobs of one stack run as one batch (one preview, one up); default 10. */
  batch?: number;
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

/** The library's change of a stored job. */
function changeOf(j: JobRecord): Change {
  const req = j.request as JobRequest;
  if ("entry" in req) return { onboard: req.entry };
  if ("change" in req) return { change: req.change, id: j.customer };
  if ("rotate" in req) return { rotate: req.rotate, id: j.customer };
  return { offboard: true, id: j.customer };
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
  private runs = 0;
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
            // The stack is this replica's now: the jobs queued behind it go with it, one update for all.
            const more = await this.o.store.claimSameStack(this.o.replica, this.o.leaseMs, job.stack, (this.o.batch ?? 10) - 1);
            this.begin([job, ...more]);
          }
        }
        // Only a replica with the key signs callbacks; the others leave them to it.
        if (this.o.callbackSecret) took = (await this.deliverCallback()) || took;
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

  private begin(jobs: JobRecord[]): void {
    const abort = new AbortController();
    // A key of this run's own: the same job taken again (its lease ran out) is another run.
    const key = `${jobs[0].id}#${++this.runs}`;
    const done = this.execute(jobs, abort)
      .then(
        () => {},
        (e: Error) => this.o.log({ level: "error", msg: `a batch ended in error: ${e.stack ?? e.message}`, job: jobs.map((j) => j.id).join(",") }),
      )
      .finally(() => {
        this.running.delete(key);
        this.poke();
      });
    this.running.set(key, { abort, done });
  }

  /** Runs a batch of one stack's jobs (applyBatch: each its own commit, one preview, one up) and records each job's end. */
  private async execute(jobs: JobRecord[], abort: AbortController): Promise<void> {
    const { store, replica, leaseMs, metrics } = this.o;
    const signal = abort.signal;
    const started = Date.now();
    const steps = new Map(jobs.map((j) => [j.id, [...j.steps]]));
    // A lease lost (another replica took a job: this one stalled, or could not reach the store for
    // a whole lease) stops the batch: the engine's update is cancelled, the other replica runs it.
    let lostLease = false;
    let renewedAt = Date.now();
    const loseLease = (why: string) => {
      if (lostLease) return;
      lostLease = true;
      this.o.log({ level: "warn", msg: `stopping the batch: ${why}; another replica takes its jobs`, job: jobs.map((j) => j.id).join(",") });
      abort.abort();
    };
    const renew = setInterval(
      () => {
        Promise.all(jobs.map((j) => store.renew(j.id, replica, leaseMs))).then(
          (held) => {
            if (held.every(Boolean)) renewedAt = Date.now();
            else loseLease("a job's lease was taken by another replica");
          },
          () => {
            if (Date.now() - renewedAt >= leaseMs) loseLease(`the job store was unreachable for the whole lease (${leaseMs / 1000} s)`);
          },
        );
      },
      Math.max(50, Math.floor(leaseMs / 3)),
    );
    // A line names its change as `<action> <customer>` (`onboard acme: up dev`); a line naming none is the batch's.
    const whose = (line: string) => {
      const named = jobs.filter((j) => line.split(/[\s,:()]+/).some((w, i, words) => w === j.customer && words[i - 1] === j.action));
      return named.length ? named : jobs;
    };
    // Step writes one after another: a later list never lands before an earlier one.
    let writes = Promise.resolve();
    const step = (name: string, of: JobRecord[]) => {
      for (const j of of) {
        const list = steps.get(j.id)!;
        if (list.at(-1)?.name === name) continue;
        list.push({ name, at: new Date().toISOString() });
        const snapshot = [...list];
        writes = writes.then(() =>
          store.progress(j.id, replica, { steps: snapshot }).then(
            () => {},
            () => {},
          ),
        );
      }
    };
    let lastCommitted: JobRecord[] = jobs;
    const onOutput = (line: string) => {
      const l = line.trimEnd();
      if (/: preview of \S+ with the policy pack$/.test(l)) step("preview", whose(l.split(": preview of")[0]));
      else if (/^roster: commit /.test(l)) step("commit", (lastCommitted = whose(l)));
      else if (/^roster: pushed /.test(l)) step("pushed", lastCommitted);
      else if (/: up \S+$/.test(l)) step("up", whose(l.split(": up ")[0]));
      if (/is locked by another update|was locked by a process of this host that is gone/.test(l)) metrics?.retry("lock");
      if (/^roster: \S+ moved on/.test(l)) metrics?.retry("push");
      if (/^roster: |: (preview|up) |locked by |made alone/.test(l)) this.o.log({ level: "info", msg: l, job: jobs.map((j) => j.id).join(",") });
    };
    for (const j of jobs)
      this.o.log({
        level: "info",
        msg: `job ${j.action} ${j.customer} on ${j.stack}${j.attempts > 1 ? ` (taken again, attempt ${j.attempts})` : ""}${jobs.length > 1 ? ` (one of ${jobs.length} in one update)` : ""}`,
        job: j.id,
      });
    let outcomes: BatchOutcome[];
    try {
      outcomes = await applyBatch(
        jobs.map((j) => ({ job: j.id, change: changeOf(j) })),
        { ...this.o.onboarding, onOutput, signal },
      );
    } catch (e) {
      outcomes = jobs.map((j) => ({ job: j.id, error: e as Error }));
    } finally {
      clearInterval(renew);
    }
    await writes;
    for (const o of outcomes) {
      const job = jobs.find((j) => j.id === o.job)!;
      if (signal.aborted && !o.result) {
        // Stopped (SIGTERM past the deadline, or a lease lost): an unfinished job goes back to the
        // queue (a no-op when another replica holds it now); a finished one is recorded below.
        await store.release(job.id, replica).catch(() => {});
        this.o.log({ level: "warn", msg: "job given back unfinished", job: job.id });
        continue;
      }
      const e = o.error;
      if (e && !(e instanceof OnboardError)) this.o.log({ level: "error", msg: e.stack ?? String(e), job: job.id });
      const message = e ? (e instanceof OnboardError ? e.message : `internal error: ${e.message}`) : "";
      const end = o.result
        ? { state: "succeeded" as const, commit: o.result.commit ?? null, changes: o.result.changes }
        : {
            state: "failed" as const,
            commit: e instanceof OnboardError ? (e.commit ?? null) : null,
            error: message
              .split("\n")
              .map((l) => l.trim())
              .filter(Boolean)
              .join("; "),
          };
      let ours: boolean;
      try {
        ours = await store.finish(job.id, replica, end);
      } catch (err) {
        // The store is unreachable: the lease runs out and another replica runs the job again (its commit found by its trailer).
        this.o.log({
          level: "error",
          msg: `could not record the job's end (${(err as Error).message.split("\n")[0]}); it is run again once its lease runs out`,
          job: job.id,
        });
        continue;
      }
      if (!ours) {
        this.o.log({ level: "warn", msg: "the job was taken by another replica meanwhile; its end is that replica's to record", job: job.id });
        continue;
      }
      metrics?.finished(job.action, end.state, (Date.now() - started) / 1000);
      this.o.log({
        level: end.state === "succeeded" ? "info" : "warn",
        msg: `job ${end.state}${"error" in end ? `: ${end.error}` : ""}`,
        job: job.id,
        commit: "commit" in end ? (end.commit ?? undefined) : undefined,
      });
    }
    if (jobs.some((j) => j.callbackUrl)) this.poke();
  }

  /** Sends one due callback: POST of `{ job }`, signed `Intake-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`. */
  private async deliverCallback(): Promise<boolean> {
    const due = await this.o.store.claimCallback(this.o.replica, 60_000);
    if (!due) return false;
    const { job, tries } = due;
    const body = JSON.stringify({ job: publicJob(job) });
    const t = Math.floor(Date.now() / 1000);
    const signature = createHmac("sha256", this.o.callbackSecret!).update(`${t}.${body}`).digest("hex");
    let status = 0;
    let why = "";
    try {
      const r = await fetch(job.callbackUrl!, {
        method: "POST",
        headers: { "content-type": "application/json", "intake-signature": `t=${t},v1=${signature}`, "intake-job": job.id },
        body,
        signal: AbortSignal.timeout(10_000),
        redirect: "manual",
      });
      status = r.status;
      await r.arrayBuffer().catch(() => {});
    } catch (e) {
      why = (e as Error).message;
    }
    const delivered = status >= 200 && status < 300;
    const giveUp = !delivered && tries >= CALLBACK_TRIES;
    await this.o.store.callbackDone(job.id, { delivered, giveUp, retryMs: Math.min(300_000, 1000 * 2 ** (tries - 1)) });
    this.o.metrics?.callback(delivered ? "delivered" : giveUp ? "failed" : "retry");
    if (!delivered)
      this.o.log({
        level: "warn",
        msg: `callback ${giveUp ? "given up" : "to be retried"} after try ${tries}: ${status ? `answered ${status}` : why}`,
        job: job.id,
      });
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
