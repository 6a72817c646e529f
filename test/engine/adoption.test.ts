// Kept resources through real `pulumi up`s: a fake cloud that keeps what the program retains (and
// archives GitHub repositories on delete) and refuses a create whose name exists. A customer goes
// standard → enterprise → standard → enterprise, is offboarded, removed and re-onboarded; every
// up succeeds, what comes back is imported, never created twice.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { EngineProject, engineUnavailable, ok } from "../../testing/engine";
import { projectOnCluster } from "../../testing/kube";

const unavailable = engineUnavailable();
if (unavailable) console.log(`skipping the real-engine adoption tests: ${unavailable}`);

type Entry = Record<string, unknown> & { id: string };
const WAYNE: Entry = { id: "wayne", name: "Wayne Enterprises", tier: "standard", license: { expires: "2099-12-31" }, github: { members: ["bruce-wayne"] } };
// Offboarded before this stack ever existed: nothing of it may be created (GitHub refuses an archived create).
const OLDCO: Entry = {
  id: "oldco",
  name: "Old Co",
  tier: "enterprise",
  status: "offboarded",
  license: { expires: "2099-12-31" },
  github: { members: ["old-user"] },
};

const REPO_TYPES = ["aws:ecr/repository:Repository", "gcp:artifactregistry/repository:Repository", "github:index/repository:Repository"];

describe.skipIf(!!unavailable)("kept resources come back adopted under real `pulumi up`s", () => {
  let p: EngineProject;
  let at: Awaited<ReturnType<typeof projectOnCluster>> | undefined;
  const cloud = () =>
    JSON.parse(readFileSync(p.file(".fake-cloud.json"), "utf8")) as {
      resources: Record<string, { type: string; id: string; outputs: Record<string, unknown> }>;
    };
  const cloudRepos = (customer: string) =>
    Object.values(cloud().resources)
      .filter(
        (r) => (REPO_TYPES.includes(r.type) && r.id.includes(`intake-${customer}`)) || (r.type === REPO_TYPES[0] && r.id.startsWith(`intake/${customer}/`)),
      )
      .map((r) => `${r.type.split(":").pop()} ${r.id}${r.outputs.archived ? " (archived)" : ""}`)
      .sort();

  /** Preview (JSON), then up: the engine's step per URN of this customer's repositories. */
  async function up(customers: Entry[]): Promise<string[]> {
    p.write("customers/roster.yaml", stringify({ customers }));
    const preview = ok(await p.pulumi(["preview", "--json", "--stack", "dev"]), "pulumi preview --json");
    const steps = (JSON.parse(preview.stdout).steps as { op: string; urn: string; newState?: { type: string }; oldState?: { type: string } }[])
      .filter((s) => REPO_TYPES.includes(s.newState?.type ?? s.oldState?.type ?? "") && s.urn.includes("::wayne"))
      .map((s) => `${s.op} ${s.urn.split("::").pop()}`)
      .filter((s) => !s.startsWith("same "))
      .sort();
    ok(await p.pulumi(["up", "--yes", "--stack", "dev"]), "pulumi up");
    return steps;
  }
  /** The stack's kept list of wayne's kept repositories (the platform's ACR registry is in it too, always declared). */
  async function keptList(): Promise<{ declared: string[]; kept: string[] }> {
    const all = JSON.parse(ok(await p.pulumi(["stack", "output", "kept", "--json", "--stack", "dev"]), "pulumi stack output").stdout) as {
      declared: string[];
      kept: string[];
    };
    expect(all.declared.filter((k) => k.startsWith("acr:"))).toHaveLength(1);
    const repos = (keys: string[]) => keys.filter((k) => !k.startsWith("acr:"));
    return { declared: repos(all.declared), kept: repos(all.kept) };
  }

  beforeAll(async () => {
    at = await projectOnCluster();
    p = at.p;
    p.write("customers/roster.yaml", stringify({ customers: [OLDCO, WAYNE] }));
    await p.initStack("dev");
  }, 300_000);
  afterAll(async () => at?.stop(), 60_000);

  it("a new stack whose roster holds an offboarded customer comes up, and creates nothing of it", async () => {
    ok(await p.pulumi(["up", "--yes", "--stack", "dev"]), "first pulumi up");
    expect(cloudRepos("oldco")).toEqual([]);
    expect((await keptList()).declared).toEqual(["github:intake-wayne"]);
  }, 300_000);

  it("standard → enterprise → standard → enterprise: the repositories kept at the downgrade are imported at the upgrade", async () => {
    const enterprise = { ...WAYNE, tier: "enterprise" };
    // (the GitHub repository's topics name the tier)
    expect(await up([OLDCO, enterprise])).toEqual(["create wayne-ecr-app", "create wayne-gar-repo", "update wayne-ghcr-repo"]);
    expect(await up([OLDCO, WAYNE])).toEqual(["delete wayne-ecr-app", "delete wayne-gar-repo", "update wayne-ghcr-repo"]);
    // Dropped from state, kept in the cloud, remembered by the stack.
    expect(cloudRepos("wayne")).toEqual([
      "Repository intake-wayne",
      "Repository intake/wayne/app",
      "Repository projects/intake-dev-381204/locations/europe-west1/repositories/intake-wayne",
    ]);
    expect((await keptList()).kept).toEqual(["ecr:intake/wayne/app", "gar:projects/intake-dev-381204/locations/europe-west1/repositories/intake-wayne"]);
    expect(await up([OLDCO, enterprise])).toEqual(["import wayne-ecr-app", "import wayne-gar-repo", "update wayne-ghcr-repo"]);
    expect((await keptList()).kept).toEqual([]);
    ok(await p.pulumi(["preview", "--expect-no-changes", "--stack", "dev"]), "pulumi preview --expect-no-changes");
  }, 900_000);

  it("offboarded, removed, re-onboarded: the archived GitHub repository is imported and unarchived, the rest imported", async () => {
    const enterprise = { ...WAYNE, tier: "enterprise" };
    // Held by the stack: tagged orphaned, the GitHub repository archived in place.
    expect(await up([OLDCO, { ...enterprise, status: "offboarded" }])).toEqual(["update wayne-ecr-app", "update wayne-gar-repo", "update wayne-ghcr-repo"]);
    expect(cloudRepos("wayne")).toContain("Repository intake-wayne (archived)");
    expect(await up([OLDCO])).toEqual(["delete wayne-ecr-app", "delete wayne-gar-repo", "delete wayne-ghcr-repo"]);
    expect((await keptList()).declared).toEqual([]);
    // Imported as they were left (tagged orphaned, archived), then updated to the roster's word.
    expect(await up([OLDCO, enterprise])).toEqual([
      "import wayne-ecr-app",
      "import wayne-gar-repo",
      "import wayne-ghcr-repo",
      "update wayne-ecr-app",
      "update wayne-gar-repo",
      "update wayne-ghcr-repo",
    ]);
    expect(cloudRepos("wayne")).toEqual([
      "Repository intake-wayne",
      "Repository intake/wayne/app",
      "Repository projects/intake-dev-381204/locations/europe-west1/repositories/intake-wayne",
    ]);
    ok(await p.pulumi(["preview", "--expect-no-changes", "--stack", "dev"]), "pulumi preview --expect-no-changes");
  }, 900_000);
});
