// `intake verify` on ACR, Artifact Registry and GHCR under a product catalogue: each kind's own
// minting (its SDK's client replaced here), and a registry per kind that judges every request by
// the grants the offline plan declared (testing/fake-grants.ts). A customer's credential must list its
// own product, and be refused a product it is not entitled to and a neighbour's repository.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { fromRecorded, planProgram } from "../../../planning/plan";
import { verify } from "../../../runtime/verify";
import { startFakeGrants, type FakeGrants } from "../../../testing/fake-grants";
import { customer, PRODUCTS, testRoster, testSettings } from "../../../testing/helpers";
import type { IntakeResource } from "../../../policy/model";

// The SDK clients the minters build, answering as the clouds do, through the fakes' books.
const clouds = vi.hoisted(() => ({ fakes: undefined as undefined | FakeGrants, asked: [] as string[] }));
vi.mock("@azure/identity", () => ({ DefaultAzureCredential: class {} }));
vi.mock("@azure/arm-containerregistry", () => ({
  ContainerRegistryManagementClient: class {
    registries = {
      beginGenerateCredentialsAndWait: async (_rg: string, _registry: string, o: { tokenId: string; name: string }) => {
        clouds.asked.push(`acr generateCredentials ${o.tokenId.split("/").pop()} ${o.name}`);
        const tokenName = o.tokenId.split("/").pop()!;
        return { username: tokenName, passwords: [{ name: o.name, value: clouds.fakes!.acr.issue(tokenName) }] };
      },
    };
  },
}));
vi.mock("google-auth-library", () => ({
  GoogleAuth: class {
    async getClient() {
      return {
        async request(o: { url: string }) {
          const email = decodeURIComponent(/serviceAccounts\/([^:]+):generateAccessToken$/.exec(o.url)![1]);
          clouds.asked.push(`gar generateAccessToken ${email}`);
          return { data: { accessToken: clouds.fakes!.gar.issue(email), expireTime: new Date(Date.now() + 3_600_000).toISOString() } };
        },
      };
    }
  },
}));

const licensed = { license: { expires: "2099-12-31" } };
const settings = testSettings({ products: PRODUCTS, enabledKinds: ["acr", "gar", "ghcr"] });
const roster = testRoster(
  [
    customer("acme", "enterprise", { ...licensed, entitlements: [{ product: "app" }, { product: "worker" }], github: { machineUser: "acme-bot" } }),
    customer("stark", "enterprise", { ...licensed, entitlements: [], github: { machineUser: "stark-bot" } }),
    customer("wayne", "enterprise", { ...licensed, entitlements: [{ product: "worker" }], github: { machineUser: "wayne-bot" } }),
  ],
  settings,
);
let resources: IntakeResource[];

beforeAll(async () => {
  const plan = await planProgram(settings, roster);
  expect(plan.violations).toEqual([]);
  resources = fromRecorded(plan.recorded);
  clouds.fakes = await startFakeGrants(resources);
  for (const [user, pat] of [
    ["acme-bot", "pat-acme"],
    ["stark-bot", "pat-stark"],
    ["wayne-bot", "pat-wayne"],
  ])
    clouds.fakes.ghcr.pats.set(user, pat);
});
afterAll(() => clouds.fakes?.close());

async function verifyOn(kind: "acr" | "gar" | "ghcr") {
  const report = await verify({
    settings,
    roster,
    customers: ["acme", "stark", "wayne"],
    kinds: [kind],
    fetchImpl: clouds.fakes!.fetch,
    mint: (id) => ({ azureSubscriptionId: "00000000-0000-4000-a000-000000000000", ghcrToken: `pat-${id}` }),
  });
  const seen = (id: string) => report.results.find((r) => r.customer === id)!.probes.map((p) => [p.what, p.repository, p.status, p.ok]);
  return { report, seen };
}

