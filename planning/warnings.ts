import type { Settings } from "../core/settings";
import type { Customer } from "../customers/roster";
import type { RegistryKind } from "../core/tiers";
import type { PlannedResource } from "./types";

/** Published default limits that a roster can run into. */
export const LIMITS = {
  acrTokensAndScopeMaps: { Basic: 100, Standard: 500, Premium: 50_000 },
  iamUsersPerAccount: 5_000,
  ecrRepositoriesPerRegion: 10_000,
  /** Default quota per Google Cloud project (an increase can be asked for). */
  gcpServiceAccountsPerProject: 100,
  garCleanupPoliciesPerRepository: 10,
  iamInlineUserPolicyCharacters: 2_048,
  /** All inline policies of one role together, without whitespace. */
  iamInlineRolePolicyCharacters: 10_240,
} as const;

/** Warn from this share of a limit on, so the warning comes before the roster crosses it. */
export const WARN_AT = 0.8;

function check(what: string, used: number, limit: number, advice: string): string[] {
  if (used < limit * WARN_AT) return [];
  const verdict = used > limit ? "is OVER the limit of" : "is close to the limit of";
  return [`${what}: ${used} planned ${verdict} ${limit} (${Math.round((used / limit) * 100)}%): ${advice}`];
}

/** The per-customer resources a shared account, registry or project holds, by resource type. */
const PER_CUSTOMER: Record<string, { kind: RegistryKind; per: (c: Customer) => number }> = {
  "aws:iam/user:User": { kind: "ecr", per: () => 1 },
  "aws:ecr/repository:Repository": { kind: "ecr", per: (c) => new Set(["app", ...(c.ecr?.repositories ?? [])]).size },
  "azure-native:containerregistry:Token": { kind: "acr", per: () => 1 },
  "azure-native:containerregistry:ScopeMap": { kind: "acr", per: () => 1 },
  "gcp:serviceaccount/account:Account": { kind: "gar", per: () => 1 },
};

/**
 * How many of each per-customer resource the whole roster holds in the shared account, registry
 * or project, whichever stack declares them: a shard stack plans only its slice, but every shard
 * fills the same IAM account and ACR registry. Customers not offboarded, with the kind enabled.
 */
export function rosterCounts(customers: Customer[], settings: Settings): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of customers) {
    if (c.status === "offboarded") continue;
    for (const [type, { kind, per }] of Object.entries(PER_CUSTOMER)) {
      if (!settings.enabledKinds.includes(kind) || !c.registries.includes(kind)) continue;
      counts.set(type, (counts.get(type) ?? 0) + per(c));
    }
  }
  return counts;
}

/**
 * Warnings for limits the plan would reach: ACR tokens and scope maps per registry SKU, IAM
 * users per account, ECR repositories per region, service accounts per Google Cloud project,
 * Artifact Registry cleanup policies per repository. Counts are this stack's, or on a sharded
 * stack the whole roster's (`roster`: every shard fills the same account); other users of the same
 * account or registry add to them.
 */
