import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { parseSettings, type Settings } from "../core/settings";
import { parseRoster, type Roster } from "../customers/roster";
import { planProgram } from "../planning/plan";
import type { KeptList } from "../core/kept";
import { program } from "../program";
import type { RecordedResource } from "../planning/engine";

/** The day every test judges licenses against. */
export const TODAY = new Date("2026-11-22T12:00:00Z");

export const ACCOUNT = "111122223333";
export const REGION = "eu-west-1";

/** Settings as a dev stack would give them; `over` replaces top-level raw config keys. */
export const BASE_SETTINGS = {
  environment: "dev",
  aws: { accountId: ACCOUNT, region: REGION },
  acr: { resourceGroupName: "rg-intake", registryName: "intaketest", location: "westeurope" },
  gar: { project: "intake-test-123", location: "europe-west1" },
  ghcr: { owner: "example-org" },
  distribution: { host: "registry.test.example.com" },
};

/** A catalogue of three products, one with two channels. */
export const PRODUCTS = {
  app: { repositories: ["app", "cli"], channels: ["stable", "beta"] },
  worker: { repositories: ["worker"] },
  tools: { repositories: ["tools"] },
};

export function testSettings(over: Record<string, unknown> = {}, stack = "test"): Settings {
  return parseSettings({ ...BASE_SETTINGS, ...over }, stack, "test settings", TODAY);
}

export function rosterYaml(customers: unknown[]): string {
  return stringify({ customers });
}

export function testRoster(customers: unknown[], settings = testSettings()): Roster {
  return parseRoster(rosterYaml(customers), "roster.yaml", {
    tierTable: settings.tierTable,
    prefix: { repoPrefix: settings.repoPrefix },
    products: settings.products,
  });
}

export function customer(id: string, tier: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { id, name: `${id} Inc`, tier, license: { expires: "2027-06-30" }, ...extra };
}

/** Await an Output's value (test helper: Outputs are not thenables). */
export function unwrap<T>(o: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => o.apply((v) => resolve(v)));
}

/** Plan a roster offline; `keptList` is the stack's kept resources (its `retained` output) if any. */
export async function planOf(customers: unknown[], settingsOver: Record<string, unknown> = {}, keptList: Partial<KeptList> = {}) {
  const settings = testSettings(settingsOver);
  const roster = testRoster(customers, settings);
  const plan = await planProgram(settings, roster, {}, program, keptList);
  return { settings, roster, plan, recorded: plan.recorded };
}

/** Custom resources a customer owns, by type. */
export function owned(
  plan: { resources: { customer: string | null; urn: string }[] },
  recorded: RecordedResource[],
  id: string | null,
  type?: string,
): RecordedResource[] {
  const urns = new Set(plan.resources.filter((r) => r.customer === id).map((r) => r.urn));
  return recorded.filter((r) => r.custom && urns.has(r.urn) && (type === undefined || r.type === type));
}

export const T = {
  scopeMap: "azure-native:containerregistry:ScopeMap",
  token: "azure-native:containerregistry:Token",
  acrRegistry: "azure-native:containerregistry:Registry",
  acrReplica: "azure-native:containerregistry:Replication",
  garRepo: "gcp:artifactregistry/repository:Repository",
  garMember: "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
  sa: "gcp:serviceaccount/account:Account",
  saMember: "gcp:serviceaccount/iAMMember:IAMMember",
  saKey: "gcp:serviceaccount/key:Key",
  ghRepo: "github:index/repository:Repository",
  team: "github:index/team:Team",
  teamMember: "github:index/teamMembership:TeamMembership",
  teamRepo: "github:index/teamRepository:TeamRepository",
  robot: "random:index/randomPassword:RandomPassword",
  k8sSecret: "kubernetes:core/v1:Secret",
  kmsKey: "aws:kms/key:Key",
  template: "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate",
  replication: "aws:ecr/replicationConfiguration:ReplicationConfiguration",
  accountSetting: "aws:ecr/accountSetting:AccountSetting",
  repo: "aws:ecr/repository:Repository",
  lifecycle: "aws:ecr/lifecyclePolicy:LifecyclePolicy",
  user: "aws:iam/user:User",
  userPolicy: "aws:iam/userPolicy:UserPolicy",
  key: "aws:iam/accessKey:AccessKey",
  role: "aws:iam/role:Role",
  rolePolicy: "aws:iam/rolePolicy:RolePolicy",
} as const;

/**
 * A stack file's text with the two secrets an environment sets (`pulumi config set --secret`)
 * written in, as `secure:` ciphertext: the committed stack files hold none.
 */
export function withStackSecrets(text: string): string {
  const out = text
    .replace(/^( {2}github:owner: .+\n)/m, "$1  github:token:\n    secure: v1:2bq0yv4mH0rT5a2d:Qm9vX2Rldl9naXRodWJfdG9rZW5fY2lwaGVydGV4dA==\n")
    .replace(
      /^( {2}registry-intake:ghcr:\n {4}owner: .+\n)/m,
      "$1    machineUserTokens:\n      acme:\n        secure: v1:Jm3k9QpL0vX2aB7c:ZGV2X2FjbWVfbWFjaGluZV91c2VyX3BhdF9jaXBoZXJ0ZXh0\n",
    );
  if (out.split("secure:").length !== 3)
    throw new Error("withStackSecrets: the stack file no longer has github:owner and registry-intake:ghcr.owner where expected");
  return out;
}
