import { need, type KindFacts } from "../types";

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
  types: /^gcp:(artifactregistry\/(repository|repositoryIamMember):|serviceaccount\/)/,
  deletes: () => ({ may: false, why: "roles/artifactregistry.writer deletes no versions" }),
  owners: [
    { type: "gcp:artifactregistry/repository:Repository", input: "repositoryId", pattern: (p) => `^${p}-(.+?)(?:--[a-z0-9-]+)?$` },
    { type: "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember", input: "repository", pattern: (p) => `(?:^|/)${p}-([^/]+?)(?:--[a-z0-9-]+)?$` },
    { type: "gcp:serviceaccount/account:Account", input: "accountId", pattern: (p) => `^${p}-(.+)$` },
    { type: "gcp:serviceaccount/key:Key", input: "serviceAccountId", pattern: (p) => `serviceAccounts/${p}-([^@]+)@` },
    { type: "gcp:serviceaccount/iAMMember:IAMMember", input: "serviceAccountId", pattern: (p) => `serviceAccounts/${p}-([^@]+)@` },
  ],
  // google-auth-library says so in its message only.
  noCredentials: {
    is: (e) => /Could not load the default credentials/.test(e.message),
    fix: "gar: no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`, or run where a service account is attached",
  },
};
