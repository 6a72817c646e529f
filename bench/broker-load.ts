// Load generator for the broker bench, in its own process: CONNECTIONS keep-alive loops for
// SECONDS against URL with Basic auth; prints one JSON line with counts and latencies (ms).
import { Agent, request } from "node:http";

const [url, auth, connections, seconds] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const agent = new Agent({ keepAlive: true, maxSockets: connections });
const latencies: number[] = [];
let errors = 0;
const end = performance.now() + seconds * 1000;

function once(): Promise<void> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const req = request(url, { agent, headers: { authorization: `Basic ${auth}` } }, (res) => {
      res.resume();
      res.on("end", () => {
        if (res.statusCode === 200) latencies.push(performance.now() - t0);
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

async function loop() {
  while (performance.now() < end) await once();
}

Promise.all(Array.from({ length: connections }, loop)).then(() => {
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? NaN;
  process.stdout.write(JSON.stringify({ ok: latencies.length, errors, seconds, p50: q(0.5), p99: q(0.99), max: latencies[latencies.length - 1] }) + "\n");
  agent.destroy();
});
