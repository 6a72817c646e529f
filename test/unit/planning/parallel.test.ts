import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { rosterEntries } from "../../../testing/roster-gen";
import { planProgram, planStack } from "../../../planning/plan";
import { slices } from "../../../planning/slices";
import { customer, testRoster, testSettings } from "../../../testing/helpers";
import { tempDir } from "../../../testing/tmp";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { stringify } from "yaml";

const ROOT = path.resolve(__dirname, "../../..");
const SRC = `build.example.com/app@sha256:${"a".repeat(64)}`;

/**
 * The plan as `intake plan --json` writes it, and the registrations, in one comparable form. A
 * registration's `dependencies` (which the plan does not show) are left out: the stack-wide parts
 * cannot depend on resources another process declared.
 */
function comparable(plan: Awaited<ReturnType<typeof planProgram>>) {
  const { recorded, ...result } = plan;
  return { result, recorded: [...recorded].sort((a, b) => (a.urn < b.urn ? -1 : 1)).map(({ dependencies: _, ...r }) => r) };
}

describe("a plan split over worker processes", () => {
  it("cuts contiguous slices: one per worker at least, none over the size", () => {
    const ids = Array.from({ length: 10 }, (_, i) => `c${i}`);
    expect(slices(ids, 2, 4).map((s) => s.length)).toEqual([4, 3, 3]);
    expect(slices(ids, 2, 250).map((s) => s.length)).toEqual([5, 5]);
    expect(slices(ids, 16, 250).map((s) => s.length)).toEqual(Array(10).fill(1));
    expect(slices(ids, 3, 4).flat()).toEqual(ids);
  });

  it("is the single-process plan, registration for registration, on a mixed roster with every kind, the Distribution service and deliveries", async () => {
    const settings = testSettings({
      distribution: {
        host: "registry.test.example.com",
        kubernetes: { namespace: "registry", brokerImage: "example/intake:1", signingSecretName: "broker-signing" },
      },
      deliveries: [
        { source: SRC, build: "app", version: "1.4.2" },
        { source: SRC, build: "tools/cli", version: "2.0.0", customers: ["cust-00002"], kinds: ["ecr", "distribution"], tool: "skopeo" },
      ],
    });
    // Tiers in turn, suspended, offboarded and lapsed customers, extra repositories; and one with
    // pull secrets in its namespace and a rotated credential.
    const entries: unknown[] = rosterEntries(23).map((e) => ({ ...e, registries: undefined }));
    entries.push(
      customer("zeta", "enterprise", { kubernetes: { namespace: "zeta-apps" }, credentials: { ecr: { generation: 2, previousUntil: "2026-11-29" } } }),
    );
    const roster = testRoster(entries, settings);
    const single = await planProgram(settings, roster, {}, undefined, {}, { workers: 1 });
    const slicesDone: number[] = [];
    const parallel = await planProgram(settings, roster, {}, undefined, {}, { workers: 2, sliceSize: 7, onProgress: (done) => slicesDone.push(done) });
    expect(slicesDone).toHaveLength(4); // 24 customers in slices of 6: the split did happen
    expect(single.customers).toHaveLength(24);
    expect(single.resources.filter((r) => r.type.startsWith("kubernetes:")).length).toBeGreaterThan(5);
    expect(single.resources.some((r) => r.type === "command:local:Command")).toBe(true);
    expect(comparable(parallel)).toEqual(comparable(single));
  }, 120_000);

  it("plans a stack file's roster the same way and reports progress by slice", async () => {
    const dir = tempDir("parallel-plan-");
    const rosterFile = path.join(dir, "roster.yaml");
    writeFileSync(rosterFile, stringify({ customers: rosterEntries(12) }));
    const a = await planStack({ projectDir: ROOT, stack: "prod", rosterPath: rosterFile, workers: 1 });
    const progress: number[] = [];
    const b = await planStack({ projectDir: ROOT, stack: "prod", rosterPath: rosterFile, workers: 2, sliceSize: 5, onProgress: (done) => progress.push(done) });
    expect(comparable(b.plan)).toEqual(comparable(a.plan));
    expect(progress.sort((x, y) => x - y)).toEqual([4, 8, 12]);
  }, 120_000);

  it("fails with the program's own error when a worker's slice fails, and leaves no worker behind", async () => {
    // A roster judged by the default tier table, planned with a stack whose enterprise tier allows ghcr only.
    const roster = testRoster(rosterEntries(30), testSettings());
    const narrow = testSettings({ tiers: { enterprise: ["ghcr"], professional: ["ghcr"], standard: ["ghcr"] } });
    const single = planProgram(narrow, roster, {}, undefined, {}, { workers: 1 });
    await expect(single).rejects.toThrow(/customer cust-00001: tier enterprise does not allow/);
    const message = await single.catch((e: Error) => e.message);
    await expect(planProgram(narrow, roster, {}, undefined, {}, { workers: 2, sliceSize: 10 })).rejects.toThrow(message);
    // The workers are stopped: none of this process's children runs plan-worker a moment later.
    const workers = () =>
      readdirSync("/proc").filter((pid) => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
          return (
            Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]) === process.pid && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("plan-worker")
          );
        } catch {
          return false;
        }
      });
    for (let i = 0; i < 50 && workers().length; i++) await new Promise((r) => setTimeout(r, 100));
    expect(workers()).toEqual([]);
  }, 120_000);
});
