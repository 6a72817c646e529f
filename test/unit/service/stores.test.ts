import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { JobStore, NewJob } from "../../../service/jobs";
import { openJobStore } from "../../../service/stores";
import { OnboardingService } from "../../../service/serve";
import { git } from "../../../testing/git";
import { entry, FakeEngine, gitProject, idsInShard } from "../../../testing/onboarding";
import { postgresBin, startPostgres, type RunningPostgres } from "../../../testing/postgres";
import { tempDir } from "../../../testing/tmp";

const noPostgres = postgresBin().why;
if (noPostgres) console.warn(`skipped: the PostgreSQL job store tests: ${noPostgres}`);

let server: RunningPostgres | undefined;
let dbs = 0;
beforeAll(async () => {
  if (!noPostgres) server = await startPostgres();
}, 60_000);
afterAll(async () => {
  await server?.stop();
});

/** Two stores on one database, as two replicas hold them. */
async function twoReplicas(kind: "sqlite" | "postgres"): Promise<[JobStore, JobStore]> {
  const url = kind === "sqlite" ? `sqlite:${path.join(tempDir("jobs-"), "jobs.db")}` : await server!.createDatabase(`jobs${++dbs}`);
  const a = await openJobStore(url);
  const b = await openJobStore(url);
  return [a, b];
}

const job = (id: string, stack: string, extra: Partial<NewJob> = {}): NewJob => ({
  id,
  action: "onboard",
  customer: `c-${id}`,
  stack,
  request: { entry: { id: `c-${id}` } },
  caller: "crm",
  ...extra,
});

describe.each([["sqlite" as const], ["postgres" as const]])("the %s job store, shared by two replicas", (kind) => {
  const skip = kind === "postgres" && !!noPostgres;

  it.skipIf(skip)("one job per stack runs at a time across replicas, different stacks at once, oldest first", async () => {
    const [r1, r2] = await twoReplicas(kind);
    try {
      for (const [id, stack] of [
        ["a1", "A"],
        ["a2", "A"],
        ["b1", "B"],
        ["a3", "A"],
        ["b2", "B"],
      ])
        await r1.create(job(id, stack));
      expect((await r1.claim("one", 60_000))?.id).toBe("a1");
      expect((await r2.claim("two", 60_000))?.id).toBe("b1");
      expect(await r1.claim("one", 60_000)).toBeUndefined();
      expect(await r2.finish("a1", "two", { state: "succeeded" })).toBe(false); // not its job
      expect(await r1.finish("a1", "one", { state: "succeeded", commit: "c0ffee", changes: { create: 5 } })).toBe(true);
      expect((await r2.claim("two", 60_000))?.id).toBe("a2");
      expect(await r2.get("a1")).toMatchObject({ state: "succeeded", commit: "c0ffee", changes: { create: 5 } });
      expect((await r1.get("a2"))!.steps.map((s) => [s.name, s.replica])).toEqual([
        ["queued", undefined],
        ["running", "two"],
      ]);
      // Claims racing from both replicas over jobs of four stacks: one job per stack, never two.
      for (let i = 0; i < 12; i++) await r1.create(job(`x${i}`, `S${i % 4}`));
      const claimed = (await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? r1 : r2).claim(`racer${i}`, 60_000)))).filter((j) => j !== undefined);
      const stacks = claimed.map((j) => j!.stack);
      expect(new Set(stacks).size).toBe(stacks.length);
      expect(stacks.sort()).toEqual(["S0", "S1", "S2", "S3"]);
      expect(claimed.map((j) => j!.id).sort()).toEqual(["x0", "x1", "x2", "x3"]);
    } finally {
      await r1.close();
      await r2.close();
    }
  });

  it.skipIf(skip)("a lease that runs out is taken by the other replica; the first can no longer renew or end the job", async () => {
    const [r1, r2] = await twoReplicas(kind);
    try {
      await r1.create(job("j", "A"));
      expect((await r1.claim("one", 150))?.id).toBe("j");
      expect(await r2.claim("two", 150)).toBeUndefined();
      expect(await r1.renew("j", "one", 150)).toBe(true);
      await new Promise((r) => setTimeout(r, 400));
      const again = await r2.claim("two", 60_000);
      expect(again).toMatchObject({ id: "j", state: "running", attempts: 2 });
      expect(again!.steps.map((s) => s.name)).toEqual(["queued", "running", "resumed"]);
      expect(await r1.renew("j", "one", 150)).toBe(false);
      expect(await r1.progress("j", "one", { commit: "dead" })).toBe(false);
      expect(await r1.finish("j", "one", { state: "failed", error: "late" })).toBe(false);
      expect(await r2.progress("j", "two", { commit: "beef" })).toBe(true);
      await r2.release("j", "two");
      expect(await r1.get("j")).toMatchObject({ state: "queued", commit: "beef" });
    } finally {
      await r1.close();
      await r2.close();
    }
  });

  it.skipIf(skip)("an Idempotency-Key names one job per caller; with another request it is refused", async () => {
    const [r1, r2] = await twoReplicas(kind);
    try {
      const hash = (s: string) => createHash("sha256").update(s).digest("hex");
      const first = await r1.create(job("k1", "A", { idempotency: { key: "signup-7", hash: hash("x") } }));
      expect(first.existing).toBe(false);
      const again = await r2.create(job("k2", "A", { idempotency: { key: "signup-7", hash: hash("x") } }));
      expect(again).toMatchObject({ existing: true, job: { id: "k1" } });
      await expect(r2.create(job("k3", "A", { idempotency: { key: "signup-7", hash: hash("y") } }))).rejects.toThrow(
        /Idempotency-Key signup-7 was sent before with another request \(job k1\)/,
      );
      // Another caller's key of the same name is its own.
      expect((await r2.create(job("k4", "A", { caller: "billing", idempotency: { key: "signup-7", hash: hash("y") } }))).existing).toBe(false);
      expect((await r1.byIdempotencyKey("billing", "signup-7"))?.id).toBe("k4");
      // A callback is due once the job ends, retried after a failed try, given up past the last.
      await r1.create(job("cb", "B", { callbackUrl: "http://127.0.0.1:1/cb" }));
      expect((await r1.claim("one", 60_000))?.id).toBe("k1");
      expect((await r1.claim("one", 60_000))?.id).toBe("cb");
      expect(await r2.claimCallback("two", 60_000)).toBeUndefined();
      await r1.finish("cb", "one", { state: "succeeded" });
      const due = await r2.claimCallback("two", 60_000);
      expect(due).toMatchObject({ job: { id: "cb" }, tries: 1 });
      expect(await r1.claimCallback("one", 60_000)).toBeUndefined(); // held while it is sent
      await r2.callbackDone("cb", { delivered: false, retryMs: 0 });
      expect(await r1.claimCallback("one", 60_000)).toMatchObject({ tries: 2 });
      await r1.callbackDone("cb", { delivered: true });
      expect(await r2.claimCallback("two", 0)).toBeUndefined();
    } finally {
      await r1.close();
      await r2.close();
    }
  });
});

