import { createHash } from "node:crypto";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import { EngineProject, engineUnavailable, ok } from "../testing/engine";
import { withBareRemote } from "../testing/git";
import { serveProcess } from "../testing/serve-process";
import { removeTempDirs } from "../testing/tmp";
import { treeRss } from "./engine";
import type { SuiteOptions } from "./run";

export const about =
  "20 onboardings on the real engine into 4 shard stacks: posted at once to intake serve (--workers 4) beside 20 sequential intake onboard runs, in one run; wall and the service's peak memory; option --customers";

const TOKEN = "bench-onboarding-token-0123456789";

/**
 * One sharded project on the real engine (platform stack and 4 shards, ghcr and ecr), git holding
 * the roster (a bare remote). Baseline: `intake onboard` run once per customer, one after another,
 * as a script calling the command would. Then as many other customers posted at once to the
 * service, whose worker runs jobs of different shards in parallel. The second batch meets stacks
 * one batch larger, which counts against the service.
 */
export async function run(opts: SuiteOptions): Promise<void> {
  const why = engineUnavailable();
  if (why) {
    console.log(`onboarding suite skipped: ${why}`);
    return;
  }
  const n = Number(opts.customers ?? 20);
  const p = new EngineProject();
  try {
    const doc = parse(readFileSync(p.file("Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    Object.assign(doc.config, {
      "registry-intake:shard": { count: 4 },
      "registry-intake:enabledKinds": ["ghcr", "ecr"],
      "registry-intake:onboarding": { git: { remote: "origin", branch: "main" }, apply: "self" },
    });
    p.write("Pulumi.dev.yaml", stringify(doc));
    p.write(
      "customers/roster.yaml",
      stringify({
        customers: [
          {
            id: "acme",
            name: "Acme",
            tier: "professional",
            registries: ["ghcr", "ecr"],
            license: { expires: "2099-12-31" },
            github: { members: ["wile-e-coyote"] },
          },
        ],
      }),
    );
    ok(
      await p.intake(["shards", "--stack", "dev", "--init", "--platform-stack", "organization/registry-intake/dev", "--project", p.dir]),
      "intake shards --init",
    );
    appendFileSync(p.file(".gitignore"), "/node_modules\n/.state/\n/.pulumi-home/\n/.fake-cloud.json\n/.intake/\n");
    withBareRemote(p.dir);
    const stacks = ["dev", "dev-shard-00", "dev-shard-01", "dev-shard-02", "dev-shard-03"];
    for (const s of stacks) {
      await p.initStack(s);
      ok(await p.pulumi(["up", "--yes", "--stack", s]), `pulumi up ${s}`);
    }
    const entry = (id: string) => ({
      id,
      name: id,
      tier: "professional",
      registries: ["ghcr", "ecr"],
      license: { expires: "2099-12-31" },
      github: { members: [`${id}-dev`] },
    });

    // Baseline: one `intake onboard` after another.
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      p.write(`seq-${i}.yaml`, stringify(entry(`seq-${i}`)));
      ok(
        await p.intake(["onboard", "--file", p.file(`seq-${i}.yaml`), "--stack", "dev", "--project", p.dir], { timeoutMs: 600_000 }),
        `intake onboard seq-${i}`,
      );
    }
    const sequential = (performance.now() - t0) / 1000;

    // The service: all posted at once.
    const tokens = p.file("tokens.json");
    writeFileSync(tokens, JSON.stringify({ tokens: [{ name: "bench", sha256: createHash("sha256").update(TOKEN).digest("hex"), role: "write" }] }));
    const serve = await serveProcess(["--project", p.dir, "--stack", "dev", "--listen", "127.0.0.1:0", "--tokens", tokens, "--workers", "4"], {
      cwd: p.dir,
      env: p.env,
      detached: true,
    });
    const { child, port } = serve;
    let peakService = 0;
    let peakTree = 0;
    const sample = setInterval(() => {
      peakTree = Math.max(peakTree, treeRss(child.pid!));
      try {
        const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
        peakService = Math.max(peakService, Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024);
      } catch {
        /* gone */
      }
    }, 100);
    const api = async (method: string, route: string, body?: unknown) =>
      (
        await fetch(`http://127.0.0.1:${port}${route}`, {
          method,
          headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        })
      ).json() as Promise<Record<string, any>>;
    const t1 = performance.now();
    const posted = await Promise.all(Array.from({ length: n }, (_, i) => api("POST", "/v1/customers", entry(`svc-${i}`))));
    const ends: Record<string, any>[] = [];
    for (const r of posted) {
      if (!r.job) throw new Error(`POST refused: ${JSON.stringify(r)}`);
      for (;;) {
        const j = await api("GET", `/v1/jobs/${r.job.id}`);
        if (j.state === "succeeded" || j.state === "failed") {
          ends.push(j);
          break;
        }
        await new Promise((res) => setTimeout(res, 250));
      }
    }
    const concurrent = (performance.now() - t1) / 1000;
    clearInterval(sample);
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
    const failed = ends.filter((j) => j.state !== "succeeded");
    if (failed.length)
      throw new Error(
        `${failed.length} jobs failed: ${failed
          .map((j) => j.error)
          .join(" | ")
          .slice(0, 2000)}`,
      );
    const metricsLog = serve
      .log()
      .split("\n")
      .filter((l) => /locked by another update|moved on/.test(l)).length;
    console.log(
      `onboarding suite: ${n} customers (ghcr + ecr) into 4 shard stacks on the real engine, git holding the roster; ${metricsLog} lock or push retries in the service's log`,
    );
    console.log(["", "wall s", "per customer s", "vs sequential"].map((h, i) => (i ? h.padStart(16) : h.padEnd(44))).join(""));
    for (const [what, s] of [
      [`${n} x intake onboard, one after another`, sequential],
      [`intake serve --workers 4, ${n} posted at once`, concurrent],
    ] as const) {
      console.log([what.padEnd(44), s.toFixed(1).padStart(16), (s / n).toFixed(1).padStart(16), `${(s / sequential).toFixed(2)}x`.padStart(16)].join(""));
    }
    console.log(
      `intake serve peak resident memory: ${(peakService / 2 ** 20).toFixed(0)} MiB (the service process); ${(peakTree / 2 ** 20).toFixed(0)} MiB with its engine processes`,
    );
  } finally {
    p.remove();
    removeTempDirs();
  }
}