describe("intake verify under a catalogue, judged by the declared grants", () => {
  it("ACR: the token's scope map reaches the entitled product folders only; a customer entitled to nothing has no token", async () => {
    const { report, seen } = await verifyOn("acr");
    expect(seen("acme")).toEqual([
      ["list own", "intake/acme/app/app", 404, true],
      ["list not entitled", "intake/acme/tools/tools", 403, true],
      ["list neighbour's", "intake/stark/app/app", 403, true],
    ]);
    expect(seen("wayne")).toEqual([
      ["list own", "intake/wayne/worker/worker", 404, true],
      ["list not entitled", "intake/wayne/app/app", 403, true],
      ["list neighbour's", "intake/acme/worker/worker", 403, true],
    ]);
    expect(report.results.find((r) => r.customer === "stark")).toMatchObject({ minted: false, licensed: false, ok: true });
    expect(report.ok).toBe(true);
    expect(clouds.asked).toContain("acr generateCredentials intake-acme password2");
  });

  it("Artifact Registry: the service account reads the repository of each entitled product only", async () => {
    const { report, seen } = await verifyOn("gar");
    expect(seen("acme")).toEqual([
      ["list own", "intake-test-123/intake-acme--app/app", 404, true],
      ["list not entitled", "intake-test-123/intake-acme--tools/tools", 403, true],
      ["list neighbour's", "intake-test-123/intake-stark--app/app", 403, true],
    ]);
    expect(seen("wayne")).toEqual([
      ["list own", "intake-test-123/intake-wayne--worker/worker", 404, true],
      ["list not entitled", "intake-test-123/intake-wayne--app/app", 403, true],
      ["list neighbour's", "intake-test-123/intake-acme--worker/worker", 403, true],
    ]);
    expect(report.ok).toBe(true);
    expect(clouds.asked).toContain("gar generateAccessToken intake-acme@intake-test-123.iam.gserviceaccount.com");
  });

  it("GHCR: the machine user's team holds the entitled products' repositories only", async () => {
    const { report, seen } = await verifyOn("ghcr");
    expect(seen("acme")).toEqual([
      ["list own", "example-org/intake-acme--app/app", 404, true],
      ["list not entitled", "example-org/intake-acme--tools/tools", 403, true],
      ["list neighbour's", "example-org/intake-stark--app/app", 403, true],
    ]);
    expect(seen("wayne")).toEqual([
      ["list own", "example-org/intake-wayne--worker/worker", 404, true],
      ["list not entitled", "example-org/intake-wayne--app/app", 403, true],
      ["list neighbour's", "example-org/intake-acme--worker/worker", 403, true],
    ]);
    expect(report.ok).toBe(true);
  });

  it("a minted credential names where each entitled product lives, and those only", async () => {
    const { mintFor } = await import("../../../runtime/mint/index.js");
    const ctx = { settings, roster, azureSubscriptionId: "00000000-0000-4000-a000-000000000000", ghcrToken: "pat-wayne" };
    expect((await mintFor("wayne", "gar", ctx)).products).toEqual({ worker: "europe-west1-docker.pkg.dev/intake-test-123/intake-wayne--worker/" });
    expect((await mintFor("acme", "acr", ctx)).products).toEqual({
      app: "intaketest.azurecr.io/intake/acme/app/",
      worker: "intaketest.azurecr.io/intake/acme/worker/",
    });
    expect((await mintFor("wayne", "ghcr", ctx)).products).toEqual({ worker: "ghcr.io/example-org/intake-wayne--worker/" });
  });

  it("the judges can fail: a scope map on the whole namespace, a project-wide reader, a team holding every product are each caught", async () => {
    const widened = resources.map((r) => {
      const p = r.props as Record<string, unknown>;
      if (r.type === "azure-native:containerregistry:ScopeMap" && p.scopeMapName === "intake-acme-scope")
        return { ...r, props: { ...p, actions: ["repositories/intake/acme/*/content/read"] } };
      if (r.type === "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember" && String(p.member).includes("intake-acme@"))
        return { ...r, props: { ...p, repository: "intake-acme--tools" } };
      return r;
    });
    const team = resources.find((r) => r.type === "github:index/teamRepository:TeamRepository" && r.name === "acme-ghcr-read-app")!;
    widened.push({ ...team, urn: `${team.urn}-planted`, props: { ...team.props, repository: "intake-acme--tools" } });
    const loose = await startFakeGrants(widened);
    loose.ghcr.pats.set("acme-bot", "pat-acme");
    const saved = clouds.fakes;
    clouds.fakes = loose;
    try {
      for (const kind of ["acr", "gar", "ghcr"] as const) {
        const { report, seen } = await verifyOn(kind);
        expect(
          seen("acme").find((p) => p[0] === "list not entitled"),
          kind,
        ).toEqual([expect.any(String), expect.stringMatching(/tools/), 404, false]);
        expect(report.ok, kind).toBe(false);
      }
    } finally {
      clouds.fakes = saved;
      await loose.close();
    }
  });
});
