import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import type { Readable } from "node:stream";
import { InvalidInput } from "../../core/errors";
import { productOfPath } from "../../core/product-path";
import { NO_CUSTOMER } from "./principal";

/** A log that cannot be read: names the file and why. */
class UsageLogError extends InvalidInput {}

/** One customer's (or one of NO_CUSTOMER's) use of the broker. */
interface CustomerUsage {
  customer: string;
  /** Tokens issued by /token (an empty token for a login that asked no scope included). */
  issued: number;
  /** Token and credential requests denied, and their count per reason code. */
  denied: number;
  denials: Record<string, number>;
  /** Repositories of granted scopes with push, and the number of tokens granting it. */
  pushed: Record<string, number>;
  /** Repositories of granted scopes with pull and no push (a push token holds pull too). */
  pulled: Record<string, number>;
  /** Credentials minted by /registry/credentials, per registry kind. */
  credentials: Record<string, number>;
  /**
   * With a product catalogue (repositories `<prefix>/<customer>/<product>/…`): tokens granting
   * pull, and push, of each product's repositories (a token counts once per product).
   */
  products: Record<string, ProductUsage>;
}

/** A customer's use of one product, and where the stack's entitlements set one, its daily pull limit. */
interface ProductUsage {
  /** Tokens granting pull (and no push) of the product's repositories, and granting push. */
  pulled: number;
  pushed: number;
  /** The UTC day with the most pull tokens. */
  busiest?: { day: string; pulled: number };
  /** Tokens the broker refused because the day's pulls had reached the limit. */
  refusedAtLimit?: number;
  /** With `limits`: the entitlement's maxPullsPerDay, the days past it (several broker replicas each count their own), and the kinds where nothing enforces or counts it. */
  limit?: { maxPullsPerDay: number; overOn: { day: string; pulled: number }[]; notEnforcedOn: string[] };
}

/** Per customer and product: an entitlement's maxPullsPerDay, and the customer's kinds other than the broker's registry (where pulls go to the cloud's own registry). */
type PullLimitsByCustomer = Record<string, Record<string, { maxPullsPerDay: number; notEnforcedOn: string[] }>>;

export interface UsageReport {
  log: string;
  /** ISO time: entries before it were left out. */
  since?: string;
  /** Lines read, issue/deny entries counted, and lines that were no broker log entry (skipped, first by number). */
  lines: number;
  entries: number;
  skipped: { count: number; firstLine?: number };
  /** ISO times of the first and last entry counted. */
  from?: string;
  to?: string;
  /** Customers by id, then the NO_CUSTOMER rows. */
  customers: CustomerUsage[];
}

export interface UsageOptions {
  /** Leave out entries before this time. */
  since?: Date;
  /** A line longer than this many bytes is skipped and counted, never held whole (default 1 MiB). */
  maxLineBytes?: number;
  /** Only these customers (a row each, even with nothing to show). */
  customers?: readonly string[];
  /** The stack's pull limits, reported beside each product's busiest day. */
  limits?: PullLimitsByCustomer;
}

interface Granted {
  name: string;
  actions: string[];
}

