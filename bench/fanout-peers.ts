// `intake deliver` beside what a careful user scripts with crane or regctl: copy once, then copy
// from the first customer's repository (which the registry serves as cross-repository mounts).
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import * as path from "node:path";
import { parseReference } from "../core/reference";
import type { Roster } from "../customers/roster";
import type { Settings } from "../core/settings";
import { deliver } from "../runtime/delivery/deliver";
import { stackDelivery } from "../runtime/delivery/stack";
import type { RegistryProxy } from "../testing/proxy";

export interface PeerSetup {
  dir: string;
  /** The copy tools' folder (scripts/copy-tools.sh). */
  tools: string;
  proxy: RegistryProxy;
  /** The target registry as clients see it (the proxy, which also serves /token). */
  host: string;
  ids: string[];
  settings: Settings;
  roster: Roster;
  password: string;
  imageBytes: number;
  reps: number;
}

interface Layout {
  name: string;
  /** The source reference (tag 1.0.0). */
  source: string;
  /** Hosts served over plain HTTP. */
  insecure: string[];
}

type Peer = "deliver" | "one crane copy" | "crane script" | "crane script, 4 at a time" | "regctl script";
const PEERS: Peer[] = ["one crane copy", "crane script", "crane script, 4 at a time", "regctl script", "deliver"];

