import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import pino from "pino";
import { TokenBroker } from "../runtime/broker/broker";
import { loadSigningKey } from "../runtime/broker/keys";
import { makeKeyPair, writeBrokerFixture } from "../test/e2e/harness";

const SECONDS = 5;
/** Concurrent keep-alive connections: latency grows with the queue, so each level is its own row. */
const LEVELS = [4, 8, 16];
const TARGET = { tokensPerSecond: 2000, p99Ms: 10 };

/**
 * Broker throughput and latency on loopback: the broker in this process (its own core), the
 * load from another process, for a fixed 5 s. Each request authenticates a robot (bcrypt cost
 * 10, as random.RandomPassword hashes, verified once then cached) and signs an ES256 token.
 * Baseline: the same load against a bare HTTP server that answers a fixed JSON body.
 */
export async function run(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), "broker-bench-"));
  const pair = makeKeyPair(dir);
  const files = writeBrokerFixture(dir, { username: "intake-robot-acme", password: "pw", cost: 10 });
  const broker = new TokenBroker({
    ...files,
    key: loadSigningKey(pair.key, pair.cert),
    service: "svc",
    issuer: "iss",
    logger: pino({ level: "warn" }),
  });
  const port = await broker.listen("127.0.0.1", 0);
  const auth = Buffer.from("intake-robot-acme:pw").toString("base64");
  const url = `http://127.0.0.1:${port}/token?service=svc&scope=repository:intake/acme/app:pull,push`;

  const { createServer } = await import("node:http");
  const bare = createServer((_q, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"token":"x"}');
  });
  const barePort = await new Promise<number>((r) => bare.listen(0, "127.0.0.1", () => r((bare.address() as { port: number }).port)));

  const load = (target: string, connections: number, seconds = SECONDS) =>
    new Promise<{ ok: number; errors: number; p50: number; p99: number; max: number }>((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "broker-load.ts"), target, auth, String(connections), String(seconds)], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      child.on("close", (code) => (code === 0 ? resolve(JSON.parse(out.trim().split("\n").pop()!)) : reject(new Error(`load generator exited ${code}`))));
    });
  // One second of warm-up (JIT, bcrypt's first verification) that is not measured.
  await load(url, 4, 1);
  const rows: { name: string; connections: number; r: Awaited<ReturnType<typeof load>> }[] = [];
  for (const c of LEVELS) {
    rows.push({ name: "broker", connections: c, r: await load(url, c) });
    rows.push({ name: "bare http", connections: c, r: await load(`http://127.0.0.1:${barePort}/`, c) });
  }
  await broker.close();
  bare.close();

  const rate = (x: { ok: number }) => x.ok / SECONDS;
  console.log(`broker suite: keep-alive connections for ${SECONDS} s each, load from another process, loopback`);
  console.log(["", "connections", "tokens/s", "p50 ms", "p99 ms", "max ms", "errors"].map((h) => h.padStart(13)).join(""));
  for (const { name, connections, r } of rows) {
    console.log([name, String(connections), rate(r).toFixed(0), r.p50.toFixed(2), r.p99.toFixed(2), r.max.toFixed(2), String(r.errors)].map((c) => c.padStart(13)).join(""));
  }
  const ok = (x: boolean) => (x ? "met" : "NOT MET");
  for (const { connections, r } of rows.filter((x) => x.name === "broker")) {
    const bare = rows.find((x) => x.name === "bare http" && x.connections === connections)!.r;
    console.log(
      `target at ${connections} connections: ${rate(r).toFixed(0)} tokens/s >= ${TARGET.tokensPerSecond} ${ok(rate(r) >= TARGET.tokensPerSecond)}; ` +
        `p99 ${r.p99.toFixed(2)} ms < ${TARGET.p99Ms} ms ${ok(r.p99 < TARGET.p99Ms)} (${(rate(r) / rate(bare)).toFixed(2)}x the bare server's rate)`,
    );
  }
}
