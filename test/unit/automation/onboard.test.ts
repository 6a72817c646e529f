import { existsSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { automationEngine, offboard, onboard, PulumiCliMissing, readCustomerFile, staleLocks } from "../../../automation/onboard";
import { main } from "../../../cli/main";
import { shardOf } from "../../../customers/shards";
import { ACCOUNT, customer, REGION } from "../../../testing/helpers";
import { git } from "../../../testing/git";
import { appended, COUNT, entry, FakeEngine, gitProject, idsInShard, project, pushFromElsewhere } from "../../../testing/onboarding";
import { tempDir } from "../../../testing/tmp";

describe("onboarding through the Automation API", () => {
  it("onboards into the customer's shard stack: preview with the policy pack, up, then the roster gains the entry pinned to its shard", async () => {
    const { dir, roster } = project();
    const engine = new FakeEngine();
    const [id] = idsInShard(2, 1);
    const before = readFileSync(roster, "utf8");
    const r = await onboard(entry(id), { projectDir: dir, stack: "test", engine });
    expect(r).toMatchObject({ customer: id, action: "onboarded", stack: "test-shard-02", shard: 2, changes: { create: 5 } });
    expect(r.namespaces).toEqual({ ghcr: `ghcr.io/example-org/intake-${id}/`, ecr: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/intake/${id}/` });
    // No machine user: no GHCR token to suggest (`intake token --kind ghcr` would refuse it).
    expect(r.credentials).toEqual([
      "ghcr: no github.machineUser, so no token to hand out: the team's members log in with their own classic PATs (read:packages)",
      `intake token --customer ${id} --kind ecr --stack test-shard-02`,
    ]);
    // What the Automation API was handed.
    expect(engine.stacks.map((s) => [s.args.projectName, s.args.stackName, s.opts.workDir])).toEqual([["registry-intake", "test-shard-02", dir]]);
    expect(engine.calls.map((c) => [c.stack, c.op, c.opts.policyPacks])).toEqual([
      ["test-shard-02", "preview", [path.join(dir, "policy")]],
      ["test-shard-02", "up", [path.join(dir, "policy")]],
    ]);
    // The shard's program declared exactly that shard's customers, the new one included.
    expect(engine.declared["test-shard-02"]).toContain(id);
    expect(engine.declared["test-shard-02"]).toEqual(engine.declared["test-shard-02"].filter((c) => shardOf({ id: c }, COUNT) === 2));
    const text = readFileSync(roster, "utf8");
    // The file as it was (comment, `license: { expires: … }` as written), then the new entry alone.
    expect(text.startsWith(before)).toBe(true);
    const added = parse(text.slice(before.length));
    expect(added).toEqual([parse(text).customers.at(-1)]);
    expect(added[0]).toMatchObject({ id, tier: "professional", shard: 2 });
  });

  it("bad entries, duplicates and a failed up change nothing; the error names the file, field and rule", async () => {
    const { dir, roster } = project();
    const before = readFileSync(roster, "utf8");
    const engine = new FakeEngine();
    const file = path.join(dir, "new.yaml");
    writeFileSync(file, stringify({ id: "Bad_Id", name: "X", tier: "platinum", license: { expires: "2099-12-31" } }));
    expect(() => readCustomerFile(file)).toThrow(/new\.yaml: not a valid customer entry:\n {2}id: "Bad_Id" breaks the id rule[\s\S]*tier: "platinum"/);
    await expect(onboard(entry("acme"), { projectDir: dir, stack: "test", engine })).rejects.toThrow(/customer acme is already in the roster/);
    await expect(onboard(entry("globex", { github: { members: ["dup"] } }), { projectDir: dir, stack: "test", engine })).resolves.toBeDefined();
    const afterGlobex = readFileSync(roster, "utf8");
    const dup = await onboard(entry("initech", { github: { members: ["dup"] } }), { projectDir: dir, stack: "test", engine }).catch((e: Error) => e);
    expect((dup as Error).message).toMatch(/the roster with this change would be invalid, so nothing was changed:[\s\S]*dup/);
    // The new entry is in no line of the file yet: the problem is placed "in this change", never at a line past the file's end.
    expect((dup as Error).message).toMatch(
      /roster\.yaml \(in this change\): customer initech field github\.members\.0: GitHub user "dup" is already listed by customer globex/,
    );
    for (const m of (dup as Error).message.matchAll(/roster\.yaml:(\d+):/g)) expect(Number(m[1])).toBeLessThanOrEqual(afterGlobex.split("\n").length);
    const [id] = idsInShard(0, 1, "fails");
    engine.failUp = "test-shard-00";
    await expect(onboard(entry(id), { projectDir: dir, stack: "test", engine })).rejects.toThrow(
      /up of stack test-shard-00 failed; the roster file was not changed/,
    );
    expect(readFileSync(roster, "utf8")).toBe(afterGlobex);
    expect(before).not.toBe(afterGlobex);
    await expect(onboard(entry("x-shard"), { projectDir: dir, stack: "test-shard-01", engine })).rejects.toThrow(/--stack test-shard-01 is a shard stack/);
    engine.failUp = undefined;
    const withBot = await onboard(entry("hooli", { github: { machineUser: "hooli-ci-bot" } }), { projectDir: dir, stack: "test", engine });
    expect(withBot.credentials[0]).toMatch(/^intake token --customer hooli --kind ghcr --stack test-shard-\d\d$/);
  });

  it("onboardings into one shard run one at a time; into different shards at the same time", async () => {
    const { dir, roster } = project();
    const engine = new FakeEngine();
    const [a, b] = idsInShard(0, 2, "same");
    const [c] = idsInShard(1, 1, "other");
    let open!: () => void;
    engine.gate = new Promise<void>((r) => (open = r));
    const all = Promise.all([a, b, c].map((id) => onboard(entry(id), { projectDir: dir, stack: "test", engine })));
    // Let every onboarding reach as far as it can while the gate holds the ups.
    await new Promise((r) => setTimeout(r, 300));
    const inFlight = engine.calls
      .filter((x) => x.op === "up" && x.end === 0)
      .map((x) => x.stack)
      .sort();
    expect(inFlight).toEqual(["test-shard-00", "test-shard-01"]);
    open();
    await all;
    const ups = engine.calls.filter((x) => x.op === "up" && x.stack === "test-shard-00");
    expect(ups).toHaveLength(2);
    expect(ups[1].start).toBeGreaterThanOrEqual(ups[0].end);
    // The second into shard 0 saw the first: its program declared both.
    expect(engine.declared["test-shard-00"]).toEqual(expect.arrayContaining([a, b]));
    expect(
      parse(readFileSync(roster, "utf8"))
        .customers.map((x: { id: string }) => x.id)
        .sort(),
    ).toEqual(["acme", a, b, c].sort());
  });

  it("two onboardings into different shards that would collide (one GitHub login) are caught before the second's up", async () => {
    const { dir, roster } = project();
    const engine = new FakeEngine();
    const [a] = idsInShard(0, 1, "gh");
    const [b] = idsInShard(1, 1, "gh");
    let open!: () => void;
    engine.gate = new Promise<void>((r) => (open = r));
    const first = onboard(entry(a, { github: { members: ["shared-dev"] } }), { projectDir: dir, stack: "test", engine });
    await new Promise((r) => setTimeout(r, 200));
    // Each alone is valid; together they would give one GitHub user both customers' packages.
    const second = onboard(entry(b, { github: { members: ["Shared-Dev"] } }), { projectDir: dir, stack: "test", engine });
    setTimeout(() => open(), 5_000); // never leave the first (and its stack lock) held if this fails
    await expect(second).rejects.toMatchObject({
      name: "OnboardError",
      changed: [],
      message: expect.stringMatching(
        new RegExp(`the ones under way \\(${a}\\)[\\s\\S]*customer ${b} field github.members.0: GitHub user "Shared-Dev" is already listed by customer ${a}`),
      ),
    });
    open();
    await first;
    expect(engine.calls.filter((c) => c.stack === "test-shard-01")).toEqual([]);
    expect(parse(readFileSync(roster, "utf8")).customers.map((x: { id: string }) => x.id)).toEqual(["acme", a]);
  });

  it("a roster that cannot take the change after the up says the stack is updated; a lock left by a dead process is taken over", async () => {
    const { dir, roster } = project();
    const engine = new FakeEngine();
    const [a, b] = idsInShard(2, 2, "late");
    // Someone breaks the roster file while the up runs.
    let open!: () => void;
    engine.gate = new Promise<void>((r) => (open = r));
    const run = onboard(entry(a), { projectDir: dir, stack: "test", engine });
    await new Promise((r) => setTimeout(r, 200));
    writeFileSync(roster, "customers: 5\n");
    open();
    await expect(run).rejects.toMatchObject({
      name: "OnboardError",
      changed: ["test-shard-02"],
      message: expect.stringMatching(
        /^stack test-shard-02 is updated, but \S+roster\.yaml could not be written: the roster with this change would be invalid[\s\S]*the next `pulumi up -s test-shard-02` undoes it/,
      ),
    });
    expect(readFileSync(roster, "utf8")).toBe("customers: 5\n");
    // A lock file from a process that died two minutes ago does not block the next one.
    writeFileSync(roster, "customers: []\n");
    writeFileSync(`${roster}.lock`, "99999\n");
    utimesSync(`${roster}.lock`, new Date(Date.now() - 120_000), new Date(Date.now() - 120_000));
    await onboard(entry(b), { projectDir: dir, stack: "test", engine });
    expect(parse(readFileSync(roster, "utf8")).customers.map((x: { id: string }) => x.id)).toEqual([b]);
    expect(existsSync(`${roster}.lock`)).toBe(false);
  });

  it("the roster is written only once another process's lock is released", async () => {
    const { dir, roster } = project();
    const engine = new FakeEngine();
    const [a] = idsInShard(0, 1, "locked");
    writeFileSync(`${roster}.lock`, "12345\n");
    let written = false;
    const run = onboard(entry(a), { projectDir: dir, stack: "test", engine }).then(() => (written = true));
    await new Promise((r) => setTimeout(r, 1500));
    expect(engine.calls.map((c) => c.op)).toEqual(["preview", "up"]);
    expect(written).toBe(false);
    expect(readFileSync(roster, "utf8")).not.toContain(a);
    rmSync(`${roster}.lock`);
    await run;
    expect(readFileSync(roster, "utf8")).toContain(a);
  });

  it("offboarding sets the status through the same path; the stack then keeps the repositories and drops credentials", async () => {
    const { dir, roster } = project();
    const engine = new FakeEngine();
    const r = await offboard("acme", { projectDir: dir, stack: "test", engine });
    expect(r).toMatchObject({ customer: "acme", action: "offboarded", stack: `test-shard-0${shardOf({ id: "acme" }, COUNT)}`, credentials: [] });
    expect(parse(readFileSync(roster, "utf8")).customers[0].status).toBe("offboarded");
    await expect(offboard("acme", { projectDir: dir, stack: "test", engine })).rejects.toThrow(/already offboarded/);
    await expect(offboard("nobody", { projectDir: dir, stack: "test", engine })).rejects.toThrow(/customer nobody is not in/);
  });

  it("with a broker on Kubernetes, the platform stack is updated after the shard so the broker's roster knows the customer", async () => {
    const { dir } = project({
      "registry-intake:enabledKinds": ["ghcr", "ecr", "distribution"],
      "registry-intake:distribution": {
        host: "registry.example.com",
        kubernetes: { namespace: "registry", brokerImage: "example/intake:1", signingSecretName: "broker-signing" },
      },
    });
    const engine = new FakeEngine();
    const [id] = idsInShard(1, 1, "k8s");
    await onboard(customer(id, "enterprise", { license: { expires: "2099-12-31" } }), { projectDir: dir, stack: "test", engine });
    expect(engine.calls.map((c) => `${c.op} ${c.stack}`)).toEqual(["preview test-shard-01", "up test-shard-01", "preview test", "up test"]);
    // The platform stack declares no customers.
    expect(engine.declared.test).toEqual([]);
  });

  it("without the Pulumi CLI: one line, and nothing changed", async () => {
    const { dir, roster } = project();
    const before = readFileSync(roster, "utf8");
    const saved = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      await expect(automationEngine.check()).rejects.toBeInstanceOf(PulumiCliMissing);
      const err: string[] = [];
      const file = path.join(dir, "new.yaml");
      writeFileSync(file, stringify(entry("globex")));
      const code = await main(["onboard", "--file", file, "--stack", "test", "--project", dir], { out: () => {}, err: (s) => err.push(s) });
      expect(code).toBe(5);
      expect(err).toEqual([
        'error: the pulumi CLI is not on PATH: nothing was changed (install it from https://www.pulumi.com/docs/install/ to onboard with the Automation API; offline, `export PATH="$(npm run --silent engine | tail -n 1):$PATH"` puts the engine this project builds there)',
      ]);
    } finally {
      process.env.PATH = saved;
    }
    expect(readFileSync(roster, "utf8")).toBe(before);
  });
});

/** A project whose roster lives in a git repository with a bare remote (file://), settings naming it. */
describe("an update that meets another update's lock on the stack", () => {
  it("waits and tries again, then succeeds; past its tries it fails with the engine's reason and the roster unchanged", async () => {
    const { dir, roster } = project();
    const engine = new FakeEngine();
    const [a, b] = idsInShard(0, 2, "locked");
    engine.locked = 2;
    const lines: string[] = [];
    const r = await onboard(entry(a), { projectDir: dir, stack: "test", engine, lockWait: { tries: 4, firstMs: 5 }, onOutput: (l) => lines.push(l) });
    expect(r).toMatchObject({ customer: a, changes: { create: 5 } });
    expect(lines.filter((l) => /is locked by another update/.test(l))).toEqual([
      expect.stringMatching(new RegExp(`^onboard ${a}: stack test-shard-00 is locked by another update; preview again in \\d+\\.\\d s \\(1 of 3\\)$`)),
      expect.stringMatching(/preview again in .* \(2 of 3\)$/),
    ]);
    const before = readFileSync(roster, "utf8");
    engine.locked = 10;
    await expect(onboard(entry(b), { projectDir: dir, stack: "test", engine, lockWait: { tries: 3, firstMs: 5 } })).rejects.toThrow(
      /preview of stack test-shard-00 failed, nothing was changed: .*currently locked/,
    );
    expect(readFileSync(roster, "utf8")).toBe(before);
  });
});

describe("onboarding where git holds the roster (onboarding.git)", () => {
  it("commits and pushes the change before the up, which reads exactly the pushed roster; a fresh clone holds the customer", async () => {
    const { dir, roster, remote } = gitProject();
    const before = readFileSync(roster, "utf8");
    const initial = git(remote, "rev-parse", "main").trim();
    const engine = new FakeEngine();
    const tips: Record<string, string> = {};
    engine.onCall = (op) => void (tips[op] = git(remote, "rev-parse", "main").trim());
    const [id] = idsInShard(1, 1, "gitco");
    const r = await onboard(entry(id), { projectDir: dir, stack: "test", engine, job: "job-1" });
    const tip = git(remote, "rev-parse", "main").trim();
    expect(r).toMatchObject({ customer: id, stack: "test-shard-01", commit: tip, applied: "self", changes: { create: 5 } });
    // Previewed before anything was pushed, applied after.
    expect(tips).toEqual({ preview: initial, up: tip });
    expect(git(remote, "log", "-1", "--format=%B", "main").trim()).toBe(`registry-intake: onboard ${id}\n\nIntake-Job: job-1`);
    expect(git(remote, "rev-parse", "main~1").trim()).toBe(initial);
    // The commit changes the roster alone, by exactly the new entry.
    expect(git(remote, "diff", "--name-only", initial, tip).trim()).toBe("customers/roster.yaml");
    const pushed = git(remote, "show", `${tip}:customers/roster.yaml`);
    expect(pushed.startsWith(before)).toBe(true);
    expect(parse(pushed.slice(before.length))).toEqual([expect.objectContaining({ id, shard: 1 })]);
    // What the up declared is the pushed roster; the work tree was brought up to it.
    expect(engine.declared["test-shard-01"]).toContain(id);
    expect(readFileSync(roster, "utf8")).toBe(pushed);
    const fresh = tempDir("roster-fresh-");
    git(fresh, "clone", "--quiet", `file://${remote}`, ".");
    expect(parse(readFileSync(path.join(fresh, "customers", "roster.yaml"), "utf8")).customers.map((c: { id: string }) => c.id)).toContain(id);
    // The same job run again (after a crash past the push) finds its commit and pushes nothing.
    const again = await onboard(entry(id), { projectDir: dir, stack: "test", engine, job: "job-1" });
    expect(again.commit).toBe(tip);
    expect(git(remote, "rev-parse", "main").trim()).toBe(tip);
    // A job whose id another's begins with is no rerun of it: `job` is committed anew.
    const [other] = idsInShard(1, 2, "gitco").slice(1);
    const prefixed = await onboard(entry(other), { projectDir: dir, stack: "test", engine, job: "job" });
    expect(prefixed.commit).not.toBe(tip);
    expect(git(remote, "rev-parse", "main~1").trim()).toBe(tip);
    // Offboarding lands the same way: one commit, one line of the roster.
    const off = await offboard(id, { projectDir: dir, stack: "test", engine });
    expect(off.commit).toBe(git(remote, "rev-parse", "main").trim());
    expect(
      git(remote, "diff", "--unified=0", prefixed.commit!, off.commit!)
        .split("\n")
        .filter((l) => /^[-+][^-+]/.test(l)),
    ).toEqual(["+    status: offboarded"]);
  });

  it("a writer that pushed first: the edit is made again on the new tip; one that changed the same customer fails the job, naming both commits", async () => {
    const { dir, remote } = gitProject();
    const engine = new FakeEngine();
    const [a, b] = idsInShard(0, 2, "race");
    let other = "";
    engine.onCall = (op) => {
      if (op === "preview" && !other) other = pushFromElsewhere(remote, appended("elsewhere"));
    };
    const r = await onboard(entry(a), { projectDir: dir, stack: "test", engine });
    // Ours on top of theirs; both entries on the branch.
    expect(git(remote, "rev-parse", "main~1").trim()).toBe(other);
    expect(r.commit).toBe(git(remote, "rev-parse", "main").trim());
    expect(parse(git(remote, "show", "main:customers/roster.yaml")).customers.map((c: { id: string }) => c.id)).toEqual(["acme", "elsewhere", a]);

    other = "";
    engine.onCall = (op) => {
      if (op === "preview" && !other) other = pushFromElsewhere(remote, appended(b));
    };
    const base = git(remote, "rev-parse", "main").trim();
    const failed = await onboard(entry(b), { projectDir: dir, stack: "test", engine }).then(
      () => undefined,
      (e: Error) => e.message,
    );
    expect(failed).toBe(
      `onboard ${b}: customer ${b} was changed by commit ${other.slice(0, 12)} on main while this change was made from ${base.slice(0, 12)}; nothing was pushed: run it again on the new roster`,
    );
    expect(git(remote, "rev-parse", "main").trim()).toBe(other);
  });

  it("a writer that pushes after this change but before its up: the up applies both, never going back past it", async () => {
    const { dir, remote } = gitProject();
    const engine = new FakeEngine();
    const [ours, theirs] = idsInShard(1, 2, "later");
    let other = "";
    const onOutput = (line: string) => {
      if (line.startsWith("roster: pushed") && !other) other = pushFromElsewhere(remote, appended(theirs));
    };
    const r = await onboard(entry(ours), { projectDir: dir, stack: "test", engine, onOutput });
    expect(git(remote, "rev-parse", "main~1").trim()).toBe(r.commit);
    expect(git(remote, "rev-parse", "main").trim()).toBe(other);
    expect(engine.declared["test-shard-01"]).toEqual(expect.arrayContaining([ours, theirs]));
  });

  it("apply: ci pushes after the preview and leaves the update to CI; an unreachable remote changes nothing", async () => {
    const { dir, remote } = gitProject("ci");
    const engine = new FakeEngine();
    const [id] = idsInShard(2, 1, "cico");
    const r = await onboard(entry(id), { projectDir: dir, stack: "test", engine });
    expect(r).toMatchObject({ applied: "ci", changes: {}, commit: git(remote, "rev-parse", "main").trim() });
    expect(engine.calls.map((c) => c.op)).toEqual(["preview"]);

    const tip = git(remote, "rev-parse", "main").trim();
    git(dir, "remote", "set-url", "origin", `file://${remote}-gone`);
    const before = readFileSync(path.join(dir, "customers", "roster.yaml"), "utf8");
    await expect(onboard(entry(`${id}x`), { projectDir: dir, stack: "test", engine })).rejects.toThrow(/git fetch origin main failed, nothing was committed/);
    expect(readFileSync(path.join(dir, "customers", "roster.yaml"), "utf8")).toBe(before);
    expect(git(remote, "rev-parse", "main").trim()).toBe(tip);
  });
});

describe("a lock left by a replica that died", () => {
  it("is removed only when every lock the engine names is a file of this host whose process is gone", () => {
    const { hostname } = require("node:os") as typeof import("node:os");
    const { spawnSync } = require("node:child_process") as typeof import("node:child_process");
    const dead = spawnSync("true").pid!; // a process that has ended
    const msg = (lines: string[]) =>
      `error: the stack is currently locked by ${lines.length} lock(s). Either wait for the other process(es) to end or delete the lock file with \`pulumi cancel\`.\n${lines.join("\n")}`;
    const lock = (url: string, host: string, pid: number) => `  ${url}: created by root@${host} (pid ${pid}) at 2026-12-04T23:59:00Z`;
    const file = "file:///srv/state/.pulumi/locks/organization/registry-intake/dev/5f1c.json";
    expect(staleLocks(msg([lock(file, hostname(), dead)]))).toEqual(["/srv/state/.pulumi/locks/organization/registry-intake/dev/5f1c.json"]);
    // A live process (this one), another host, another backend, or any one of them among stale ones: left alone.
    expect(staleLocks(msg([lock(file, hostname(), process.pid)]))).toBeUndefined();
    expect(staleLocks(msg([lock(file, "ci-runner-7", dead)]))).toBeUndefined();
    expect(staleLocks(msg([lock("s3://state-bucket/.pulumi/locks/organization/registry-intake/dev/5f1c.json", hostname(), dead)]))).toBeUndefined();
    expect(staleLocks(msg([lock(file, hostname(), dead), lock(file.replace("5f1c", "77aa"), hostname(), process.pid)]))).toBeUndefined();
    expect(staleLocks("error: [409] Conflict: Another update is currently in progress.")).toBeUndefined();
  });
});