/** The fields of an issue or deny line that usage reads; undefined for a line that is not one, "bad" for one that is broken. */
function entryOf(
  line: string,
):
  | { time: number; event: "issue" | "deny"; customer: string; code?: string; granted: Granted[]; credentialKind?: string; product?: string }
  | undefined
  | "bad" {
  let doc: unknown;
  try {
    doc = JSON.parse(line);
  } catch {
    return "bad";
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return "bad";
  const e = doc as Record<string, unknown>;
  // Other broker lines (reloads, errors) are not token decisions.
  if (e.event !== "issue" && e.event !== "deny") return undefined;
  const time = typeof e.time === "number" ? e.time : typeof e.time === "string" ? Date.parse(e.time) : NaN;
  // Outside what a Date can hold (±8.64e15 ms) is no log time.
  if (!Number.isFinite(time) || Math.abs(time) > 8.64e15) return "bad";
  const granted = e.granted ?? [];
  if (
    !Array.isArray(granted) ||
    !granted.every((g) => typeof g?.name === "string" && Array.isArray(g.actions) && g.actions.every((a: unknown) => typeof a === "string"))
  )
    return "bad";
  const credentials = e.endpoint === "credentials";
  const code = typeof e.code === "string" ? e.code : typeof e.reason === "string" ? e.reason : undefined;
  // The customer as the broker's metrics label it: a roster id, else who the request was.
  const customer =
    typeof e.customer === "string" && e.customer && code !== "no_customer"
      ? e.customer
      : e.role === "delivery"
        ? NO_CUSTOMER.delivery
        : e.event === "issue" && e.user === null && !credentials
          ? NO_CUSTOMER.anonymous
          : NO_CUSTOMER.unknown;
  const product = typeof e.product === "string" ? e.product : undefined;
  return {
    time,
    event: e.event,
    customer,
    code,
    granted: granted as Granted[],
    credentialKind: credentials && typeof e.kind === "string" ? e.kind : credentials ? "unknown" : undefined,
    ...(product ? { product } : {}),
  };
}

const bump = (m: Record<string, number>, k: string) => void (m[k] = (m[k] ?? 0) + 1);

/** A counter keyed by names from the log: no prototype, so `constructor` or `__proto__` is a name like any other. */
const counter = (): Record<string, number> => Object.create(null) as Record<string, number>;

/**
 * The lines of a stream, each at most `max` bytes: a longer one is not held (it yields `null` in
 * its place, once its end is found), so a hostile log cannot exhaust memory or a string's length.
 */
async function* boundedLines(input: Readable, max: number): AsyncGenerator<string | null> {
  let parts: Buffer[] = [];
  let size = 0;
  let tooLong = false;
  const end = () => {
    const line = tooLong ? null : Buffer.concat(parts, size).toString("utf8").replace(/\r$/, "");
    parts = [];
    size = 0;
    tooLong = false;
    return line;
  };
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    let from = 0;
    for (let nl = buf.indexOf(10, from); nl !== -1; nl = buf.indexOf(10, from)) {
      if (!tooLong && size + (nl - from) <= max) {
        parts.push(buf.subarray(from, nl));
        size += nl - from;
      } else tooLong = true;
      yield end();
      from = nl + 1;
    }
    if (from < buf.length) {
      if (!tooLong && size + (buf.length - from) <= max) {
        parts.push(buf.subarray(from));
        size += buf.length - from;
      } else {
        tooLong = true;
        parts = [];
        size = 0;
      }
    }
  }
  if (size || tooLong) yield end();
}

/** Lines of a file (or standard input for "-"), read as a stream: a log of any size. */
async function linesOf(file: string): Promise<Readable> {
  if (file === "-") return process.stdin;
  try {
    const st = await stat(file);
    if (st.isDirectory())
      throw new UsageLogError(`--log ${file}: is a folder; name the broker's log file (its JSON lines, e.g. kubectl logs deploy/<broker> > broker.log)`);
  } catch (e) {
    if (e instanceof UsageLogError) throw e;
    throw new UsageLogError(`--log ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); name the broker's log file`);
  }
  return createReadStream(file);
}

/**
 * Per customer: tokens issued, repositories pushed and pulled (from the granted scopes),
 * denials by reason code, credentials minted; from the broker's JSON log (pino lines), streamed.
 * A line that is not a broker log entry (not JSON, an issue/deny entry without a time or with
 * broken grants: a truncated last line, another program's output mixed in by `kubectl logs`) is
 * skipped and counted, and the report names the first; other broker lines (reloads) are ignored.
 */
