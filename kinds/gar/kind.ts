import { need, type KindFacts, type ResourceFacts } from "../types";

export interface GarNames {
  /** Artifact Registry repository id, e.g. `intake-acme`. */
  garRepositoryId: string;
  /** GCP service-account id (the part before `@`). */
  gcpServiceAccountId: string;
}

/** A product's Artifact Registry repository id: `intake-acme--app`. */
export function garProductRepositoryId(repositoryId: string, product: string): string {
  return `${repositoryId}--${product}`;
}

/** Published default limits of Google Cloud that a roster can run into (an increase can be asked for). */
const GAR_LIMITS = { serviceAccountsPerProject: 100, cleanupPoliciesPerRepository: 10 } as const;

const REPOSITORY = "gcp:artifactregistry/repository:Repository";
const REPOSITORY_MEMBER = "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember";
const ACCOUNT = "gcp:serviceaccount/account:Account";
const KEY = "gcp:serviceaccount/key:Key";
const ACCOUNT_MEMBER = "gcp:serviceaccount/iAMMember:IAMMember";

/** The roles a customer grant may give. */
const ROLES = ["roles/artifactregistry.writer", "roles/artifactregistry.reader", "roles/iam.serviceAccountTokenCreator", "roles/iam.workloadIdentityUser"];

const RESOURCES: ResourceFacts[] = [
  {
    type: REPOSITORY,
    of: "customer",
    display: (i) => `${i.location}/${i.repositoryId}`,
    replaceOn: ["repositoryId", "location", "format", "project"],
    kept: "gar",
    repository: true,
    ownRepository: (i) => i.repositoryId,
    labels: "labels",
    retention: ({ kept, unknown }) => (kept || unknown ? undefined : "is not retainOnDelete or protected: deleting it deletes every image in it"),
    movingTags: (i) => ((i.dockerConfig as { immutableTags?: unknown } | undefined)?.immutableTags !== true ? "tags are mutable in prod" : undefined),
    cleanup: { has: (i) => Array.isArray(i.cleanupPolicies) && i.cleanupPolicies.length > 0, missing: "no cleanup policies" },
    warnings: (i) => {
      const n = Array.isArray(i.cleanupPolicies) ? i.cleanupPolicies.length : 0;
      const limit = GAR_LIMITS.cleanupPoliciesPerRepository;
      return n > limit ? [`Artifact Registry repository ${i.repositoryId}: ${n} cleanup policies, over the limit of ${limit}`] : [];
    },
  },
  {
    type: REPOSITORY_MEMBER,
    of: "customer",
    display: (i) => String(i.role),
    credential: true,
    grant: "repository-member",
    roles: ROLES,
    ownRepository: (i) =>
      String(i.repository ?? "")
        .split("/")
        .pop(),
  },
  {
    type: ACCOUNT,
    of: "customer",
    display: (i) => `${i.accountId}${i.disabled ? " (disabled)" : ""}`,
    credential: true,
    disabled: (p) => p.disabled === true,
    replaceOn: ["accountId", "project"],
  },
  {
    type: KEY,
    of: "customer",
    credential: true,
    secrets: ["privateKey"],
    secretOutputs: ["privateKey"],
    grant: "account-key",
    replaceOn: ["serviceAccountId"],
  },
  { type: ACCOUNT_MEMBER, of: "customer", display: (i) => String(i.role), credential: true, grant: "account-member", roles: ROLES },
];

/** GCP Artifact Registry: a repository per customer, a service account writer on that repository only. */
export const gar: KindFacts<GarNames> = {
  kind: "gar",
  names: (id, p) => ({ garRepositoryId: `${p}-${id}`, gcpServiceAccountId: `${p}-${id}` }),
  nameRules: [
    {
      provider: "Artifact Registry repository",
      name: (n) => n.garRepositoryId,
      test: (v) => /^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/.test(v),
      rule: "Artifact Registry repository ids are 1-63 chars of [a-z0-9-], starting with a letter, not ending with '-'",
    },
    {
      provider: "GCP service account",
      name: (n) => n.gcpServiceAccountId,
      test: (v) => /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(v),
      rule: "GCP service-account ids are 6-30 chars of [a-z0-9-], starting with a letter, not ending with '-'",
    },
  ],
  host: (s) => `${need(s.gar, "gar").location}-docker.pkg.dev`,
  path: (n, s) => `${need(s.gar, "gar").project}/${n.garRepositoryId}/`,
  // Artifact Registry grants by repository: a product is a repository of its own, `<id>--<product>`
  // (a customer id never holds "--", so the owner stays unambiguous).
  productPath: (n, s, product) => `${need(s.gar, "gar").project}/${garProductRepositoryId(n.garRepositoryId, product)}/`,
  resources: RESOURCES,
  quotas: [
    {
      type: ACCOUNT,
      per: () => 1,
      limit: (s) =>
        s.gar && s.enabledKinds.includes("gar")
          ? {
              what: `service accounts in Google Cloud project ${s.gar.project}`,
              limit: GAR_LIMITS.serviceAccountsPerProject,
              advice: "ask Google for a higher quota (IAM & Admin > Quotas: service accounts per project) before onboarding more",
            }
          : undefined,
    },
  ],
  providerSecrets: ["gcp:credentials", "gcp:accessToken"],
  deletes: () => ({ may: false, why: "roles/artifactregistry.writer deletes no versions" }),
  owners: [
    { type: REPOSITORY, input: "repositoryId", pattern: (p) => `^${p}-(.+?)(?:--[a-z0-9-]+)?$` },
    { type: REPOSITORY_MEMBER, input: "repository", pattern: (p) => `(?:^|/)${p}-([^/]+?)(?:--[a-z0-9-]+)?$` },
    { type: ACCOUNT, input: "accountId", pattern: (p) => `^${p}-(.+)$` },
    { type: KEY, input: "serviceAccountId", pattern: (p) => `serviceAccounts/${p}-([^@]+)@` },
    { type: ACCOUNT_MEMBER, input: "serviceAccountId", pattern: (p) => `serviceAccounts/${p}-([^@]+)@` },
  ],
  // google-auth-library says so in its message only.
  noCredentials: {
    is: (e) => /Could not load the default credentials/.test(e.message),
    fix: "gar: no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`, or run where a service account is attached",
  },
};
