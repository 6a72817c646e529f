// A customer's life on one stack, each step a real `pulumi up`: onboard (Automation API, policy
// pack), tier change, suspension, lapse, offboarding, re-onboarding; credentials disabled then
// deleted, repositories never deleted, nothing in state the roster does not explain. Kubernetes
// (the customers' pull secrets) is a real API server with the real provider (testing/kube.ts).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { EngineProject, engineUnavailable, ok } from "../../testing/engine";
import { kubeBinDir, kubeUnavailable, LocalCluster } from "../../testing/kube";

const unavailable = engineUnavailable();
if (unavailable) console.log(`skipping the real-engine lifecycle tests: ${unavailable}`);
// Kubernetes is a real API server with the real provider where it can be built (the customers'
// pull secrets, their generators and refreshers); else the local stand-in, saying so.
const noKube = unavailable ? undefined : kubeUnavailable();
if (noKube) console.log(`the lifecycle tests run Kubernetes on the local stand-in: ${noKube}`);

type Step = { op: string; type: string };
type Entry = Record<string, unknown> & { id: string };

/** Repositories holding images (not the grants on them, such as a GitHub TeamRepository). */
const isRepository = (type: string) =>
  ["aws:ecr/repository:Repository", "gcp:artifactregistry/repository:Repository", "github:index/repository:Repository"].includes(type);

const ACME: Entry = {
  id: "acme",
  name: "Acme Corp",
  tier: "enterprise",
  license: { expires: "2099-12-31" },
  github: { members: ["wile-e-coyote"], machineUser: "acme-ci-bot" },
};
const WAYNE: Entry = { id: "wayne", name: "Wayne Enterprises", tier: "standard", license: { expires: "2099-12-31" }, github: { members: ["bruce-wayne"] } };