export async function brokerUsage(file: string, opts: UsageOptions = {}): Promise<UsageReport> {
  const since = opts.since?.getTime();
  const only = opts.customers ? new Set(opts.customers) : undefined;
  const rows = new Map<string, CustomerUsage>();
  const row = (customer: string) => {
    let r = rows.get(customer);
    if (!r)
      rows.set(
        customer,
        (r = {
          customer,
          issued: 0,
          denied: 0,
          denials: counter(),
          pushed: counter(),
          pulled: counter(),
          credentials: counter(),
          products: Object.create(null),
        }),
      );
    return r;
  };
  for (const c of opts.customers ?? []) row(c);
  const report: UsageReport = {
    log: file,
    ...(opts.since ? { since: opts.since.toISOString() } : {}),
    lines: 0,
    entries: 0,
    skipped: { count: 0 },
    customers: [],
  };
  // Pull tokens per customer, product and UTC day.
  const daily = new Map<string, Map<string, number>>();
  const product = (r: CustomerUsage, p: string) => (r.products[p] ??= { pulled: 0, pushed: 0 });
  let from = Infinity;
  let to = -Infinity;
  const input = await linesOf(file);
  try {
    for await (const line of boundedLines(input, opts.maxLineBytes ?? 1024 * 1024)) {
      report.lines++;
      if (line !== null && !line.trim()) continue;
      const e = line === null ? "bad" : entryOf(line);
      if (e === undefined) continue;
      if (e === "bad") {
        report.skipped.count++;
        report.skipped.firstLine ??= report.lines;
        continue;
      }
      if ((since !== undefined && e.time < since) || (only && !only.has(e.customer))) continue;
      report.entries++;
      from = Math.min(from, e.time);
      to = Math.max(to, e.time);
      const r = row(e.customer);
      if (e.event === "deny") {
        r.denied++;
        bump(r.denials, e.code ?? "unspecified");
        if (e.code === "pull_limit" && e.product) {
          const n = product(r, e.product);
          n.refusedAtLimit = (n.refusedAtLimit ?? 0) + 1;
        }
      } else if (e.credentialKind) bump(r.credentials, e.credentialKind);
      else {
        r.issued++;
        const pushedProducts = new Set<string>();
        const pulledProducts = new Set<string>();
        for (const g of e.granted) {
          if (g.actions.includes("push")) bump(r.pushed, g.name);
          else if (g.actions.includes("pull")) bump(r.pulled, g.name);
          const product = productOfPath(g.name, e.customer);
          // As pushed and pulled above: a push token holds pull too, and is a push.
          if (product && g.actions.includes("push")) pushedProducts.add(product);
          else if (product && g.actions.includes("pull")) pulledProducts.add(product);
        }
        const day = new Date(e.time).toISOString().slice(0, 10);
        for (const p of new Set([...pushedProducts, ...pulledProducts])) {
          const n = product(r, p);
          if (pulledProducts.has(p)) {
            n.pulled++;
            const days = daily.get(`${e.customer}/${p}`) ?? daily.set(`${e.customer}/${p}`, new Map()).get(`${e.customer}/${p}`)!;
            days.set(day, (days.get(day) ?? 0) + 1);
          }
          if (pushedProducts.has(p)) n.pushed++;
        }
      }
    }
  } catch (e) {
    throw new UsageLogError(`--log ${file}: reading it failed at line ${report.lines + 1} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    if (input !== process.stdin) input.destroy();
  }
  for (const [key, days] of daily) {
    const [customer, p] = [key.slice(0, key.indexOf("/")), key.slice(key.indexOf("/") + 1)];
    const [day, pulled] = [...days].sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))[0];
    rows.get(customer)!.products[p].busiest = { day, pulled };
  }
  // The stack's limits: every limited product of a customer asked, with nothing pulled too.
  for (const [customer, products] of Object.entries(opts.limits ?? {})) {
    if (only && !only.has(customer)) continue;
    for (const [p, l] of Object.entries(products)) {
      const days = daily.get(`${customer}/${p}`) ?? new Map<string, number>();
      const overOn = [...days]
        .filter(([, n]) => n > l.maxPullsPerDay)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([day, pulled]) => ({ day, pulled }));
      product(row(customer), p).limit = { maxPullsPerDay: l.maxPullsPerDay, overOn, notEnforcedOn: l.notEnforcedOn };
    }
  }
  if (report.entries) {
    report.from = new Date(from).toISOString();
    report.to = new Date(to).toISOString();
  }
  const marker = (c: string) => c.startsWith("_");
  report.customers = [...rows.values()].sort((a, b) => Number(marker(a.customer)) - Number(marker(b.customer)) || (a.customer < b.customer ? -1 : 1));
  return report;
}

const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;

/** `a 3, b 1`, most first. */
function counts(m: Record<string, number>, max = Infinity, quote = (s: string) => s): string {
  const all = Object.entries(m).sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1));
  const shown = all.slice(0, max).map(([k, n]) => `${quote(k)} ${n}`);
  return all.length > max ? `${shown.join(", ")}, +${all.length - max} more` : shown.join(", ");
}

function skippedNote(r: UsageReport): string | undefined {
  const s = r.skipped;
  return s.count ? `skipped ${plural(s.count, "line")} that ${s.count === 1 ? "is" : "are"} not a broker log entry (first: line ${s.firstLine})` : undefined;
}

function heading(r: UsageReport): string {
  const span = r.entries ? ` from ${r.from} to ${r.to}` : "";
  return `${plural(r.entries, "token decision")} in ${plural(r.lines, "line")} of ${logName(r)}${span}${r.since ? ` (since ${r.since})` : ""}`;
}

/** The log as the report names it: `-` is standard input. */
function logName(r: UsageReport): string {
  return r.log === "-" ? "standard input" : r.log;
}

/** The terminal report: a table of issued and denied per customer, then each customer's repositories. */
export function renderUsageText(r: UsageReport): string {
  const out = [heading(r)];
  const rows = r.customers;
  if (rows.length) {
    const w = Math.max(8, ...rows.map((c) => c.customer.length));
    out.push("");
    out.push(`${"customer".padEnd(w)}  issued  denied  denials by reason`);
    for (const c of rows) out.push(`${c.customer.padEnd(w)}  ${String(c.issued).padStart(6)}  ${String(c.denied).padStart(6)}  ${counts(c.denials) || "-"}`);
    const withRepos = rows.filter((c) => Object.keys(c.pushed).length || Object.keys(c.pulled).length || Object.keys(c.credentials).length);
    if (withRepos.length) {
      out.push("");
      out.push("Repositories of the granted scopes (tokens granting each), and credentials minted by /registry/credentials:");
      for (const c of withRepos) {
        const byProduct = Object.fromEntries(Object.entries(c.products).map(([p, n]) => [p, n.pulled]));
        const parts = (
          [
            ["pushed", c.pushed, 5],
            ["pulled", c.pulled, 5],
            ["products", Object.values(byProduct).some((n) => n > 0) ? byProduct : {}, Infinity],
            ["credentials", c.credentials, Infinity],
          ] as const
        )
          .filter(([, m]) => Object.keys(m).length)
          .map(([label, m, max]) => `${label.padEnd(11)} ${counts(m, max)}${label === "products" ? " (pull tokens)" : ""}`);
        parts.forEach((p, i) => out.push(`${(i === 0 ? c.customer : "").padEnd(w)}  ${p}`));
      }
    }
  }
  const limited = rows.flatMap((c) =>
    Object.entries(c.products)
      .filter(([, n]) => n.limit)
      .map(([p, n]) => [c.customer, p, n] as const),
  );
  if (limited.length) {
    out.push("", "Pull limits (maxPullsPerDay of the entitlements; the broker counts pull tokens per UTC day):");
    const w = Math.max(8, ...limited.map(([c]) => c.length));
    for (const [c, p, n] of limited) out.push(`${c.padEnd(w)}  ${limitLine(p, n)}`);
  }
  const note = skippedNote(r);
  if (note) out.push("", note);
  return out.join("\n");
}

/** `app: 10 a day; busiest 2026-12-03 with 7; 3 refused at the limit; not enforced on ecr (…)`. */
function limitLine(product: string, n: ProductUsage): string {
  const l = n.limit!;
  return [
    `${product}: ${l.maxPullsPerDay} a day`,
    n.busiest ? `busiest ${n.busiest.day} with ${n.busiest.pulled}` : "no pull in the log",
    ...(n.refusedAtLimit ? [`${n.refusedAtLimit} refused at the limit`] : []),
    ...(l.overOn.length ? [`OVER on ${l.overOn.map((o) => `${o.day} (${o.pulled})`).join(", ")}: each broker replica counts its own pulls`] : []),
    ...(l.notEnforcedOn.length ? [`not enforced on ${l.notEnforcedOn.join(", ")} (pulls there go to the cloud's registry, not through the broker)`] : []),
  ].join("; ");
}

function md(s: string): string {
  return s.replace(/\|/g, "\\|");
}

/** A summary fit for a ticket or a pull-request comment. */
export function renderUsageMarkdown(r: UsageReport): string {
  const code = (s: string) => `\`${s}\``;
  const out = [`### Broker usage: ${r.log === "-" ? "standard input" : code(r.log)}`, "", `${heading(r).replace(` of ${logName(r)}`, "")}.`];
  const note = skippedNote(r);
  if (note) out.push("", `> ${note[0].toUpperCase()}${note.slice(1)}.`);
  if (r.customers.length) {
    const minted = r.customers.some((c) => Object.keys(c.credentials).length);
    out.push(
      "",
      `| customer | issued | denied | denials by reason | pushed | pulled |${minted ? " credentials minted |" : ""}`,
      `| --- | ---: | ---: | --- | --- | --- |${minted ? " --- |" : ""}`,
    );
    for (const c of r.customers) {
      const cells = [
        code(c.customer),
        c.issued,
        c.denied,
        md(counts(c.denials)) || "-",
        counts(c.pushed, 10, code) || "-",
        counts(c.pulled, 10, code) || "-",
        ...(minted ? [counts(c.credentials) || "-"] : []),
      ];
      out.push(`| ${cells.join(" | ")} |`);
    }
    const limited = r.customers.flatMap((c) =>
      Object.entries(c.products)
        .filter(([, n]) => n.limit)
        .map(([p, n]) => [c.customer, p, n] as const),
    );
    if (limited.length) {
      out.push(
        "",
        "Pull limits (maxPullsPerDay; pull tokens per UTC day):",
        "",
        "| customer | product | limit | busiest day | refused at the limit | over the limit on | not enforced on |",
        "| --- | --- | ---: | --- | ---: | --- | --- |",
      );
      for (const [c, p, n] of limited) {
        const l = n.limit!;
        out.push(
          `| ${code(c)} | ${code(p)} | ${l.maxPullsPerDay} | ${n.busiest ? `${n.busiest.day} (${n.busiest.pulled})` : "-"} | ${n.refusedAtLimit ?? 0} | ${l.overOn.map((o) => `**${o.day} (${o.pulled})**`).join(", ") || "-"} | ${l.notEnforcedOn.join(", ") || "-"} |`,
        );
      }
    }
  }
  return out.join("\n") + "\n";
}
