import { createHash, createHmac, randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import * as path from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { main } from "../../../cli/main";
import type { Job, JobStore } from "../../../service/jobs";
import { openJobStore } from "../../../service/stores";
import { OnboardingService, type ServeOptions } from "../../../service/serve";
import { Worker } from "../../../service/worker";
import { git } from "../../../testing/git";
import { serveProcess } from "../../../testing/serve-process";
import { entry, FakeEngine, gitProject, idsInShard } from "../../../testing/onboarding";
import { tempDir } from "../../../testing/tmp";

const WRITE = "crm-token-0123456789";
const READ = "dashboard-token-0123456789";

interface Running {
  service: OnboardingService;
  url: string;
  metrics: string;
  dir: string;
  remote: string;
  engine: FakeEngine;
}

const running: Running[] = [];
const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.service.stop(1000)));
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

function tokensFile(dir: string): string {
  const file = path.join(dir, "tokens.json");
  const sha = (t: string) => createHash("sha256").update(t).digest("hex");
  writeFileSync(
    file,
    JSON.stringify({
      tokens: [
        { name: "crm", sha256: sha(WRITE), role: "write" },
        { name: "dashboard", sha256: sha(READ), role: "read" },
      ],
    }),
  );
  return file;
}

/** A service on a free loopback port, in a clone of a bare roster remote, jobs in SQLite, the engine's stand-in. */
async function serve(o: Partial<ServeOptions> & { project?: ReturnType<typeof gitProject>; engine?: FakeEngine } = {}): Promise<Running> {
  const { dir, remote } = o.project ?? gitProject();
  const engine = o.engine ?? new FakeEngine();
  const { service, port, metricsPort } = await OnboardingService.start({
    projectDir: dir,
    stack: "test",
    listen: { host: "127.0.0.1", port: 0 },
    metricsListen: { host: "127.0.0.1", port: 0 },
    database: `sqlite:${path.join(tempDir("jobs-"), "jobs.db")}`,
    workers: 3,
    auth: { tokensFile: tokensFile(tempDir("tokens-")) },
    pollMs: 50,
    lockWait: { tries: 5, firstMs: 20 },
    logTo: { write: () => true } as unknown as NodeJS.WritableStream,
    ...o,
    engine,
  });
  const r = { service, url: `http://127.0.0.1:${port}`, metrics: `http://127.0.0.1:${metricsPort}/metrics`, dir, remote, engine };
  running.push(r);
  return r;
}

async function call(
  base: string,
  method: string,
  p: string,
  body?: unknown,
  headers: Record<string, string> = {},
  token: string | null = WRITE,
): Promise<{ status: number; body: any }> {
  const r = await fetch(`${base}${p}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined };
}

/** Polls the job until it has ended. */
async function ended(base: string, id: string, token = READ): Promise<Job> {
  for (let i = 0; i < 600; i++) {
    const { body } = await call(base, "GET", `/v1/jobs/${id}`, undefined, {}, token);
    if (body.state === "succeeded" || body.state === "failed") return body;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${id} did not end`);
}

const rosterOnBranch = (remote: string) =>
  parse(git(remote, "show", "main:customers/roster.yaml")) as { customers: { id: string; status?: string; tier?: string }[] };