export function quotaWarnings(resources: PlannedResource[], settings: Settings, roster?: Customer[]): string[] {
  const whole = settings.shard && roster ? rosterCounts(roster, settings) : undefined;
  const count = (type: string) => whole?.get(type) ?? (whole ? 0 : resources.filter((r) => r.custom && r.type === type).length);
  const out: string[] = [];
  if (settings.acr) {
    const limit = LIMITS.acrTokensAndScopeMaps[settings.acr.sku];
    const next = settings.acr.sku === "Basic" ? "Standard" : "Premium";
    const advice = settings.acr.sku === "Premium" ? "split customers across registries" : `move the registry to ${next} first`;
    out.push(...check(`ACR ${settings.acr.registryName} (${settings.acr.sku}) tokens`, count("azure-native:containerregistry:Token"), limit, advice));
    out.push(...check(`ACR ${settings.acr.registryName} (${settings.acr.sku}) scope maps`, count("azure-native:containerregistry:ScopeMap"), limit, advice));
  }
  if (settings.aws) {
    out.push(
      ...check(`IAM users in account ${settings.aws.accountId}`, count("aws:iam/user:User"), LIMITS.iamUsersPerAccount, "ask AWS for a higher quota or spread customers over accounts"),
      ...check(`ECR repositories in ${settings.aws.region}`, count("aws:ecr/repository:Repository"), LIMITS.ecrRepositoriesPerRegion, "ask AWS for a higher quota or spread customers over regions"),
    );
  }
  if (settings.gar && settings.enabledKinds.includes("gar")) {
    out.push(
      ...check(
        `service accounts in Google Cloud project ${settings.gar.project}`,
        count("gcp:serviceaccount/account:Account"),
        LIMITS.gcpServiceAccountsPerProject,
        "ask Google for a higher quota (IAM & Admin > Quotas: service accounts per project) before onboarding more",
      ),
    );
  }
  const pushRole = `${settings.repoPrefix}-ecr-push`;
  const pushPolicies = resources.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.inputs.role === pushRole && typeof r.inputs.policy === "string");
  if (pushPolicies.length > 0) {
    const size = pushPolicies.reduce((n, r) => n + (r.inputs.policy as string).replace(/\s+/g, "").length, 0);
    out.push(
      ...check(
        `inline policies of role ${pushRole} (the revoked customers' sessions)`,
        size,
        LIMITS.iamInlineRolePolicyCharacters,
        "drop customers offboarded more than 12 h ago from the roster (their ECR tokens have expired) or shorten long customer ids",
      ),
    );
  }
  for (const r of resources) {
    if (r.type === "aws:iam/userPolicy:UserPolicy" && typeof r.inputs.policy === "string") {
      const size = r.inputs.policy.replace(/\s+/g, "").length;
      out.push(...check(`IAM inline policy of ${r.inputs.user}`, size, LIMITS.iamInlineUserPolicyCharacters, "name a prefix (repository/<prefix>/<id>/*) or move to a managed policy (6,144)"));
    }
    if (r.type !== "gcp:artifactregistry/repository:Repository") continue;
    const n = Array.isArray(r.inputs.cleanupPolicies) ? r.inputs.cleanupPolicies.length : 0;
    if (n > LIMITS.garCleanupPoliciesPerRepository) {
      out.push(`Artifact Registry repository ${r.inputs.repositoryId}: ${n} cleanup policies, over the limit of ${LIMITS.garCleanupPoliciesPerRepository}`);
    }
  }
  return out;
}

/** Roster and stack settings that agree with each other only in part. */
export function configWarnings(customers: Customer[], settings: Settings, stackCustomers: Customer[] = customers): string[] {
  const out: string[] = [];
  const tokens = settings.ghcr?.machineUserTokens ?? {};
  const here = new Set(stackCustomers.map((c) => c.id));
  const where = settings.shard ? ` --stack ${settings.stack}` : "";
  // Only the customers this stack declares: a shard's PATs are in its own file.
  for (const c of stackCustomers) {
    const mu = c.github?.machineUser;
    if (mu && c.registries.includes("ghcr") && settings.enabledKinds.includes("ghcr") && !(c.id in tokens)) {
      out.push(
        `customer ${c.id}: machine user ${mu} has no PAT in registry-intake:ghcr.machineUserTokens.${c.id} ` +
          `(\`pulumi config set --secret --path 'registry-intake:ghcr.machineUserTokens.${c.id}'${where}\`); it gets no GHCR credential or pull secret until then`,
      );
    }
  }
  // Short-lived kinds in a Kubernetes namespace, with nothing to keep their pull secrets fresh.
  if (!settings.pullSecrets) {
    const shortLived = (c: Customer) => c.registries.filter((k) => settings.enabledKinds.includes(k) && (k === "ecr" || k === "acr" || (k === "gar" && !settings.gar?.serviceAccountKeys)));
    const empty = stackCustomers.filter((c) => c.kubernetes?.namespace && c.status !== "offboarded" && shortLived(c).length > 0);
    if (empty.length > 0) {
      const named = empty.slice(0, 5).map((c) => `${c.id} (${shortLived(c).join(", ")})`).join(", ");
      out.push(
        `${empty.length} customer(s) with a Kubernetes namespace get empty pull secrets for short-lived kinds: ${named}${empty.length > 5 ? `, +${empty.length - 5} more` : ""}; ` +
          "set registry-intake:pullSecrets (mode eso or refresher) to keep them filled, or run the command each Secret's registry-intake/refresh annotation names",
      );
    }
  }
  const byId = new Map(customers.map((c) => [c.id, c]));
  for (const id of Object.keys(tokens)) {
    const c = byId.get(id);
    if (!c?.github?.machineUser) out.push(`registry-intake:ghcr.machineUserTokens.${id}: no customer ${id} with a github.machineUser; the token is unused`);
    else if (!here.has(id)) out.push(`registry-intake:ghcr.machineUserTokens.${id}: customer ${id} is not declared by stack ${settings.stack}; set the token on its own (shard) stack`);
  }
  return out;
}
