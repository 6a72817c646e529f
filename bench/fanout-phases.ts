import type { DeliveryEvent } from "../runtime/delivery/deliver";
import { readFileSync } from "node:fs";
import { nodeFetch } from "../runtime/registry/transport";

/** CPU seconds a process has used (user and system), and those of its children it has waited for; undefined once it is gone. */
function cpuSeconds(pid: number | "self"): { own: number; children: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command's closing parenthesis: utime, stime, cutime, cstime are the 12th to 15th.
    const f = stat
      .slice(stat.lastIndexOf(")") + 2)
      .split(" ")
      .map(Number);
    return { own: (f[11] + f[12]) / 100, children: (f[13] + f[14]) / 100 };
  } catch {
    return undefined;
  }
}

/** One HTTP request deliver made (registry or token endpoint), in ms from the run's start. */
interface Request {
  t0: number;
  t1: number;
  kind: string;
  customer: string;
}

/**
 * Where a delivery's time goes: every request its registry client makes (through `fetchImpl`)
 * and every progress event, with times from the start of the run. Printed as one line per phase
 * (first start, last end, requests and their summed time) and the per-target steps.
 */
export class PhaseTrace {
  private origin = performance.now();
  private readonly requests: Request[] = [];
  private readonly events: { t: number; e: DeliveryEvent }[] = [];
  /** Processes whose CPU time is counted over the run (a registry), by name. */
  private readonly watched = new Map<string, number>();
  private cpuAtStart = new Map<string, { own: number; children: number } | undefined>();

  /** Count `pid`'s CPU seconds over each run as `name`'s. */
  watch(name: string, pid: number): this {
    this.watched.set(name, pid);
    return this;
  }

  private cpuNow() {
    return new Map<string, { own: number; children: number } | undefined>([
      ["self", cpuSeconds("self")],
      ...[...this.watched].map(([n, pid]) => [n, cpuSeconds(pid)] as const),
    ]);
  }

  reset(): void {
    this.origin = performance.now();
    this.requests.length = 0;
    this.events.length = 0;
    this.cpuAtStart = this.cpuNow();
  }

  private now = () => performance.now() - this.origin;

  readonly fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const t0 = this.now();
    const url = new URL(String(input instanceof Request ? input.url : input));
    const method = (init?.method ?? "GET").toUpperCase();
    const m = /^\/v2\/intake\/([^/]+)\/[^/]+\/(manifests|blobs|tags)\/(uploads\/)?/.exec(url.pathname);
    const scoped = /repository:intake\/([^/]+)\//.exec(url.searchParams.getAll("scope").join(" "));
    const what = m?.[3] ? "blob upload" : m?.[2] === "blobs" ? "blob" : m?.[2] === "tags" ? "tags" : "manifest";
    const kind = url.pathname.endsWith("/token") ? "token" : m ? `${method} ${what}` : `${method} source`;
    try {
      return await nodeFetch(input as string, init);
    } finally {
      this.requests.push({ t0, t1: this.now(), kind, customer: m?.[1] ?? scoped?.[1] ?? "" });
    }
  }) as typeof fetch;

  readonly onEvent = (e: DeliveryEvent) => this.events.push({ t: this.now(), e });

  /**
   * Steps per target: a step starts at its progress event and ends with the last request the
   * target made before its next step (a target waiting idle is not counted in its step).
   */
  private steps(): { customer: string; step: string; start: number; end: number }[] {
    const open = new Map<string, { step: string; start: number }>();
    const out: { customer: string; step: string; start: number; end: number }[] = [];
    for (const { t, e } of this.events) {
      if (e.type !== "start" && e.type !== "done") continue;
      const customer = e.type === "start" ? e.customer : e.result.customer;
      const was = open.get(customer);
      if (was) {
        const mine = this.requests.filter((r) => r.customer === customer && r.t0 >= was.start && r.t0 < t);
        // A tool copy makes no request of ours: it lasts until the next step.
        const end = was.step === "copy" || !mine.length ? t : Math.max(...mine.map((r) => r.t1));
        out.push({ customer, step: was.step, start: was.start, end });
      }
      if (e.type === "start") open.set(customer, { step: e.step, start: t });
      else open.delete(customer);
    }
    return out;
  }

  print(log: (s: string) => void = console.log): void {
    const cpu = this.cpuNow();
    const ms = (n: number) => `${Math.round(n)}`.padStart(6);
    const steps = this.steps();
    const source = this.events.find((x) => x.e.type === "source")?.t ?? 0;
    log(`    phases (ms from the start of deliver; busy = summed request time):`);
    log(`      ${"source read".padEnd(22)} ${ms(0)} .. ${ms(source)}`);
    for (const step of ["check", "copy", "mount", "tags"]) {
      const s = steps.filter((x) => x.step === step);
      if (!s.length) continue;
      const names = new Set(s.map((x) => x.customer));
      const reqs = this.requests.filter((r) => names.has(r.customer) && s.some((x) => x.customer === r.customer && r.t0 >= x.start && r.t0 < x.end));
      const counts = Object.entries(reqs.reduce<Record<string, number>>((m, r) => ({ ...m, [r.kind]: (m[r.kind] ?? 0) + 1 }), {}))
        .map(([k, n]) => `${n} ${k}`)
        .join(", ");
      const busy = reqs.reduce((n, r) => n + r.t1 - r.t0, 0);
      log(
        `      ${`${step} (${names.size} targets)`.padEnd(22)} ${ms(Math.min(...s.map((x) => x.start)))} .. ${ms(Math.max(...s.map((x) => x.end)))}  busy ${ms(busy)}  ${counts}`,
      );
    }
    const tokens = this.requests.filter((r) => r.kind === "token");
    log(`      ${"token fetches".padEnd(22)} ${tokens.length} in all, ${Math.round(tokens.reduce((n, r) => n + r.t1 - r.t0, 0))} ms summed`);
    const end = Math.max(0, ...this.events.map((x) => x.t));
    log(`      ${"last result".padEnd(22)} ${ms(end)}`);
    // Where the CPU went: on a machine of few cores a fan-out is bound by it, not by the wire.
    const used = (name: string, part: "own" | "children") => {
      const a = this.cpuAtStart.get(name)?.[part];
      const b = cpu.get(name)?.[part];
      return a === undefined || b === undefined ? "?" : (b - a).toFixed(2);
    };
    log(
      `      ${"CPU seconds".padEnd(22)} ${[...this.watched.keys()].map((n) => `${n} ${used(n, "own")}`).join(", ")}, ` +
        `this process (client, proxy, broker) ${used("self", "own")}, tool copies ${used("self", "children")}`,
    );
    log(`    per target (step start..end):`);
    for (const customer of [...new Set(steps.map((s) => s.customer))]) {
      log(
        `      ${customer.padEnd(8)} ${steps
          .filter((s) => s.customer === customer)
          .map((s) => `${s.step} ${Math.round(s.start)}..${Math.round(s.end)}`)
          .join("  ")}`,
      );
    }
  }
}
