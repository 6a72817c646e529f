// Two onboarding-service replicas on PostgreSQL and the real engine: kill -9 of the replica running
// an `up` leaves the job to the other, which finishes it; a `pulumi up` holding the stack's lock
// (as CI's would) is waited out. After each, a fresh clone of the roster branch previews with no change.
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { git } from "../../testing/git";
import { postgresBin, startPostgres, type RunningPostgres } from "../../testing/postgres";
import { serveProcess, type ServeProcess } from "../../testing/serve-process";
import { tempDir } from "../../testing/tmp";
import { EngineProject, engineUnavailable, freshClonePreview, ROOT, rosterRepository } from "../../testing/engine";
import { projectOnCluster } from "../../testing/kube";

const unavailable = engineUnavailable() ?? postgresBin().why;
if (unavailable) console.log(`skipping the real-engine replica tests: ${unavailable}`);

const TOKEN = "replicas-crm-token-0123456789";

type Replica = ServeProcess;

describe.skipIf(!!unavailable)("two service replicas on PostgreSQL, the real engine", () => {
  let p: EngineProject;
  let at: Awaited<ReturnType<typeof projectOnCluster>> | undefined;
  let remote: string;
  let pg: RunningPostgres;
  let database: string;
  const replicas: Replica[] = [];

  const freshPreview = () => freshClonePreview(p, remote);

  async function replica(name: string, dir: string): Promise<Replica> {
    const tokens = path.join(tempDir("tokens-"), "tokens.json");
    writeFileSync(tokens, JSON.stringify({ tokens: [{ name: "crm", sha256: createHash("sha256").update(TOKEN).digest("hex"), role: "write" }] }));
    // Its own process group, and its own temp folder: what a killed replica cannot clean up is
    // removed with the test's folders.
    const r = await serveProcess(
      ["--project", dir, "--stack", "dev", "--listen", "127.0.0.1:0", "--tokens", tokens, "--database", database, "--lease-seconds", "5", "--replica", name],
      { cwd: dir, env: { ...p.env, TMPDIR: tempDir(`${name}-tmp-`) }, detached: true },
    );
    replicas.push(r);
    return r;
  }

  const api = async (r: Replica, method: string, route: string, body?: unknown) => {
    const res = await fetch(`http://127.0.0.1:${r.port}${route}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, any> };
  };

  async function until(r: Replica, id: string, done: (j: Record<string, any>) => boolean): Promise<Record<string, any>> {
    for (let i = 0; i < 2400; i++) {
      const j = (await api(r, "GET", `/v1/jobs/${id}`)).body;
      if (done(j)) return j;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`job ${id}: waited in vain; ${r.log().slice(-3000)}`);
  }
  const ended = (j: Record<string, any>) => j.state === "succeeded" || j.state === "failed";

  beforeAll(async () => {
    pg = await startPostgres();
    database = await pg.createDatabase("replicas");
    at = await projectOnCluster();
    p = at.p;
    remote = await rosterRepository(p);
  }, 600_000);

  afterAll(async () => {
    for (const r of replicas) {
      if (r.child.exitCode === null && r.child.signalCode === null) {
        // SIGTERM, then (a job still waiting for a lock would drain for minutes) the whole tree.
        const tree = descendants(r.child.pid!);
        const exited = new Promise((res) => r.child.once("exit", res));
        r.child.kill("SIGTERM");
        const late = setTimeout(
          () =>
            tree.forEach(
              (pid) =>
                void (() => {
                  try {
                    process.kill(pid, "SIGKILL");
                  } catch {
                    /* gone */
                  }
                })(),
            ),
          5000,
        );
        await exited;
        clearTimeout(late);
      }
    }
    await pg?.stop();
    await at?.stop();
  });

  it("kill -9 of the replica running an up: the other takes the job after its lease and finishes it; nothing twice; no change left", async () => {
    const a = await replica("replica-a", p.dir);
    const second = tempDir("replica-b-");
    git(second, "clone", "--quiet", `file://${remote}`, ".");
    symlinkSync(path.join(ROOT, "node_modules"), path.join(second, "node_modules"));
    const b = await replica("replica-b", second);
    // Only replica a takes the first job: b is busy until a holds it.
    const posted = await api(a, "POST", "/v1/customers", {
      id: "killco",
      name: "KillCo",
      tier: "professional",
      registries: ["ecr", "acr"],
      license: { expires: "2099-12-31" },
    });
    expect(posted.status).toBe(202);
    const id = posted.body.job.id;
    const up = await until(b, id, (j) => j.steps.some((s: { name: string }) => s.name === "up") || ended(j));
    expect(up.steps.find((s: { name: string }) => s.name === "running")?.replica).toBeDefined();
    const runner = up.steps.find((s: { name: string }) => s.name === "running").replica === "replica-a" ? a : b;
    const other = runner === a ? b : a;
    // Mid-update: the engine holds the stack's lock (a file of the backend) and works.
    const locks = path.join(p.env.PULUMI_BACKEND_URL!.replace(/^file:\/\//, ""), ".pulumi", "locks", "organization", "registry-intake", "dev");
    const held = () => (existsSync(locks) ? readdirSync(locks).filter((f) => f.endsWith(".json")) : []);
    for (let i = 0; i < 600 && !held().length; i++) await new Promise((res) => setTimeout(res, 50));
    expect(held()).toHaveLength(1);
    await new Promise((res) => setTimeout(res, 1000));
    // The replica's machine dies: the service and every process under it (the engine's plugins
    // run in process groups of their own).
    const tree = descendants(runner.child.pid!);
    expect(tree.length).toBeGreaterThan(1);
    for (const pid of tree) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* a short-lived child that ended on its own */
      }
    }
    const job = await until(other, id, ended);
    expect(job, other.log().slice(-4000)).toMatchObject({ state: "succeeded", error: null });
    // The dead replica's lock on the stack was its own, on this host: removed, not waited on for ever.
    expect(other.log()).toMatch(/was locked by a process of this host that is gone \(a replica that died mid-update\); removed its lock/);
    for (const pid of tree) expect(() => process.kill(pid, 0)).toThrow();
    expect(held()).toEqual([]);
    expect(job.steps.find((s: { name: string }) => s.name === "resumed")?.replica).toBe(other === a ? "replica-a" : "replica-b");
    expect(
      git(remote, "log", "--format=%(trailers:key=Intake-Job,valueonly)", "main")
        .split("\n")
        .filter((l) => l.trim() === id),
    ).toHaveLength(1);
    expect(
      (parse(git(remote, "show", "main:customers/roster.yaml")) as { customers: { id: string }[] }).customers.filter((c) => c.id === "killco"),
    ).toHaveLength(1);
    const preview = await freshPreview();
    expect(preview.code, `${preview.stdout}\n${preview.stderr}`).toBe(0);
  }, 900_000);

  it("a lock held by another update (as CI's pulumi up would hold it) is waited out, never removed; the job then succeeds", async () => {
    const b = replicas.find((r) => r.child.exitCode === null && r.child.signalCode === null)!;
    // A live process of this host holds the stack (this test's own process, as a CI runner's pulumi would).
    const locks = path.join(p.env.PULUMI_BACKEND_URL!.replace(/^file:\/\//, ""), ".pulumi", "locks", "organization", "registry-intake", "dev");
    mkdirSync(locks, { recursive: true });
    const lock = path.join(locks, `${randomUUID()}.json`);
    writeFileSync(lock, JSON.stringify({ pid: process.pid, username: "ci", hostname: hostname(), timestamp: new Date().toISOString() }));
    const posted = await api(b, "POST", "/v1/customers", {
      id: "lockco",
      name: "LockCo",
      tier: "standard",
      registries: ["ghcr"],
      license: { expires: "2099-12-31" },
      github: { members: ["lockco-dev"] },
    });
    expect(posted.status).toBe(202);
    for (let i = 0; i < 600 && !/lockco: stack dev is locked by another update/.test(b.log()); i++) await new Promise((res) => setTimeout(res, 50));
    // The preview reads the state without the lock; the up waits for it.
    expect(b.log()).toMatch(/lockco: stack dev is locked by another update; up again in/);
    expect(existsSync(lock)).toBe(true);
    expect((await api(b, "GET", `/v1/jobs/${posted.body.job.id}`)).body.state).toBe("running");
    // The other update ends.
    rmSync(lock);
    const job = await until(b, posted.body.job.id, ended);
    expect(job, b.log().slice(-3000)).toMatchObject({ state: "succeeded", error: null });
    const preview = await freshPreview();
    expect(preview.code, `${preview.stdout}\n${preview.stderr}`).toBe(0);
  }, 600_000);
});

/** A process and all its descendants (by parent pid, from /proc), the process first. */
function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync("/proc").filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = readFileSync(`/proc/${d}/stat`, "utf8");
      parent.set(Number(d), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
    } catch {
      /* gone */
    }
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) for (const [pid, pp] of parent) if (pp === out[i]) out.push(pid);
  return out;
}
