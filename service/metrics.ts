import { createServer, type Server } from "node:http";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { JOB_ACTIONS, JOB_STATES, type JobAction, type JobStore } from "./jobs";

/**
 * The service's Prometheus metrics, on a listener of their own: jobs by state and action (read
 * from the store at each scrape, so every replica reports the same numbers), how long jobs took,
 * and the retries on a stack's lock or a refused push.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly duration: Histogram<"action" | "state">;
  private readonly retries: Counter<"reason">;
  private readonly callbacks: Counter<"result">;
  private server?: Server;

  constructor(store: JobStore) {
    const registry = this.registry;
    new Gauge({
      name: "intake_jobs",
      help: "Jobs in the store by state and action.",
      labelNames: ["state", "action"],
      registers: [registry],
      async collect() {
        this.reset();
        for (const s of JOB_STATES) for (const a of JOB_ACTIONS) this.set({ state: s, action: a }, 0);
        for (const r of await store.counts()) this.set({ state: r.state, action: r.action }, r.n);
      },
    });
    this.duration = new Histogram({
      name: "intake_job_duration_seconds",
      help: "Time from a replica taking a job to its end, by action and end state.",
      labelNames: ["action", "state"],
      buckets: [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1200],
      registers: [registry],
    });
    this.retries = new Counter({
      name: "intake_job_retries_total",
      help: "Retries of a job step: lock (another update held the stack) or push (another writer pushed first).",
      labelNames: ["reason"],
      registers: [registry],
    });
    this.callbacks = new Counter({ name: "intake_callbacks_total", help: "Callback tries by result.", labelNames: ["result"], registers: [registry] });
    this.retries.inc({ reason: "lock" }, 0);
    this.retries.inc({ reason: "push" }, 0);
  }

  finished(action: JobAction, state: string, seconds: number): void {
    this.duration.observe({ action, state }, seconds);
  }

  retry(reason: "lock" | "push"): void {
    this.retries.inc({ reason });
  }

  callback(result: "delivered" | "retry" | "failed"): void {
    this.callbacks.inc({ result });
  }

  async listen(host: string, port: number): Promise<number> {
    this.server = createServer((req, res) => {
      if (req.method === "GET" && req.url?.split("?")[0] === "/metrics") {
        this.registry.metrics().then(
          (text) => res.writeHead(200, { "content-type": this.registry.contentType }).end(text),
          (e: Error) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics: ${e.message.split("\n")[0]}\n`),
        );
      } else res.writeHead(404, { "content-type": "text/plain" }).end("not found: GET /metrics\n");
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(port, host, () => resolve());
    });
    return (this.server.address() as { port: number }).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
