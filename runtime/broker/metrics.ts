import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import type { AccessDenialCode } from "../../core/access";
import type { LoginFailure } from "./auth";
import type { RobotDenialCode } from "./grant";

/** Why a token or credential was denied, as a fixed word: the `reason` label, and `code` in the log line. */
export type DenyCode =
  | LoginFailure
  | RobotDenialCode
  | AccessDenialCode
  | "unknown_service"
  | "credentials_too_long"
  | "nothing_allowed"
  | "delivery_disabled"
  | "caller_not_authenticated"
  | "mint_denied"
  | "mint_failed"
  | "pull_limit";

/** Which broker answer a decision belongs to: `/token` (and `/auth/token`) or `/registry/credentials`. */
export type Endpoint = "token" | "credentials";

/** The `route` of the latency histogram: the endpoints, and everything else as one. */
export type Route = Endpoint | "healthz" | "other";

/** A source the broker reloads on change. */
export type ReloadSource = "roster" | "access_list" | "caller_tokens";

/** The route of a request path (the path as `new URL` gives it, without the query). */
export function routeOf(pathname: string): Route {
  if (pathname === "/token" || pathname === "/auth/token") return "token";
  if (pathname === "/registry/credentials") return "credentials";
  if (pathname === "/healthz") return "healthz";
  return "other";
}

/** Seconds: a remembered password answers in well under a millisecond, a bcrypt check in tens, a cloud mint in seconds. */
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * The broker's Prometheus metrics, in a registry of its own (two brokers in one process count
 * apart). Every `issue` or `deny` line the broker logs is counted once, with the same customer
 * and reason code; request latency is counted by route and status class, never by raw path.
 */
export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly issuedTotal: Counter<"customer" | "endpoint">;
  private readonly deniedTotal: Counter<"customer" | "endpoint" | "reason">;
  private readonly authFailures: Counter<"reason">;
  private readonly duration: Histogram<"route" | "status_class">;
  private readonly reloads: Counter<"source">;
  private readonly reloadFailures: Counter<"source">;
  private readonly connections: Gauge;
  /** Histogram children by `route status_class`, bound once: cheaper per request than labelling each observation. */
  private readonly timers = new Map<string, { observe: (v: number) => void }>();
  private server?: Server;

  constructor(o: { pendingLogins?: () => number; processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.issuedTotal = new Counter({
      name: "intake_broker_tokens_issued_total",
      help: "Tokens (and /registry/credentials credentials) issued, by roster customer id (_anonymous, _delivery, _unknown otherwise)",
      labelNames: ["customer", "endpoint"],
      registers,
    });
    this.deniedTotal = new Counter({
      name: "intake_broker_tokens_denied_total",
      help: "Token and credential requests denied (refused, or given an empty token), by customer and reason code",
      labelNames: ["customer", "endpoint", "reason"],
      registers,
    });
    this.authFailures = new Counter({
      name: "intake_broker_auth_failures_total",
      help: "Failed logins and refused callers, by reason code",
      labelNames: ["reason"],
      registers,
    });
    this.duration = new Histogram({
      name: "intake_broker_request_duration_seconds",
      help: "Time to answer a request, by route and status class",
      labelNames: ["route", "status_class"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.reloads = new Counter({
      name: "intake_broker_reloads_total",
      help: "Sources reloaded after a change (roster, access_list, caller_tokens)",
      labelNames: ["source"],
      registers,
    });
    this.reloadFailures = new Counter({
      name: "intake_broker_reload_failures_total",
      help: "Reloads that failed: the source's last good copy stays in use",
      labelNames: ["source"],
      registers,
    });
    this.connections = new Gauge({ name: "intake_broker_open_connections", help: "Client connections open on the token listener", registers });
    const pending = o.pendingLogins;
    if (pending) {
      new Gauge({
        name: "intake_broker_password_checks_pending",
        help: "bcrypt checks running or queued",
        registers,
        collect() {
          this.set(pending());
        },
      });
    }
    if (o.processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  issued(customer: string, endpoint: Endpoint): void {
    this.issuedTotal.inc({ customer, endpoint });
  }

  denied(customer: string, endpoint: Endpoint, reason: DenyCode): void {
    this.deniedTotal.inc({ customer, endpoint, reason });
  }

  authFailed(reason: LoginFailure | "credentials_too_long" | "caller_not_authenticated"): void {
    this.authFailures.inc({ reason });
  }

  /** One answered request: its route, status and time in seconds. */
  observe(route: Route, status: number, seconds: number): void {
    const cls = status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : "other";
    const key = `${route} ${cls}`;
    let timer = this.timers.get(key);
    if (!timer) {
      timer = this.duration.labels(route, cls);
      this.timers.set(key, timer);
    }
    timer.observe(seconds);
  }

  reloaded(source: ReloadSource, ok: boolean): void {
    (ok ? this.reloads : this.reloadFailures).inc({ source });
  }

  connectionOpened(): void {
    this.connections.inc();
  }

  connectionClosed(): void {
    this.connections.dec();
  }

  /** The exposition text (Prometheus text format 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  /**
   * Serve GET /metrics on host:port, a listener of its own: the token listener is the public
   * endpoint every registry client calls, and these labels name the customers. Resolves to the
   * bound port.
   */
  async listen(host: string, port: number): Promise<number> {
    const server = createServer({ requestTimeout: 10_000, headersTimeout: 5_000 }, (req, res) => void this.answer(req, res));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => resolve((server.address() as { port: number }).port));
    });
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const pathname = (req.url ?? "/").split("?")[0];
    if (pathname !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("not found: the metrics are at /metrics\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET", "content-type": "text/plain" }).end("method not allowed\n");
      return;
    }
    try {
      const body = await this.text();
      res.writeHead(200, { "content-type": this.registry.contentType, "cache-control": "no-store" }).end(req.method === "HEAD" ? undefined : body);
    } catch (e) {
      res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${(e as Error).message}\n`);
    }
  }

  close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