describe("two service replicas on PostgreSQL", () => {
  it.skipIf(!!noPostgres)(
    "20 onboardings posted at once into 3 shard stacks: 20 jobs succeed, 20 commits of one entry each, no update failed",
    async () => {
      const database = await server!.createDatabase("replicas");
      const project = gitProject();
      // The second replica runs in a clone of its own.
      const second = tempDir("replica-");
      git(second, "clone", "--quiet", `file://${project.remote}`, ".");
      const engine = new FakeEngine();
      const quiet = { write: () => true } as unknown as NodeJS.WritableStream;
      const start = (dir: string, replica: string) =>
        OnboardingService.start({
          projectDir: dir,
          stack: "test",
          listen: { host: "127.0.0.1", port: 0 },
          database,
          workers: 2,
          auth: { tokensFile: tokens() },
          pollMs: 50,
          replica,
          engine,
          logTo: quiet,
        });
      const a = await start(project.dir, "replica-a");
      const b = await start(second, "replica-b");
      try {
        const before = git(project.remote, "rev-parse", "main").trim();
        const ids = [...idsInShard(0, 7, "pg"), ...idsInShard(1, 7, "pg"), ...idsInShard(2, 6, "pg")];
        const ports = [a.port, b.port];
        const posted = await Promise.all(
          ids.map(async (id, i) => {
            const r = await fetch(`http://127.0.0.1:${ports[i % 2]}/v1/customers`, {
              method: "POST",
              headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
              body: JSON.stringify(entry(id)),
            });
            return { status: r.status, body: (await r.json()) as { job: { id: string } } };
          }),
        );
        expect(posted.map((p) => p.status)).toEqual(ids.map(() => 202));
        const jobs = [];
        for (const p of posted) {
          let j;
          for (let i = 0; i < 2400; i++) {
            j = (await (await fetch(`http://127.0.0.1:${a.port}/v1/jobs/${p.body.job.id}`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as {
              state: string;
              error: string | null;
              steps: { name: string; replica?: string }[];
              id: string;
            };
            if (j.state === "succeeded" || j.state === "failed") break;
            await new Promise((r) => setTimeout(r, 25));
          }
          jobs.push(j!);
        }
        expect(jobs.map((j) => [j.state, j.error])).toEqual(ids.map(() => ["succeeded", null]));
        // Both replicas took jobs.
        const ran = new Set(jobs.map((j) => j.steps.find((s) => s.name === "running")!.replica));
        expect(ran).toEqual(new Set(["replica-a", "replica-b"]));
        // 20 commits, each one job's, each adding one entry.
        const commits = git(project.remote, "rev-list", "--reverse", `${before}..main`).split("\n").filter(Boolean);
        expect(commits).toHaveLength(20);
        for (const c of commits)
          expect(
            git(project.remote, "diff", "--unified=0", `${c}~1`, c)
              .split("\n")
              .filter((l) => /^\+ {2}- id: /.test(l)),
          ).toHaveLength(1);
        const onBranch = git(project.remote, "show", "main:customers/roster.yaml");
        for (const id of ids) expect(onBranch.split("\n").filter((l) => l === `  - id: ${id}`)).toHaveLength(1);
        // No two updates of one stack overlapped.
        const ups = engine.calls.filter((c) => c.op === "up" && c.end > 0);
        for (const x of ups) for (const y of ups) if (x !== y && x.stack === y.stack) expect(x.end <= y.start || y.end <= x.start).toBe(true);
      } finally {
        await a.service.stop(1000);
        await b.service.stop(1000);
      }
    },
    120_000,
  );
});

const TOKEN = "replica-test-token-0123456789";
function tokens(): string {
  const file = path.join(tempDir("tokens-"), "tokens.json");
  writeFileSync(file, JSON.stringify({ tokens: [{ name: "crm", sha256: createHash("sha256").update(TOKEN).digest("hex"), role: "write" }] }));
  return file;
}
