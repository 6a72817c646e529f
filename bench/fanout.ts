import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import * as path from "node:path";
import bcrypt from "bcryptjs";
import pino from "pino";
import { stringify } from "yaml";
import { TokenBroker } from "../runtime/broker/broker";
import { loadSigningKey } from "../runtime/broker/keys";
import { copyImage } from "../runtime/delivery/copy";
import { deliver, readSource } from "../runtime/delivery/deliver";
import { RegistryClient } from "../runtime/registry/client";
import { parseReference } from "../core/reference";
import { stackDelivery } from "../runtime/delivery/stack";
import { parseRoster } from "../customers/roster";
import { parseSettings } from "../core/settings";
import { copyToolsDir, e2eUnavailable, makeKeyPair, skopeo, startRegistry } from "../testing/e2e";
import { runPeers } from "./fanout-peers";
import { writeMultiArchImage } from "../testing/oci";
import { RegistryProxy } from "../testing/proxy";
import type { SuiteOptions } from "./run";
import { PhaseTrace } from "./fanout-phases";

export const about =
  "fan-out of one image (default 200 MB) to N customer namespaces (default 20) vs a naive copy loop, then vs crane and regctl scripts on two layouts; options --mb, --customers, --phases (where deliver's time goes), --skip-naive, --reps (default 5), --skip-peers";

const TARGET = { bytesRatio: 1.01, timeRatio: 1.3 };
const PASSWORD = "delivery-bench-password";

/** Where skopeo keeps what it knows about blob locations: cleared so every naive copy starts as on a fresh machine. */
function toolCaches(): string[] {
  return [
    "/var/lib/containers/cache/blob-info-cache-v1.boltdb",
    path.join(process.env.XDG_DATA_HOME ?? path.join(homedir(), ".local", "share"), "containers", "cache", "blob-info-cache-v1.boltdb"),
  ];
}
const clearToolCache = () => toolCaches().forEach((f) => rmSync(f, { force: true }));

/**
 * One image into N namespaces of one registry: `deliver` (one skopeo copy, then blob mounts)
 * beside a naive loop of N skopeo copies, each with the tool cache cleared, and beside a single
 * copy (the baseline the time ratio is measured against). Bytes are what the registry received,
 * counted by a proxy in front of it (request lines, headers and bodies).
 */