describe("intake serve: the onboarding service (SQLite, real git, the engine's stand-in)", () => {
  it("onboards through a job: 202, the job's steps, one commit with its trailer, the customer readable; the same Idempotency-Key answers the same job", async () => {
    const s = await serve();
    const before = git(s.remote, "rev-parse", "main").trim();
    const [id] = idsInShard(1, 1, "svc");
    const posted = await call(s.url, "POST", "/v1/customers", entry(id), { "idempotency-key": "signup-1" });
    expect(posted.status).toBe(202);
    expect(posted.body.job).toMatchObject({ state: "queued", action: "onboard", customer: id, stack: "test-shard-01", commit: null });
    const job = await ended(s.url, posted.body.job.id);
    expect(job).toMatchObject({ state: "succeeded", changes: { create: 5 }, error: null });
    expect(job.steps.map((st) => st.name)).toEqual(["queued", "running", "preview", "commit", "pushed", "up", "succeeded"]);
    const tip = git(s.remote, "rev-parse", "main").trim();
    expect(job.commit).toBe(tip);
    expect(git(s.remote, "rev-parse", "main~1").trim()).toBe(before);
    expect(git(s.remote, "log", "-1", "--format=%B", "main").trim()).toBe(`registry-intake: onboard ${id}\n\nIntake-Job: ${job.id}`);
    expect(rosterOnBranch(s.remote).customers.map((c) => c.id)).toContain(id);

    // The same key and body: the same job, nothing queued again; another body: 409.
    const again = await call(s.url, "POST", "/v1/customers", entry(id), { "idempotency-key": "signup-1" });
    expect(again).toMatchObject({ status: 202, body: { job: { id: job.id, state: "succeeded" } } });
    const other = await call(s.url, "POST", "/v1/customers", entry(id, { name: "Another" }), { "idempotency-key": "signup-1" });
    expect(other.status).toBe(409);
    expect(other.body.error).toMatch(/Idempotency-Key signup-1 was sent before with another request/);
    expect(git(s.remote, "rev-parse", "main").trim()).toBe(tip);

    // Readable by a read-only caller: status, namespaces, how to mint.
    const got = await call(s.url, "GET", `/v1/customers/${id}`, undefined, {}, READ);
    expect(got.status).toBe(200);
    expect(got.body).toMatchObject({ id, status: "active", tier: "professional", stack: "test-shard-01", shard: 1, jobs: [] });
    expect(Object.keys(got.body.namespaces)).toEqual(["ghcr", "ecr"]);
    expect(got.body.credentials[0]).toMatch(/^ghcr: no github\.machineUser, so no token to hand out/);
    expect(got.body.credentials[1]).toBe(`intake token --customer ${id} --kind ecr --stack test-shard-01`);

    // Suspend (PATCH), rotate, then offboard (DELETE): each one commit of its own lines.
    const patched = await call(s.url, "PATCH", `/v1/customers/${id}`, { status: "suspended" });
    expect(patched.status).toBe(202);
    expect(await ended(s.url, patched.body.job.id)).toMatchObject({ state: "succeeded" });
    expect(
      git(s.remote, "diff", "--unified=0", "main~1", "main")
        .split("\n")
        .filter((l) => /^[-+][^-+]/.test(l)),
    ).toEqual(["+    status: suspended"]);
    expect((await call(s.url, "GET", `/v1/customers/${id}`, undefined, {}, READ)).body).toMatchObject({ status: "suspended", reason: "status is suspended" });
    const rotated = await call(s.url, "POST", `/v1/customers/${id}/rotate`, { kind: "ecr", overlapDays: 3 });
    expect(rotated.status).toBe(202);
    expect(await ended(s.url, rotated.body.job.id)).toMatchObject({ state: "succeeded", action: "rotate" });
    expect(rosterOnBranch(s.remote).customers.find((c) => c.id === id)).toMatchObject({ credentials: { ecr: { generation: 2 } } });
    // Inside the overlap: refused at once, 409, nothing queued.
    const twice = await call(s.url, "POST", `/v1/customers/${id}/rotate`, { kind: "ecr" });
    expect(twice.status).toBe(409);
    expect(twice.body.error).toMatch(/ecr generation 1 is kept through/);
    const deleted = await call(s.url, "DELETE", `/v1/customers/${id}`);
    expect(deleted.status).toBe(202);
    expect(await ended(s.url, deleted.body.job.id)).toMatchObject({ state: "succeeded", action: "offboard" });
    expect(
      git(s.remote, "diff", "--unified=0", "main~1", "main")
        .split("\n")
        .filter((l) => /^[-+][^-+]/.test(l)),
    ).toEqual(["-    status: suspended", "+    status: offboarded"]);
    expect((await call(s.url, "DELETE", `/v1/customers/${id}`)).status).toBe(409);
    // Four writes, four commits, and the work tree followed.
    expect(git(s.remote, "rev-list", "--count", `${before}..main`).trim()).toBe("4");
    expect(readFileSync(path.join(s.dir, "customers", "roster.yaml"), "utf8")).toBe(git(s.remote, "show", "main:customers/roster.yaml"));

    // Every write audited; the metrics count the jobs.
    const metrics = await (await fetch(s.metrics)).text();
    expect(metrics).toMatch(/intake_jobs\{state="succeeded",action="onboard"\} 1/);
    expect(metrics).toMatch(/intake_job_duration_seconds_count\{action="offboard",state="succeeded"\} 1/);
  });

  it("bad input: one line, the status the API names, nothing committed or queued", async () => {
    const s = await serve();
    const tip = git(s.remote, "rev-parse", "main").trim();
    const [id] = idsInShard(0, 1, "bad");
    const cases: [string, string, unknown, Record<string, string>, string | null, number, RegExp][] = [
      ["POST", "/v1/customers", { ...entry(id), tier: "gold" }, {}, WRITE, 400, /^not a valid entry: tier: "gold" .*license tier/],
      ["POST", "/v1/customers", { ...entry(id), registries: ["ecr", "quay"] }, {}, WRITE, 400, /registries\.1: "quay"/],
      ["POST", "/v1/customers", { ...entry(id), colour: "red" }, {}, WRITE, 400, /colour/],
      ["POST", "/v1/customers", "{not json", {}, WRITE, 400, /^the body is not JSON/],
      ["POST", "/v1/customers", entry("acme"), {}, WRITE, 409, /customer acme is already in the roster/],
      ["POST", "/v1/customers", entry(id), {}, null, 401, /^no bearer token/],
      ["POST", "/v1/customers", entry(id), {}, "nope", 401, /not one of the service's tokens/],
      ["POST", "/v1/customers", entry(id), {}, READ, 403, /caller dashboard may only read/],
      ["POST", "/v1/customers", entry(id), { "intake-callback-url": "http://127.0.0.1:1/cb" }, WRITE, 400, /no callback key/],
      ["POST", "/v1/customers", entry(id), { "idempotency-key": "has space" }, WRITE, 400, /^Idempotency-Key: must be/],
      ["PATCH", "/v1/customers/nosuch", { tier: "standard" }, {}, WRITE, 404, /^customer nosuch is not in/],
      ["PATCH", "/v1/customers/acme", {}, {}, WRITE, 400, /names no field to change/],
      ["PATCH", "/v1/customers/acme", { status: "offboarded" }, {}, WRITE, 400, /must be active or suspended \(offboard with DELETE\)/],
      ["PATCH", "/v1/customers/acme", { license: { expires: "2026-02-30" } }, {}, WRITE, 400, /license\.expires/],
      ["DELETE", "/v1/customers/nosuch", undefined, {}, WRITE, 404, /nosuch is not in/],
      ["POST", "/v1/customers/acme/rotate", { kind: "ghcr" }, {}, WRITE, 400, /^not a valid rotation: kind: "ghcr" must be one of ecr, gar, distribution$/],
      ["POST", "/v1/customers/acme/rotate", { overlapDays: 400 }, {}, WRITE, 400, /overlapDays: 400 is above the maximum of 90/],
      ["GET", "/v1/jobs/nosuch", undefined, {}, READ, 404, /^no job nosuch$/],
      ["GET", "/v1/nothing", undefined, {}, READ, 404, /^no such endpoint/],
      ["PUT", "/v1/customers/acme", undefined, {}, WRITE, 405, /PUT is not allowed/],
    ];
    for (const [method, p, body, headers, token, status, message] of cases) {
      const r = await call(s.url, method, p, body, headers, token);
      expect([r.status, r.body.error], `${method} ${p} ${JSON.stringify(body)}`).toEqual([status, expect.stringMatching(message)]);
      expect(r.body.error.split("\n")).toHaveLength(1);
    }
    // A preview that fails the policy pack: the job fails naming the rule; nothing is committed.
    s.engine.failPreview = "error: preview failed\nmandatory: [grants-confined-to-customer] gives customer x's team access to customer y's repository";
    const posted = await call(s.url, "POST", "/v1/customers", entry(id));
    const job = await ended(s.url, posted.body.job.id);
    expect(job.state).toBe("failed");
    expect(job.error).toMatch(/preview of stack test-shard-00 failed, nothing was changed: .*grants-confined-to-customer/);
    expect(job.commit).toBeNull();
    expect(git(s.remote, "rev-parse", "main").trim()).toBe(tip);
    expect(s.engine.calls.filter((c) => c.op === "up")).toHaveLength(0);
  });

  it("jobs of one stack run one at a time, of different stacks at once; every write is its own commit; a lock held by another update is waited out", async () => {
    const s = await serve();
    const before = git(s.remote, "rev-parse", "main").trim();
    const ids = [...idsInShard(0, 3, "conc"), ...idsInShard(1, 3, "conc"), ...idsInShard(2, 3, "conc")];
    s.engine.locked = 2; // another update (CI's) holds a stack for the first two tries
    const posted = await Promise.all(ids.map((id) => call(s.url, "POST", "/v1/customers", entry(id))));
    expect(posted.map((p) => p.status)).toEqual(ids.map(() => 202));
    const jobs = await Promise.all(posted.map((p) => ended(s.url, p.body.job.id)));
    expect(jobs.map((j) => [j.customer, j.state, j.error])).toEqual(ids.map((id) => [id, "succeeded", null]));
    // Exactly one commit per job, each the job's own, the roster holding all nine once.
    const log = git(s.remote, "log", "--format=%(trailers:key=Intake-Job,valueonly)", `${before}..main`).split("\n").filter(Boolean);
    expect(log.sort()).toEqual(jobs.map((j) => j.id).sort());
    const onBranch = rosterOnBranch(s.remote).customers.map((c) => c.id);
    for (const id of ids) expect(onBranch.filter((x) => x === id)).toHaveLength(1);
    // No two updates of one stack overlapped; updates of different stacks did.
    const ups = s.engine.calls.filter((c) => c.op === "up" && c.end > 0);
    for (const a of ups) for (const b of ups) if (a !== b && a.stack === b.stack) expect(a.end <= b.start || b.end <= a.start).toBe(true);
    const metrics = await (await fetch(s.metrics)).text();
    expect(metrics).toMatch(/intake_job_retries_total\{reason="lock"\} 2/);
  });

  it("jobs queued behind one stack's running job go as one batch: each its own commit, one preview and one up for all; a refused one fails alone", async () => {
    const s = await serve();
    const before = git(s.remote, "rev-parse", "main").trim();
    const [first, a, b, bad, c] = idsInShard(2, 5, "batch");
    let release!: () => void;
    s.engine.gate = new Promise((r) => (release = r));
    const p1 = await call(s.url, "POST", "/v1/customers", entry(first));
    for (let i = 0; i < 400 && !s.engine.calls.some((x) => x.op === "up"); i++) await new Promise((r) => setTimeout(r, 25));
    // Queued behind it: three good ones and one the policy pack refuses.
    s.engine.failPreviewOf = (roster) =>
      roster.includes(`id: ${bad}`) ? `error: preview failed\nmandatory: [grants-confined-to-customer] refused ${bad}` : undefined;
    const queued = [];
    for (const id of [a, bad, b, c]) queued.push(await call(s.url, "POST", "/v1/customers", entry(id)));
    expect(queued.map((q) => q.body.job.state)).toEqual(["queued", "queued", "queued", "queued"]);
    s.engine.gate = Promise.resolve();
    release();
    const jobs = await Promise.all([p1, ...queued].map((q) => ended(s.url, q.body.job.id)));
    expect(jobs.map((j) => [j.customer, j.state])).toEqual([
      [first, "succeeded"],
      [a, "succeeded"],
      [bad, "failed"],
      [b, "succeeded"],
      [c, "succeeded"],
    ]);
    expect(jobs[2].error).toMatch(/preview of stack test-shard-02 failed, nothing was changed: .*grants-confined-to-customer/);
    // Each good job its own commit; the refused one none.
    const trailers = git(s.remote, "log", "--format=%(trailers:key=Intake-Job,valueonly)", `${before}..main`).split("\n").filter(Boolean).sort();
    expect(trailers).toEqual([jobs[0].id, jobs[1].id, jobs[3].id, jobs[4].id].sort());
    expect(rosterOnBranch(s.remote).customers.map((x) => x.id)).not.toContain(bad);
    // The batch's preview failed (the bad one in it), so each was previewed alone; one up for the three good ones.
    const ups = s.engine.calls.filter((x) => x.op === "up" && x.stack === "test-shard-02");
    expect(ups).toHaveLength(2);
    for (const j of [jobs[1], jobs[3], jobs[4]])
      expect(j.steps.map((st) => st.name)).toEqual(expect.arrayContaining(["preview", "commit", "pushed", "up", "succeeded"]));

    // Without a refusal, a batch is one preview and one up for all.
    const more = idsInShard(2, 9, "batch").slice(5);
    s.engine.gate = new Promise((r) => (release = r));
    const head = await call(s.url, "POST", "/v1/customers", entry(more[0]));
    for (let i = 0; i < 400 && s.engine.calls.filter((x) => x.op === "up").length < 3; i++) await new Promise((r) => setTimeout(r, 25));
    const rest = [];
    for (const id of more.slice(1)) rest.push(await call(s.url, "POST", "/v1/customers", entry(id)));
    const calls = s.engine.calls.length;
    s.engine.gate = Promise.resolve();
    release();
    const done = await Promise.all([head, ...rest].map((q) => ended(s.url, q.body.job.id)));
    expect(done.map((j) => j.state)).toEqual(["succeeded", "succeeded", "succeeded", "succeeded"]);
    expect(new Set(done.map((j) => j.commit)).size).toBe(4);
    expect(s.engine.calls.slice(calls).map((x) => x.op)).toEqual(["preview", "up"]);
  });

  it("a batch judges each change after the ones before it: an offboarding then a reinstatement, two rotations of one kind", async () => {
    const s = await serve();
    const [first, x] = idsInShard(0, 2, "seq");
    for (const id of [first, x]) expect((await ended(s.url, (await call(s.url, "POST", "/v1/customers", entry(id))).body.job.id)).state).toBe("succeeded");
    let release!: () => void;
    s.engine.gate = new Promise((r) => (release = r));
    const holder = await call(s.url, "PATCH", `/v1/customers/${first}`, { tier: "enterprise" });
    for (let i = 0; i < 400 && s.engine.calls.filter((c) => c.op === "up").length < 3; i++) await new Promise((r) => setTimeout(r, 25));
    // Queued behind it on the same stack, checked each against the branch tip when posted (all pass).
    const off = await call(s.url, "DELETE", `/v1/customers/${x}`);
    const back = await call(s.url, "PATCH", `/v1/customers/${x}`, { status: "active" });
    const rot1 = await call(s.url, "POST", `/v1/customers/${first}/rotate`, { kind: "ecr" });
    const rot2 = await call(s.url, "POST", `/v1/customers/${first}/rotate`, { kind: "ecr" });
    expect([off, back, rot1, rot2].map((r) => r.status)).toEqual([202, 202, 202, 202]);
    s.engine.gate = Promise.resolve();
    release();
    const jobs = await Promise.all([holder, off, back, rot1, rot2].map((r) => ended(s.url, r.body.job.id)));
    expect(jobs.map((j) => [j.action, j.state])).toEqual([
      ["change", "succeeded"],
      ["offboard", "succeeded"],
      ["change", "failed"],
      ["rotate", "succeeded"],
      ["rotate", "failed"],
    ]);
    expect(jobs[2].error).toMatch(/is offboarded/);
    expect(jobs[4].error).toMatch(/ecr generation 1 is kept through/);
    expect(rosterOnBranch(s.remote).customers.find((c) => c.id === x)).toMatchObject({ status: "offboarded" });
    expect((await call(s.url, "GET", "/v1/customers/%E0%A4%A", undefined, {}, READ)).status).toBe(400);
  });

  it("a replica whose lease was taken stops the batch's update and leaves the job to the other", async () => {
    const lines: string[] = [];
    const s = await serve({ leaseMs: 300, logTo: { write: (l: string) => (lines.push(l), true) } as unknown as NodeJS.WritableStream });
    s.engine.gate = new Promise(() => {});
    const [id] = idsInShard(0, 1, "lease");
    const posted = await call(s.url, "POST", "/v1/customers", entry(id));
    for (let i = 0; i < 400 && !s.engine.calls.some((c) => c.op === "up"); i++) await new Promise((r) => setTimeout(r, 25));
    const store = s.service.store as { renew: JobStore["renew"] };
    const renew = store.renew;
    // Another replica took the job: this one's renewals now fail.
    store.renew = async () => false;
    const up = s.engine.calls.find((c) => c.op === "up")!;
    const signal = (up.opts as { signal?: AbortSignal }).signal!;
    for (let i = 0; i < 200 && !signal.aborted; i++) await new Promise((r) => setTimeout(r, 25));
    expect(signal.aborted).toBe(true);
    store.renew = renew;
    s.engine.gate = Promise.resolve();
    // Given back (the store still named this replica), then taken and finished.
    const job = await ended(s.url, posted.body.job.id);
    expect(job.state).toBe("succeeded");
    expect(job.steps.filter((st) => st.name === "running" || st.name === "resumed").length).toBeGreaterThanOrEqual(2);
    expect(lines.join("")).toMatch(/stopping the batch: a job's lease was taken by another replica/);
  });

  it("a job whose replica died is taken again once its lease runs out: its commit is found, not made twice", async () => {
    const project = gitProject();
    const engine = new FakeEngine();
    const database = `sqlite:${path.join(tempDir("jobs-"), "jobs.db")}`;
    const s = await serve({ project, engine, leaseMs: 300, database });
    const [id] = idsInShard(2, 1, "crash");
    // The first replica gets as far as the push and hangs in its up.
    let hang!: (e: Error) => void;
    engine.gate = new Promise((_, reject) => (hang = reject));
    const posted = await call(s.url, "POST", "/v1/customers", entry(id));
    const jobId = posted.body.job.id;
    for (let i = 0; i < 400 && !engine.calls.some((c) => c.op === "up"); i++) await new Promise((r) => setTimeout(r, 25));
    const pushed = git(s.remote, "rev-parse", "main").trim();
    expect(git(s.remote, "log", "-1", "--format=%B", "main")).toContain(`Intake-Job: ${jobId}`);
    // Then it dies: its renewals stop (the job stays running under a lease that runs out).
    const dead = s.service.worker as unknown as { stopping: boolean; poke(): void };
    dead.stopping = true;
    dead.poke();
    (s.service.store as { renew: JobStore["renew"] }).renew = async () => true; // renews nothing in the store
    // A second replica on the same file takes the job after the lease and finishes it.
    const store = await openJobStore(database);
    const w = new Worker({
      store,
      replica: "second",
      workers: 1,
      leaseMs: 300,
      pollMs: 50,
      onboarding: { projectDir: project.dir, stack: "test", engine, lockWait: { tries: 3, firstMs: 10 } },
      log: () => {},
    });
    w.start();
    try {
      for (let i = 0; i < 400 && !(await store.get(jobId))!.steps.some((st) => st.name === "resumed"); i++) await new Promise((r) => setTimeout(r, 25));
      // Once the job is taken, the first replica's hung up ends (in one process, it holds the stack's turn).
      engine.gate = Promise.resolve();
      hang(new Error("code: 255\nerror: the replica died"));
      const job = await endedIn(store, jobId);
      expect(job).toMatchObject({ state: "succeeded", commit: pushed });
      expect(job.steps.find((st) => st.name === "resumed")).toMatchObject({ replica: "second" });
      expect(git(s.remote, "rev-parse", "main").trim()).toBe(pushed);
      expect(rosterOnBranch(s.remote).customers.filter((c) => c.id === id)).toHaveLength(1);
      // The first replica's failed up could not record an end: the job was the second's by then.
      expect(job.error).toBeNull();
    } finally {
      await w.stop(1000);
      await store.close();
    }
  });

  it("callbacks are signed, retried until answered; OIDC callers are judged by issuer, audience and scope", async () => {
    const secret = randomBytes(32).toString("hex");
    // The caller's callback endpoint: refuses the first try, takes the second.
    const got: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
    const cb = createServer((req, res) => {
      let body = "";
      req
        .on("data", (c) => (body += c))
        .on("end", () => {
          got.push({ headers: req.headers, body });
          res.writeHead(got.length === 1 ? 503 : 204).end();
        });
    });
    servers.push(cb);
    await new Promise<void>((r) => cb.listen(0, "127.0.0.1", r));
    // An OIDC issuer on loopback: discovery and JWKS.
    const { publicKey, privateKey } = await generateKeyPair("ES256");
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" };
    const idp = createServer((req, res) => {
      const base = `http://127.0.0.1:${(idp.address() as { port: number }).port}`;
      if (req.url === "/.well-known/openid-configuration")
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ issuer: base, jwks_uri: `${base}/jwks` }));
      else if (req.url === "/jwks") res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
      else res.writeHead(404).end();
    });
    servers.push(idp);
    await new Promise<void>((r) => idp.listen(0, "127.0.0.1", r));
    const issuer = `http://127.0.0.1:${(idp.address() as { port: number }).port}`;
    const jwt = (claims: Record<string, unknown>, aud = "registry-intake") =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: "ES256", kid: "k1" })
        .setIssuer(issuer)
        .setAudience(aud)
        .setSubject("billing")
        .setIssuedAt()
        .setExpirationTime("5m")
        .sign(privateKey);
    const s = await serve({ callbackSecret: secret, auth: { tokensFile: tokensFile(tempDir("tokens-")), oidc: { issuer, audience: "registry-intake" } } });
    const [id] = idsInShard(0, 1, "cb");
    expect((await call(s.url, "POST", "/v1/customers", entry(id), {}, await jwt({ scope: "intake:write" }, "another-service"))).body.error).toMatch(
      /aud claim/,
    );
    expect((await call(s.url, "POST", "/v1/customers", entry(id), {}, await jwt({ scope: "openid" }))).status).toBe(403);
    expect((await call(s.url, "POST", "/v1/customers", entry(id), {}, await jwt({ scope: "intake:read" }))).status).toBe(403);
    const cbUrl = `http://127.0.0.1:${(cb.address() as { port: number }).port}/done`;
    const posted = await call(s.url, "POST", "/v1/customers", entry(id), { "intake-callback-url": cbUrl }, await jwt({ scope: "openid intake:write" }));
    expect(posted.status).toBe(202);
    await ended(s.url, posted.body.job.id, WRITE);
    for (let i = 0; i < 200 && got.length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    expect(got).toHaveLength(2);
    for (const g of got) {
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(g.headers["intake-signature"]))!;
      expect(v1).toBe(createHmac("sha256", secret).update(`${t}.${g.body}`).digest("hex"));
      expect(JSON.parse(g.body).job).toMatchObject({ id: posted.body.job.id, state: "succeeded", customer: id });
    }
  });

  it("stopping: no new jobs; a running one past the deadline is cancelled and given back to the queue", async () => {
    const database = `sqlite:${path.join(tempDir("jobs-"), "jobs.db")}`;
    const s = await serve({ database });
    s.engine.gate = new Promise(() => {});
    const [id] = idsInShard(1, 1, "stop");
    const posted = await call(s.url, "POST", "/v1/customers", entry(id));
    for (let i = 0; i < 400 && !s.engine.calls.some((c) => c.op === "up"); i++) await new Promise((r) => setTimeout(r, 25));
    running.splice(running.indexOf(s), 1);
    await s.service.stop(200);
    // The API no longer answers; the job is queued again for the next replica, with its commit pushed.
    await expect(fetch(`${s.url}/healthz`)).rejects.toThrow();
    const store = await openJobStore(database);
    try {
      const job = (await store.get(posted.body.job.id))!;
      expect(job.state).toBe("queued");
      expect(git(s.remote, "log", "-1", "--format=%B", "main")).toContain(`Intake-Job: ${job.id}`);
    } finally {
      await store.close();
    }
  });

  it("intake serve: bad flags and settings in one line, exit 2; a started service stops on SIGTERM with exit 0", async () => {
    const { dir } = gitProject();
    const plain = gitProject();
    writeFileSync(
      path.join(plain.dir, "Pulumi.test.yaml"),
      readFileSync(path.join(plain.dir, "Pulumi.test.yaml"), "utf8").replace(/\n {2}registry-intake:onboarding:[\s\S]*?(?=\n {2}\S|$)/, ""),
    );
    const tokens = tokensFile(tempDir("tokens-"));
    const run = async (args: string[]) => {
      const out: string[] = [];
      const err: string[] = [];
      const code = await main(["serve", "--listen", "127.0.0.1:0", "--stack", "test", ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
      return { code, err: err.join("\n") };
    };
    const cases: [string[], RegExp][] = [
      [["--project", dir], /^error: intake serve: no way to authenticate callers: give --tokens FILE, or --oidc-issuer URL with --oidc-audience AUD$/],
      [["--project", dir, "--tokens", path.join(dir, "none.json")], /^error: --tokens .*none\.json: no such file$/],
      [["--project", dir, "--tokens", path.join(dir, "Pulumi.yaml")], /^error: --tokens .*Pulumi\.yaml: not valid JSON( at line \d+, column \d+)?$/],
      [["--project", dir, "--oidc-issuer", "https://idp.example.com"], /^error: --oidc-issuer and --oidc-audience: give both/],
      [["--project", dir, "--tokens", tokens, "--database", "mysql://x"], /^error: --database mysql:\/\/x: not sqlite:FILE or postgres:/],
      [
        ["--project", dir, "--tokens", tokens, "--database", "postgres://intake:hunter2@127.0.0.1:1/jobs"],
        /^error: --database postgres:\/\/intake:\*\*\*@127\.0\.0\.1:1\/jobs: cannot use it \(ECONNREFUSED/,
      ],
      [["--project", dir, "--tokens", tokens, "--workers", "0"], /--workers/],
      [["--project", plain.dir, "--tokens", tokens], /^error: intake serve: stack test has no onboarding\.git setting/],
    ];
    for (const [args, message] of cases) {
      const r = await run(args);
      expect([r.code, r.err.split("\n")[0]], args.join(" ")).toEqual([2, expect.stringMatching(message)]);
      expect(r.err).not.toMatch(/hunter2|\n\s+at /);
    }
    // The built command, as a process: serves, answers, stops on SIGTERM with exit 0.
    const { child, port, log } = await serveProcess([
      "--project",
      dir,
      "--stack",
      "test",
      "--listen",
      "127.0.0.1:0",
      "--tokens",
      tokens,
      "--database",
      `sqlite:${path.join(tempDir("jobs-"), "jobs.db")}`,
    ]);
    expect((await call(`http://127.0.0.1:${port}`, "GET", "/healthz", undefined, {}, null)).body).toEqual({ ok: true });
    expect((await call(`http://127.0.0.1:${port}`, "GET", "/v1/customers/acme", undefined, {}, READ)).body).toMatchObject({ id: "acme", status: "active" });
    const exit = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exit).toBe(0);
    expect(log()).toMatch(/intake serve: SIGTERM: taking no new jobs; 0 running may take up to 600 s\n(.*\n)*intake serve: stopped/);
    expect(log()).not.toMatch(/ExperimentalWarning/);
  });
});

async function endedIn(store: JobStore, id: string): Promise<Job> {
  for (let i = 0; i < 800; i++) {
    const j = await store.get(id);
    if (j && (j.state === "succeeded" || j.state === "failed")) return j;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`job ${id} did not end`);
}