describe.skipIf(!!unavailable)("a customer's lifecycle through real `pulumi up`s on one stack", () => {
  let p: EngineProject;
  const roster = () => parse(readFileSync(p.file("customers/roster.yaml"), "utf8")) as { customers: Entry[] };
  const setRoster = (customers: Entry[]) => p.write("customers/roster.yaml", stringify({ customers }));
  const wayne = () => roster().customers.find((c) => c.id === "wayne");
  /** The customers whose sessions the push role's revocation policy denies, per the stack's state. */
  const revokedSessions = async () => {
    const policy = (await state()).find((s) => s.type === "aws:iam/rolePolicy:RolePolicy" && s.inputs?.name === "revoked-customer-sessions");
    return policy ? (JSON.parse(policy.inputs!.policy as string).Statement[0].Condition.StringEquals["aws:PrincipalTag/intake-customer"] as string[]) : [];
  };

  /** Preview (JSON) then up: the steps the engine planned for each URN. */
  async function upWith(customers: Entry[]): Promise<Map<string, Step>> {
    setRoster(customers);
    const preview = ok(await p.pulumi(["preview", "--json", "--policy-pack", "policy", "--stack", "dev"]), "pulumi preview --json");
    const steps = new Map<string, Step>(
      (JSON.parse(preview.stdout).steps as { op: string; urn: string; newState?: { type: string }; oldState?: { type: string } }[]).map((s) => [
        s.urn,
        { op: s.op, type: s.newState?.type ?? s.oldState?.type ?? "" },
      ]),
    );
    ok(await p.pulumi(["up", "--yes", "--policy-pack", "policy", "--stack", "dev"]), "pulumi up");
    return steps;
  }
  const ops = (steps: Map<string, Step>, customer: string, pred: (s: Step) => boolean) =>
    [...steps].filter(([urn, s]) => urn.includes(`::${customer}`) && pred(s)).map(([urn, s]) => `${s.op} ${urn.split("::").pop()}`);
  async function state(): Promise<{ urn: string; type: string; inputs?: Record<string, unknown>; outputs?: Record<string, unknown> }[]> {
    const r = ok(await p.pulumi(["stack", "export", "--stack", "dev"]), "pulumi stack export");
    return JSON.parse(r.stdout).deployment.resources;
  }
  const cloud = () =>
    JSON.parse(readFileSync(p.file(".fake-cloud.json"), "utf8")) as {
      resources: Record<string, { type: string; id: string; outputs: Record<string, unknown> }>;
    };

  let cluster: LocalCluster | undefined;
  beforeAll(async () => {
    if (!noKube) {
      cluster = await LocalCluster.start();
      await cluster.installEsoCrds();
      await cluster.createNamespaces(["acme-apps", "wayne-apps", "intake-system"]);
    }
    p = new EngineProject(cluster ? { cluster: { kubeconfig: cluster.kubeconfig, binDir: kubeBinDir() } } : {});
    setRoster([ACME]);
    await p.initStack("dev");
    ok(await p.pulumi(["up", "--yes", "--stack", "dev"]), "first pulumi up");
  }, 300_000);
  afterAll(async () => {
    p?.remove();
    await cluster?.stop();
  }, 60_000);

  it("onboards through the Automation API with the policy pack, writing the roster only after up", async () => {
    p.write("wayne.yaml", stringify(WAYNE));
    const r = await p.intake(["onboard", "--file", p.file("wayne.yaml"), "--stack", "dev", "--project", p.dir, "--json"]);
    expect(r.stderr).toMatch(/preview of dev with the policy pack/);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ customer: "wayne", action: "onboarded", stack: "dev" });
    expect(result.changes.create).toBeGreaterThan(0);
    expect(wayne()).toMatchObject({ id: "wayne", tier: "standard" });
    // The stack holds wayne's GitHub repository and team (standard: ghcr only), nothing else of its.
    const types = (await state()).filter((s) => s.urn.includes("::wayne")).map((s) => s.type);
    expect(types).toEqual(expect.arrayContaining(["github:index/repository:Repository", "github:index/team:Team"]));
    expect(types.filter((t) => /^(aws|azure-native|gcp):/.test(t))).toEqual([]);
  }, 300_000);

  it("a tier upgrade adds the new kinds and replaces or deletes nothing", async () => {
    const steps = await upWith([ACME, { ...wayne()!, tier: "enterprise", kubernetes: { namespace: "wayne-apps" } }]);
    expect(ops(steps, "wayne", (s) => s.op === "replace" || s.op === "delete" || s.op === "delete-replaced")).toEqual([]);
    expect(ops(steps, "wayne", (s) => s.op === "create" && s.type === "aws:ecr/repository:Repository").length).toBeGreaterThan(0);
  }, 300_000);

  it("a suspension disables credentials in place and withdraws only grants; a lapse changes nothing more", async () => {
    const suspended = await upWith([ACME, { ...wayne()!, status: "suspended" }]);
    // Only grants are withdrawn (the GitHub team's read, the Artifact Registry writer and Token
    // Creator bindings, and the workload identity its pull-secret generator acted through);
    // identities, keys and repositories stay.
    expect(ops(suspended, "wayne", (s) => ["replace", "delete-replaced", "create-replacement"].includes(s.op))).toEqual([]);
    expect(ops(suspended, "wayne", (s) => s.op === "delete").sort()).toEqual([
      "delete wayne-gar-token-creator",
      "delete wayne-gar-workload-identity",
      "delete wayne-gar-writer",
      "delete wayne-ghcr-read",
    ]);
    expect(ops(suspended, "wayne", (s) => s.type === "aws:iam/accessKey:AccessKey")).toEqual(["update wayne-ecr-key"]);
    const key = (await state()).find((s) => s.type === "aws:iam/accessKey:AccessKey" && s.urn.includes("::wayne"))!;
    expect(key.inputs?.status).toBe("Inactive");
    const token = (await state()).find((s) => s.type === "azure-native:containerregistry:Token" && s.urn.includes("::wayne"))!;
    expect(token.inputs?.status).toBe("disabled");
    // The platform's push role refuses the sessions already minted for wayne, at once.
    expect(await revokedSessions()).toEqual(["wayne"]);

    const lapsed = await upWith([ACME, { ...wayne()!, status: "active", license: { expires: "2026-01-31" } }]);
    expect(ops(lapsed, "wayne", (s) => ["replace", "delete", "create"].includes(s.op))).toEqual([]);
    expect((await state()).find((s) => s.type === "aws:iam/accessKey:AccessKey" && s.urn.includes("::wayne"))!.inputs?.status).toBe("Inactive");
    expect(await revokedSessions()).toEqual(["wayne"]);
  }, 600_000);

  it("offboarding (intake offboard) deletes the credentials and keeps every repository, in state and in the cloud", async () => {
    setRoster([ACME, { ...wayne()!, license: { expires: "2099-12-31" } }]);
    ok(await p.pulumi(["up", "--yes", "--stack", "dev"]), "pulumi up (renewed)");
    expect(await revokedSessions()).toEqual([]); // licensed again: nothing revoked
    const before = await state();
    const repos = before.filter((s) => s.urn.includes("::wayne") && isRepository(s.type)).map((s) => s.urn);
    expect(repos.length).toBeGreaterThan(2);
    const r = await p.intake(["offboard", "--customer", "wayne", "--stack", "dev", "--project", p.dir]);
    expect(r.code, r.stderr).toBe(0);
    expect(wayne()!.status).toBe("offboarded");
    expect(await revokedSessions()).toEqual(["wayne"]);
    const after = await state();
    const credentialTypes = [
      "aws:iam/accessKey:AccessKey",
      "aws:iam/user:User",
      "azure-native:containerregistry:Token",
      "gcp:serviceaccount/account:Account",
      "github:index/teamMembership:TeamMembership",
    ];
    expect(after.filter((s) => s.urn.includes("::wayne") && credentialTypes.includes(s.type)).map((s) => s.type)).toEqual([]);
    for (const urn of repos) expect(after.map((s) => s.urn)).toContain(urn);
    const kept = Object.values(cloud().resources).filter((x) => x.type === "aws:ecr/repository:Repository" && x.id.startsWith("intake/wayne/"));
    expect(kept.length).toBeGreaterThan(0);
  }, 600_000);

  it("re-onboarding brings credentials back against the kept repositories, and the state holds only what the roster explains", async () => {
    const steps = await upWith([ACME, { ...wayne()!, status: "active" }]);
    expect(ops(steps, "wayne", (s) => s.op === "create" && s.type === "aws:iam/accessKey:AccessKey")).toEqual(["create wayne-ecr-key"]);
    expect(ops(steps, "wayne", (s) => ["replace", "delete"].includes(s.op) || (s.op === "create" && isRepository(s.type)))).toEqual([]);
    ok(await p.pulumi(["preview", "--expect-no-changes", "--stack", "dev"]), "pulumi preview --expect-no-changes");
    // Every customer resource in state belongs to a customer of the roster.
    const ids = new Set(roster().customers.map((c) => c.id));
    const customerResources = (await state()).filter((s) => s.urn.includes("::registry-intake:index:CustomerRegistries"));
    expect(customerResources.length).toBeGreaterThan(10);
    for (const s of customerResources) {
      const name = s.urn.split("::").pop()!;
      expect(
        [...ids].some((id) => name === id || name.startsWith(`${id}-`)),
        s.urn,
      ).toBe(true);
    }
  }, 600_000);

  it("a rotation creates the new key beside the old, and the first up after the overlap removes the old; nothing is replaced", async () => {
    const acme = roster().customers.find((c) => c.id === "acme")!;
    const during = await upWith([
      { ...acme, credentials: { ecr: { generation: 2, previousUntil: "2099-12-31" }, distribution: { generation: 2, previousUntil: "2099-12-31" } } },
      wayne()!,
    ]);
    expect(ops(during, "acme", (s) => ["replace", "delete", "delete-replaced", "create-replacement"].includes(s.op))).toEqual([]);
    expect(ops(during, "acme", (s) => s.op === "create").sort()).toEqual(["create acme-distribution-robot-g2", "create acme-ecr-key-g2"]);
    const keys = (await state()).filter((s) => s.type === "aws:iam/accessKey:AccessKey" && s.urn.includes("::acme"));
    expect(keys.map((k) => k.inputs?.status)).toEqual(["Active", "Active"]);
    // The stack hands out the new key.
    const out = JSON.parse(ok(await p.pulumi(["stack", "output", "--json", "--show-secrets", "--stack", "dev"]), "stack output").stdout);
    const g2 = (await state()).find((s) => s.urn.endsWith("::acme-ecr-key-g2")) as { id?: string } | undefined;
    expect(g2?.id).toBeTruthy();
    expect(out.customers.acme.credentials.ecr.id).toBe(g2!.id);

    const after = await upWith([
      { ...acme, credentials: { ecr: { generation: 2, previousUntil: "2026-01-31" }, distribution: { generation: 2, previousUntil: "2026-01-31" } } },
      wayne()!,
    ]);
    expect(ops(after, "acme", (s) => ["replace", "delete-replaced", "create-replacement", "create"].includes(s.op))).toEqual([]);
    expect(ops(after, "acme", (s) => s.op === "delete").sort()).toEqual(["delete acme-distribution-robot", "delete acme-ecr-key"]);
    expect((await state()).filter((s) => s.type === "aws:iam/accessKey:AccessKey" && s.urn.includes("::acme")).map((s) => s.urn.split("::").pop())).toEqual([
      "acme-ecr-key-g2",
    ]);
  }, 600_000);
});