export async function run(opts: SuiteOptions): Promise<void> {
  const why = e2eUnavailable();
  if (why) {
    console.log(`fanout: skipped: ${why}`);
    return;
  }
  const mb = Number(opts.mb ?? 200);
  const n = Number(opts.customers ?? 20);
  if (!(mb > 0) || !Number.isInteger(n) || n < 2)
    throw new Error(`--mb must be above 0 and --customers a whole number of at least 2 (got ${opts.mb}, ${opts.customers})`);
  const dir = mkdtempSync(path.join(tmpdir(), "fanout-bench-"));
  try {
    const ids = Array.from({ length: n }, (_, i) => `cust${String(i + 1).padStart(2, "0")}`);
    const customers = [...ids, "baseline", "seed"].map((id) => ({
      id,
      name: id,
      tier: "enterprise",
      registries: ["distribution"],
      license: { expires: "2099-12-31" },
    }));
    writeFileSync(path.join(dir, "roster.yaml"), stringify({ customers }));
    writeFileSync(
      path.join(dir, "acl.json"),
      JSON.stringify({
        version: 1,
        service: "registry-intake",
        issuer: "registry-intake-broker",
        entries: [],
        delivery: { username: "intake-delivery", passwordHash: bcrypt.hashSync(PASSWORD, 10), enabled: true },
      }),
    );
    const pair = makeKeyPair(dir);
    const broker = new TokenBroker({
      aclFile: path.join(dir, "acl.json"),
      rosterFile: path.join(dir, "roster.yaml"),
      key: loadSigningKey(pair.key, pair.cert),
      service: "registry-intake",
      issuer: "registry-intake-broker",
      logger: pino({ level: "warn" }),
    });
    const brokerPort = await broker.listen("127.0.0.1", 0);
    mkdirSync(path.join(dir, "source"));
    mkdirSync(path.join(dir, "target"));
    const source = await startRegistry(path.join(dir, "source"));
    // The registry and its token service on one host:port (the proxy passes /token to the broker), as one ingress serves them: crane refuses a realm on another private address.
    const proxy = new RegistryProxy(0, brokerPort);
    const host = `127.0.0.1:${await proxy.listen()}`;
    const target = await startRegistry(path.join(dir, "target"), {
      realm: `http://${host}/token`,
      service: "registry-intake",
      issuer: "registry-intake-broker",
      rootcertbundle: pair.cert,
    });
    proxy.upstreamPort = target.port;
    try {
      // The build: 2 platforms x 4 layers, random (incompressible) bytes, pushed as is.
      const layerBytes = Math.round((mb * 1e6) / 8);
      const img = writeMultiArchImage(path.join(dir, "image"), "1.0.0", { layers: 4, layerBytes });
      const pushed = await skopeo(
        ["copy", "--all", "--preserve-digests", "--dest-tls-verify=false", `oci:${img.layout}:1.0.0`, `docker://127.0.0.1:${source.port}/builds/app:1.0.0`],
        dir,
      );
      if (!pushed.ok) throw new Error(`pushing the bench image failed: ${pushed.stderr}`);
      rmSync(path.join(dir, "image"), { recursive: true, force: true });
      const src = parseReference(`127.0.0.1:${source.port}/builds/app:1.0.0`);
      const image = await readSource(new RegistryClient(), src);
      const credential = { username: "intake-delivery", password: PASSWORD };
      const measure = async <T>(f: () => Promise<T>) => {
        proxy.bytesIn = 0;
        const t0 = performance.now();
        const value = await f();
        return { value, seconds: (performance.now() - t0) / 1000, bytes: proxy.bytesIn };
      };
      const copyTo = (repo: string) =>
        copyImage("skopeo", {
          source: { ...src, tag: undefined, digest: image.digest },
          target: parseReference(`${host}/${repo}:1.0.0`),
          targetCredential: credential,
        });

      // 1. The baseline: one copy on a fresh tool cache.
      clearToolCache();
      const one = await measure(() => copyTo("intake/baseline/app"));
      // 2. The naive loop: N copies, each as on a fresh machine.
      const naive = await measure(async () => {
        if (opts["skip-naive"]) return;
        for (const id of ids) {
          clearToolCache();
          await copyTo(`intake/${id}/naive`);
        }
      });
      // 3. deliver(): the same N namespaces (another repository), fresh tool cache.
      clearToolCache();
      const settings = parseSettings({ environment: "dev", enabledKinds: ["distribution"], distribution: { host } }, "bench", "bench settings");
      const roster = parseRoster(stringify({ customers }), "roster.yaml");
      const request = () =>
        deliver({
          source: src,
          build: "app",
          version: "1.0.0",
          targets: ids.map((customer) => ({ customer, kind: "distribution" as const })),
          tool: "skopeo",
          concurrency: Number(process.env.BC ?? 4),
          ...(trace ? { fetchImpl: trace.fetchImpl, onEvent: trace.onEvent } : {}),
          ...stackDelivery({ settings, roster, deliveryPassword: PASSWORD, mint: {} }),
        });
      const trace = opts.phases ? new PhaseTrace().watch("target registry", target.pid).watch("source registry", source.pid) : undefined;
      const traced = async () => {
        trace?.reset();
        const r = await measure(request);
        const phases: string[] = [];
        trace?.print((s) => phases.push(s));
        return { ...r, phases };
      };
      const fan = await traced();
      const again = await traced();

      const statuses = (rs: { status: string }[]) =>
        Object.entries(rs.reduce<Record<string, number>>((m, r) => ({ ...m, [r.status]: (m[r.status] ?? 0) + 1 }), {}))
          .map(([s, c]) => `${c} ${s}`)
          .join(", ");
      const MB = (b: number) => `${(b / 1e6).toFixed(1)} MB`;
      const row = (name: string, r: { seconds: number; bytes: number }, note = "") =>
        console.log(
          `  ${name.padEnd(28)} ${r.seconds.toFixed(2).padStart(8)} s ${(r.seconds / one.seconds).toFixed(2).padStart(7)}x  ${MB(r.bytes).padStart(10)} ${(r.bytes / image.bytes).toFixed(3).padStart(7)}x image  ${note}`,
        );
      console.log(`fanout: one ${MB(image.bytes)} image (2 platforms, 8 layers) into ${n} namespaces on one Distribution registry, skopeo ${"copy"}, 2 cores`);
      console.log(`  ${"".padEnd(28)} ${"wall".padStart(10)} ${"vs one".padStart(8)}  ${"uploaded".padStart(10)} ${"vs image".padStart(13)}`);
      row("one copy (baseline)", one);
      if (!opts["skip-naive"]) row(`naive loop, ${n} copies`, naive);
      row(`deliver, ${n} targets`, fan, statuses(fan.value));
      for (const l of fan.phases) console.log(l);
      row(`deliver again`, again, statuses(again.value));
      for (const l of again.phases) console.log(l);
      const okBytes = fan.bytes <= TARGET.bytesRatio * image.bytes;
      const okTime = fan.seconds <= TARGET.timeRatio * one.seconds;
      const okCached = again.value.every((r) => r.status === "cached");
      const okDelivered = fan.value.every((r) => r.status === "delivered");
      console.log(
        `  targets: uploaded <= ${TARGET.bytesRatio}x image ${okBytes ? "met" : "NOT met"}; wall <= ${TARGET.timeRatio}x one copy ${okTime ? "met" : "NOT met"}; ` +
          `all delivered ${okDelivered ? "yes" : "NO"}; second run all cached ${okCached ? "yes" : "NO"}.` +
          (opts["skip-naive"]
            ? ""
            : ` Naive loop: ${(naive.bytes / fan.bytes).toFixed(1)}x the bytes, ${(naive.seconds / fan.seconds).toFixed(1)}x the time of deliver.`),
      );

      // The peers a careful user scripts: crane and regctl, built by scripts/copy-tools.sh.
      if (opts["skip-peers"]) return;
      const tools = copyToolsDir();
      if (!tools.dir) {
        console.log(`  peers skipped: ${tools.why}`);
        return;
      }
      const reps = Number(opts.reps ?? 5);
      if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a whole number of at least 1 (got ${opts.reps})`);
      console.log(
        `\nfanout peers: deliver (--tool crane) beside crane ${"v0.22.1"} and regctl ${"v0.11.7"} scripts: copy once, then from the first customer's repository`,
      );
      const seed = `${host}/intake/seed/app:1.0.0`;
      await runPeers(
        { dir, tools: tools.dir, proxy, host, ids, settings, roster, password: PASSWORD, imageBytes: image.bytes, reps },
        `127.0.0.1:${source.port}/builds/app:1.0.0`,
        async () => {
          const r = await deliver({
            source: src,
            build: "app",
            version: "1.0.0",
            targets: [{ customer: "seed", kind: "distribution" }],
            tool: "skopeo",
            ...stackDelivery({ settings, roster, deliveryPassword: PASSWORD, mint: {} }),
          });
          if (r[0].status !== "delivered") throw new Error(`seeding the target registry failed: ${r[0].reason}`);
          return seed;
        },
      );
    } finally {
      await proxy.close();
      await target.stop();
      await source.stop();
      await broker.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
