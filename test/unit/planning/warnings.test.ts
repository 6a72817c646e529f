import { describe, expect, it } from "vitest";
import { ECR_LIMITS } from "../../../kinds/ecr/kind";
import { configWarnings, quotaWarnings } from "../../../planning/warnings";
import type { PlannedResource } from "../../../planning/plan";
import { customer, planOf, testRoster, testSettings } from "../../../testing/helpers";

function many(type: string, n: number): PlannedResource[] {
  return Array.from({ length: n }, (_, i) => ({
    urn: `u${i}`,
    type,
    name: `r${i}`,
    parent: null,
    customer: `c${i}`,
    custom: true,
    retainOnDelete: false,
    inputs: {},
  }));
}

describe("quota warnings", () => {
  it("a roster that brings a Basic ACR registry near 100 tokens is warned about before it crosses", async () => {
    const acr = { resourceGroupName: "rg", registryName: "intakebasic", location: "westeurope", sku: "Basic" };
    const roster = Array.from({ length: 85 }, (_, i) => customer(`cust-${i}`, "professional", { registries: ["acr"] }));
    const { plan } = await planOf(roster, { acr, enabledKinds: ["acr"] });
    expect(plan.warnings).toEqual([
      "ACR intakebasic (Basic) tokens: 85 planned is close to the limit of 100 (85%): move the registry to Standard first",
      "ACR intakebasic (Basic) scope maps: 85 planned is close to the limit of 100 (85%): move the registry to Standard first",
    ]);
    const fewer = await planOf(roster.slice(0, 79), { acr, enabledKinds: ["acr"] });
    expect(fewer.plan.warnings).toEqual([]);
  });

  it("an inline user policy near IAM's 2,048 characters (whitespace not counted)", () => {
    const s = testSettings();
    const policy = (n: number) => [
      {
        urn: "u",
        type: "aws:iam/userPolicy:UserPolicy",
        name: "p",
        parent: null,
        customer: "acme",
        custom: true,
        retainOnDelete: false,
        inputs: { user: "intake-customer-acme", policy: JSON.stringify({ x: "y".repeat(n) }, null, 4) },
      },
    ];
    expect(quotaWarnings(policy(1600), s)).toEqual([]);
    expect(quotaWarnings(policy(1700), s)).toEqual([
      "IAM inline policy of intake-customer-acme: 1708 planned is close to the limit of 2048 (83%): name a prefix (repository/<prefix>/<id>/*) or move to a managed policy (6,144)",
    ]);
  });

  it("the push role's inline policies near IAM's 10,240 characters: the revoked customers' list grows with offboardings", () => {
    const s = testSettings();
    const policies = (ids: number) => [
      {
        urn: "a",
        type: "aws:iam/rolePolicy:RolePolicy",
        name: "p",
        parent: null,
        customer: null,
        custom: true,
        retainOnDelete: false,
        inputs: { role: "intake-ecr-push", name: "push-pull-under-prefix", policy: JSON.stringify({ x: "y".repeat(400) }) },
      },
      {
        urn: "b",
        type: "aws:iam/rolePolicy:RolePolicy",
        name: "r",
        parent: null,
        customer: null,
        custom: true,
        retainOnDelete: false,
        inputs: { role: "intake-ecr-push", name: "revoked-customer-sessions", policy: JSON.stringify(Array.from({ length: ids }, (_, i) => `customer-${i}`)) },
      },
      {
        urn: "c",
        type: "aws:iam/rolePolicy:RolePolicy",
        name: "c",
        parent: null,
        customer: null,
        custom: true,
        retainOnDelete: false,
        inputs: { role: "intake-ecr-controller", name: "manage", policy: JSON.stringify({ x: "y".repeat(9000) }) },
      },
    ];
    expect(quotaWarnings(policies(100), s)).toEqual([]);
    const [w] = quotaWarnings(policies(700), s);
    expect(w).toMatch(
      /^inline policies of role intake-ecr-push \(the revoked customers' sessions\): \d+ planned is OVER the limit of 10240 \(\d+%\): drop customers offboarded more than 12 h ago/,
    );
  });

  it("IAM users per account and ECR repositories per region, at and over the limit", () => {
    const s = testSettings();
    expect(quotaWarnings(many("aws:iam/user:User", 3999), s)).toEqual([]);
    expect(quotaWarnings(many("aws:iam/user:User", 4000), s)).toEqual([
      "IAM users in account 111122223333: 4000 planned is close to the limit of 5000 (80%): ask AWS for a higher quota or spread customers over accounts",
    ]);
    expect(quotaWarnings(many("aws:ecr/repository:Repository", ECR_LIMITS.repositoriesPerRegion + 1), s)[0]).toMatch(
      /^ECR repositories in eu-west-1: 10001 planned is OVER the limit of 10000/,
    );
  });

  it("on a shard stack the whole roster counts: every shard fills the same account, registry and project", async () => {
    // 4,200 ECR customers over 42 shards: each shard plans 100 IAM users, the account holds 4,200.
    const entries = Array.from({ length: 4200 }, (_, i) =>
      customer(`cust-${i}`, "enterprise", { registries: ["ecr", "gar"], ...(i % 10 === 0 ? { ecr: { repositories: ["worker"] } } : {}) }),
    );
    const roster = testRoster([...entries, customer("gone", "enterprise", { registries: ["ecr"], status: "offboarded" })]).customers;
    const sharded = testSettings({ shard: { count: 42, index: 0, platformStack: "prod" } });
    const shardResources = many("aws:iam/user:User", 100);
    expect(quotaWarnings(shardResources, sharded, roster)).toEqual([
      "IAM users in account 111122223333: 4200 planned is close to the limit of 5000 (84%): ask AWS for a higher quota or spread customers over accounts",
      "service accounts in Google Cloud project intake-test-123: 4200 planned is OVER the limit of 100 (4200%): ask Google for a higher quota (IAM & Admin > Quotas: service accounts per project) before onboarding more",
    ]);
    // Unsharded, the stack's own resources are the count (exact), as before.
    expect(quotaWarnings(shardResources, testSettings(), roster)).toEqual([]);
  });

  it("Artifact Registry: service accounts per project from the plan, one per customer", async () => {
    const roster = Array.from({ length: 85 }, (_, i) => customer(`cust-${i}`, "enterprise", { registries: ["gar"] }));
    const { plan } = await planOf(roster, { enabledKinds: ["gar"] });
    expect(plan.warnings).toEqual([expect.stringMatching(/^service accounts in Google Cloud project \S+: 85 planned is close to the limit of 100 \(85%\)/)]);
  });

  it("Premium's 50,000 tokens, and Artifact Registry's 10 cleanup policies per repository", () => {
    const s = testSettings({ acr: { resourceGroupName: "rg", registryName: "intakeprem", location: "eastus", sku: "Premium" } });
    expect(quotaWarnings(many("azure-native:containerregistry:Token", 5000), s)).toEqual([]);
    const repo = { ...many("gcp:artifactregistry/repository:Repository", 1)[0], inputs: { repositoryId: "intake-x", cleanupPolicies: new Array(11).fill({}) } };
    expect(quotaWarnings([repo], s)).toEqual(["Artifact Registry repository intake-x: 11 cleanup policies, over the limit of 10"]);
  });
});

describe("roster and settings mismatches", () => {
  it("a machine user without a stored PAT, and a PAT nobody uses", () => {
    const s = testSettings({ ghcr: { owner: "example-org", machineUserTokens: { ghost: "ghp_x" } } });
    const roster = testRoster([customer("acme", "standard", { github: { machineUser: "acme-bot" } })], s);
    expect(configWarnings(roster.customers, s)).toEqual([
      "customer acme: machine user acme-bot has no PAT in registry-intake:ghcr.machineUserTokens.acme (`pulumi config set --secret --path 'registry-intake:ghcr.machineUserTokens.acme'`); it gets no GHCR credential or pull secret until then",
      "registry-intake:ghcr.machineUserTokens.ghost: no customer ghost with a github.machineUser; the token is unused",
    ]);
  });

  it("on a shard stack: only its own customers' PATs are asked for, and a PAT of another shard's customer is named", () => {
    const s = testSettings(
      { ghcr: { owner: "example-org", machineUserTokens: { globex: "ghp_x" } }, shard: { count: 2, index: 1, platformStack: "prod" } },
      "prod-shard-01",
    );
    const roster = testRoster(
      [customer("acme", "standard", { github: { machineUser: "acme-bot" } }), customer("globex", "standard", { github: { machineUser: "globex-bot" } })],
      s,
    );
    const [acme, globex] = roster.customers;
    expect(configWarnings(roster.customers, s, [acme])).toEqual([
      "customer acme: machine user acme-bot has no PAT in registry-intake:ghcr.machineUserTokens.acme (`pulumi config set --secret --path 'registry-intake:ghcr.machineUserTokens.acme' --stack prod-shard-01`); it gets no GHCR credential or pull secret until then",
      "registry-intake:ghcr.machineUserTokens.globex: customer globex is not declared by stack prod-shard-01; set the token on its own (shard) stack",
    ]);
    expect(configWarnings(roster.customers, s, [globex])).toEqual([]);
    expect(configWarnings(roster.customers, { ...s, ghcr: { owner: "o", machineUserTokens: {} } }, [])).toEqual([]);
  });
});
