// Load generator for the broker bench, in its own process. Argument: one JSON object
// { url, connections, seconds, auth?: "base64 user:pass", attack?: { users: string[] }, localAddresses?: number }.
// With `auth` it measures successful requests; with `attack` every connection sends wrong
// passwords for the listed users (a new password each time) and counts answers by status.
// `localAddresses: N` spreads the connections over 127.0.0.2 .. 127.0.0.(N+1), as many sources.
// `targets: [{ url, auth }]` with `requests: N` sends N requests taking the targets in turn over the
// connections (many robots, each with its own scope), instead of `url`/`auth` for `seconds`.
// Prints one JSON line: counts, latencies and the time from the first request to the last answer (ms).
import { Agent, request } from "node:http";

/** What the load is: the process's one argument, as JSON. */
export interface LoadConfig {
  url: string;
  connections: number;
  seconds: number;
  auth?: string;
  attack?: { users: string[] };
  localAddresses?: number;
  targets?: { url: string; auth: string }[];
  requests?: number;
}

const cfg = JSON.parse(process.argv[2]) as LoadConfig;
const agents = Array.from(
  { length: Math.max(1, cfg.localAddresses ?? 1) },
  (_, i) => new Agent({ keepAlive: true, maxSockets: cfg.connections, ...(cfg.localAddresses ? { localAddress: `127.0.0.${i + 2}` } : {}) }),
);
const latencies: number[] = [];
const statuses: Record<string, number> = {};
let errors = 0;
let n = 0;
const end = performance.now() + cfg.seconds * 1000;
let next = 0;

function once(conn: number): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const target = cfg.targets?.[next++ % cfg.targets.length];
    const auth = target ? target.auth : cfg.attack ? Buffer.from(`${cfg.attack.users[n % cfg.attack.users.length]}:wrong-${n++}`).toString("base64") : cfg.auth;
    const req = request(target?.url ?? cfg.url, { agent: agents[conn % agents.length], headers: auth ? { authorization: `Basic ${auth}` } : {} }, (res) => {
      res.resume();
      res.on("end", () => {
        statuses[res.statusCode!] = (statuses[res.statusCode!] ?? 0) + 1;
        if (res.statusCode === 200 || cfg.attack) latencies.push(performance.now() - t0);
        else errors++;
        resolve();
      });
    });
    req.on("error", () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

async function loop(conn: number) {
  if (cfg.targets) while (next < (cfg.requests ?? cfg.targets.length)) await once(conn);
  else while (performance.now() < end) await once(conn);
}

const began = performance.now();
Promise.all(Array.from({ length: cfg.connections }, (_, i) => loop(i))).then(() => {
  const elapsedMs = performance.now() - began;
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  process.stdout.write(
    JSON.stringify({
      ok: latencies.length,
      errors,
      statuses,
      seconds: cfg.seconds,
      elapsedMs,
      p50: q(0.5),
      p99: q(0.99),
      max: latencies[latencies.length - 1],
    }) + "\n",
  );
  for (const a of agents) a.destroy();
});
