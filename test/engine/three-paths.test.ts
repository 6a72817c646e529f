// The three user paths on one roster, on the real engine: CI's `pulumi up`, a pull request's
// preview from a fresh clone, and onboarding (the `intake onboard` command and the `intake serve`
// service) with git holding the roster. After every onboarding or offboarding, a fresh clone of the
// roster branch previews with no change: CI's next `pulumi up` undoes nothing.
import type { ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync } from "node:fs";
import * as path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { git } from "../../testing/git";
import { serveProcess } from "../../testing/serve-process";
import { tempDir } from "../../testing/tmp";
import { EngineProject, engineUnavailable, freshClonePreview, ok, rosterRepository } from "../../testing/engine";
import { projectOnCluster } from "../../testing/kube";

const unavailable = engineUnavailable();
if (unavailable) console.log(`skipping the real-engine three-paths tests: ${unavailable}`);

const TOKEN = "three-paths-crm-token-0123456789";

describe.skipIf(!!unavailable)("three paths on one roster, git holding it (real engine)", () => {
  let p: EngineProject;
  let at: Awaited<ReturnType<typeof projectOnCluster>> | undefined;
  let remote: string;
  let serve: ChildProcess | undefined;

  const freshPreview = () => freshClonePreview(p, remote);

  const onBranch = () => parse(git(remote, "show", "main:customers/roster.yaml")) as { customers: { id: string; status?: string }[] };

  beforeAll(async () => {
    at = await projectOnCluster();
    p = at.p;
    remote = await rosterRepository(p);
  }, 600_000);

  afterAll(async () => {
    if (serve && serve.exitCode === null) {
      const exited = new Promise((r) => serve!.once("exit", r));
      serve.kill("SIGTERM");
      await exited;
    }
    await at?.stop();
  });

  it("intake onboard commits and pushes, then ups; a fresh clone's preview has no change; so after intake offboard", async () => {
    p.write("newco.yaml", stringify({ id: "newco", name: "NewCo", tier: "professional", registries: ["ecr", "acr"], license: { expires: "2099-12-31" } }));
    const r = await p.intake(["onboard", "--file", p.file("newco.yaml"), "--stack", "dev", "--project", p.dir, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ customer: "newco", action: "onboarded", applied: "self", commit: git(remote, "rev-parse", "main").trim() });
    expect(result.changes.create).toBeGreaterThan(0);
    expect(onBranch().customers.map((c) => c.id)).toContain("newco");
    // The work tree was brought to the pushed commit: nothing left uncommitted.
    expect(git(p.dir, "status", "--porcelain", "customers/roster.yaml")).toBe("");
    const preview = await freshPreview();
    expect(preview.code, `${preview.stdout}\n${preview.stderr}`).toBe(0);

    const off = await p.intake(["offboard", "--customer", "newco", "--stack", "dev", "--project", p.dir, "--json"]);
    expect(off.code, off.stderr).toBe(0);
    expect(JSON.parse(off.stdout).changes.delete).toBeGreaterThan(0);
    expect(onBranch().customers.find((c) => c.id === "newco")).toMatchObject({ status: "offboarded" });
    const after = await freshPreview();
    expect(after.code, `${after.stdout}\n${after.stderr}`).toBe(0);
  }, 600_000);

  it("the service: POST, then DELETE, each a job that commits and ups; a fresh clone's preview has no change after each", async () => {
    const tokens = path.join(tempDir("tokens-"), "tokens.json");
    appendFileSync(tokens, JSON.stringify({ tokens: [{ name: "crm", sha256: createHash("sha256").update(TOKEN).digest("hex"), role: "write" }] }));
    const started = await serveProcess(
      ["--project", p.dir, "--stack", "dev", "--listen", "127.0.0.1:0", "--tokens", tokens, "--database", `sqlite:${path.join(tempDir("jobs-"), "jobs.db")}`],
      { cwd: p.dir, env: p.env },
    );
    serve = started.child;
    const port = started.port;
    const log = started.log;
    const api = async (method: string, p: string, body?: unknown) => {
      const r = await fetch(`http://127.0.0.1:${port}${p}`, {
        method,
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: r.status, body: (await r.json()) as Record<string, any> };
    };
    const ended = async (id: string) => {
      for (let i = 0; i < 1200; i++) {
        const j = (await api("GET", `/v1/jobs/${id}`)).body;
        if (j.state === "succeeded" || j.state === "failed") return j;
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`job ${id} did not end: ${log().slice(-3000)}`);
    };

    const posted = await api("POST", "/v1/customers", {
      id: "svcco",
      name: "SvcCo",
      tier: "professional",
      registries: ["ecr", "acr"],
      license: { expires: "2099-12-31" },
    });
    expect(posted.status).toBe(202);
    const job = await ended(posted.body.job.id);
    expect(job, log().slice(-3000)).toMatchObject({ state: "succeeded", commit: git(remote, "rev-parse", "main").trim() });
    expect(job.changes.create).toBeGreaterThan(0);
    expect(git(remote, "log", "-1", "--format=%B", "main")).toContain(`Intake-Job: ${job.id}`);
    expect((await api("GET", "/v1/customers/svcco")).body).toMatchObject({ status: "active", stack: "dev" });
    const preview = await freshPreview();
    expect(preview.code, `${preview.stdout}\n${preview.stderr}`).toBe(0);

    const deleted = await api("DELETE", "/v1/customers/svcco");
    expect(deleted.status).toBe(202);
    const off = await ended(deleted.body.job.id);
    expect(off).toMatchObject({ state: "succeeded" });
    expect(off.changes.delete).toBeGreaterThan(0);
    const after = await freshPreview();
    expect(after.code, `${after.stdout}\n${after.stderr}`).toBe(0);
    // The service's roster commits are its own; the stack's history names each update.
    const history = JSON.parse(ok(await p.pulumi(["stack", "history", "--json", "--stack", "dev"]), "pulumi stack history").stdout) as { message: string }[];
    expect(history.map((h) => h.message)).toEqual(expect.arrayContaining(["registry-intake: onboard svcco", "registry-intake: offboard svcco"]));
  }, 900_000);
});