/** Run a tool with the bench's docker config and home; throws with its stderr when it fails. */
function tool(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} ${args.join(" ")}: exit ${code}: ${err.trim().split("\n").slice(-2).join(" | ")}`)),
    );
  });
}

/** `n` at a time over `items`. */
async function pool<T>(items: T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(n, queue.length) }, async () => {
      for (let x = queue.shift(); x !== undefined; x = queue.shift()) await f(x);
    }),
  );
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * Both layouts (source on another registry; source on the targets' registry), `reps` interleaved
 * repetitions of every peer into fresh repositories of the same N namespaces; wall and bytes the
 * target registry received per run, and each peer's time paired with deliver's of the same
 * repetition (median and range of the ratios), with the machine's load.
 */
export async function runPeers(o: PeerSetup, sourceRef: string, seedOnTarget: () => Promise<string>): Promise<void> {
  const home = path.join(o.dir, "peer-home");
  mkdirSync(path.join(home, ".docker"), { recursive: true });
  writeFileSync(
    path.join(home, ".docker", "config.json"),
    JSON.stringify({ auths: { [o.host]: { auth: Buffer.from(`intake-delivery:${o.password}`).toString("base64") } } }),
  );
  const env = { ...process.env, HOME: home, DOCKER_CONFIG: path.join(home, ".docker"), PATH: `${o.tools}${path.delimiter}${process.env.PATH}` };
  const crane = path.join(o.tools, "crane");
  const regctl = path.join(o.tools, "regctl");
  const layouts: Layout[] = [
    { name: "source on another registry", source: sourceRef, insecure: [parseReference(sourceRef).registry, o.host] },
    { name: "source on the targets' registry", source: await seedOnTarget(), insecure: [o.host] },
  ];
  for (const h of new Set(layouts.flatMap((l) => l.insecure))) await tool(regctl, ["registry", "set", "--tls", "disabled", h], env);
  const savedPath = process.env.PATH;
  process.env.PATH = env.PATH; // deliver takes crane from PATH, as a user's shell would
  try {
    for (const layout of layouts) {
      const runs = new Map<Peer, { seconds: number; bytes: number }[]>(PEERS.map((p) => [p, []]));
      const loads: number[] = [];
      for (let rep = 0; rep < o.reps; rep++) {
        loads.push(loadavg()[0]);
        // Interleaved: each repetition runs every peer, in a rotated order.
        const order = PEERS.map((_, i) => PEERS[(i + rep) % PEERS.length]);
        for (const peer of order) {
          const repo = `p${rep}${PEERS.indexOf(peer)}${layout === layouts[0] ? "a" : "b"}`;
          const to = (id: string) => `${o.host}/intake/${id}/${repo}:1.0.0`;
          o.proxy.bytesIn = 0;
          const t0 = performance.now();
          if (peer === "one crane copy") await tool(crane, ["copy", "--insecure", layout.source, to(o.ids[0])], env);
          else if (peer === "crane script" || peer === "crane script, 4 at a time") {
            await tool(crane, ["copy", "--insecure", layout.source, to(o.ids[0])], env);
            await pool(o.ids.slice(1), peer === "crane script" ? 1 : 4, (id) => tool(crane, ["copy", "--insecure", to(o.ids[0]), to(id)], env));
          } else if (peer === "regctl script") {
            await tool(regctl, ["image", "copy", layout.source, to(o.ids[0])], env);
            await pool(o.ids.slice(1), 1, (id) => tool(regctl, ["image", "copy", to(o.ids[0]), to(id)], env));
          } else {
            const rs = await deliver({
              source: parseReference(layout.source),
              sourceCredential: layout === layouts[1] ? { username: "intake-delivery", password: o.password } : undefined,
              build: repo,
              version: "1.0.0",
              targets: o.ids.map((customer) => ({ customer, kind: "distribution" as const })),
              tool: "crane",
              concurrency: 4,
              ...stackDelivery({ settings: o.settings, roster: o.roster, deliveryPassword: o.password, mint: {} }),
            });
            const bad = rs.filter((r) => r.status !== "delivered");
            if (bad.length) throw new Error(`deliver: ${bad.length} targets not delivered: ${bad[0].reason}`);
          }
          runs.get(peer)!.push({ seconds: (performance.now() - t0) / 1000, bytes: o.proxy.bytesIn });
        }
      }
      const d = runs.get("deliver")!;
      console.log(
        `\n  ${layout.name}: ${o.ids.length} targets, ${o.reps} interleaved repetitions (load ${Math.min(...loads).toFixed(2)}-${Math.max(...loads).toFixed(2)})`,
      );
      console.log(
        `  ${"".padEnd(30)}${"wall median".padStart(12)}${"uploaded".padStart(12)}${"vs image".padStart(10)}${"deliver / this (median, range)".padStart(34)}`,
      );
      for (const peer of PEERS) {
        const r = runs.get(peer)!;
        const ratios = r.map((x, i) => d[i].seconds / x.seconds);
        const paired = peer === "deliver" ? "" : `${median(ratios).toFixed(2)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})`;
        const bytes = median(r.map((x) => x.bytes));
        console.log(
          `  ${peer.padEnd(30)}${`${median(r.map((x) => x.seconds)).toFixed(2)} s`.padStart(12)}${`${(bytes / 1e6).toFixed(1)} MB`.padStart(12)}${`${(bytes / o.imageBytes).toFixed(3)}x`.padStart(10)}${paired.padStart(34)}`,
        );
      }
      const vsScript = median(runs.get("crane script, 4 at a time")!.map((x, i) => d[i].seconds / x.seconds));
      const vsOne = median(runs.get("one crane copy")!.map((x, i) => d[i].seconds / x.seconds));
      const bytes = median(d.map((x) => x.bytes)) / o.imageBytes;
      const sameRegistry = layout === layouts[1];
      const okBytes = sameRegistry ? bytes <= 0.01 : bytes <= 1.01;
      const okTime = vsScript <= 1.0 && (sameRegistry || vsOne <= 1.3);
      console.log(
        `  target: deliver <= 1.0x the crane script 4 at a time (${vsScript.toFixed(2)}x)${sameRegistry ? "" : ` and <= 1.3x one crane copy (${vsOne.toFixed(2)}x)`}: ${okTime ? "met" : "NOT met"}; ` +
          `bytes <= ${sameRegistry ? "0.01" : "1.01"}x the image (${bytes.toFixed(3)}x): ${okBytes ? "met" : "NOT met"}`,
      );
    }
  } finally {
    process.env.PATH = savedPath;
  }
}
