import { need, type KindFacts, type ResourceFacts } from "../types";

export interface GhcrNames {
  /** GitHub repository that owns the customer's GHCR packages, and its team. */
  githubRepository: string;
  githubTeam: string;
}

/** A product's GitHub repository: `intake-acme--app` (a customer id never holds "--"). */
export function ghcrProductRepository(repository: string, product: string): string {
  return `${repository}--${product}`;
}

const REPOSITORY = "github:index/repository:Repository";
const TEAM = "github:index/team:Team";
const TEAM_REPOSITORY = "github:index/teamRepository:TeamRepository";

const RESOURCES: ResourceFacts[] = [
  {
    type: REPOSITORY,
    of: "customer",
    display: (i) => `${i.name}${i.archived ? " (archived)" : ""}`,
    kept: "github",
    repository: true,
    ownRepository: (i) => i.name,
    labels: "topics",
    retention: ({ props, kept }) =>
      props.archiveOnDestroy === true || kept ? undefined : "archiveOnDestroy is off: destroying it deletes the customer's packages",
  },
  { type: TEAM, of: "customer", credential: true },
  {
    type: "github:index/teamMembership:TeamMembership",
    of: "customer",
    display: (i) => String(i.username),
    credential: true,
    grant: "team-membership",
    replaceOn: ["teamId", "username"],
  },
  // A suspended customer's team keeps no read access at all.
  {
    type: TEAM_REPOSITORY,
    of: "customer",
    display: (i) => `team read on ${i.repository}`,
    credential: true,
    disabled: () => false,
    grant: "team-access",
    ownRepository: (i) => i.repository,
  },
];

/** GitHub Container Registry: packages owned by a repository per customer, read by the customer's team. */
export const ghcr: KindFacts<GhcrNames> = {
  kind: "ghcr",
  names: (id, p) => ({ githubRepository: `${p}-${id}`, githubTeam: `${p}-${id}` }),
  nameRules: [
    {
      provider: "GitHub repository",
      name: (n) => n.githubRepository,
      test: (v) => /^[A-Za-z0-9._-]{1,100}$/.test(v) && v !== "." && v !== "..",
      rule: "GitHub repository names are 1-100 chars of [A-Za-z0-9._-]",
    },
    {
      provider: "GitHub team",
      name: (n) => n.githubTeam,
      test: (v) => /^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/.test(v),
      rule: "GitHub team slugs are up to 255 chars of [A-Za-z0-9_-], starting with a letter or digit",
    },
  ],
  host: () => "ghcr.io",
  path: (n, s) => `${need(s.ghcr, "ghcr").owner.toLowerCase()}/${n.githubRepository}/`,
  // A product's packages are owned by a repository of its own (access is by repository).
  productPath: (n, s, product) => `${need(s.ghcr, "ghcr").owner.toLowerCase()}/${ghcrProductRepository(n.githubRepository, product)}/`,
  resources: RESOURCES,
  providerSecrets: ["github:token"],
  deletes: () => ({ may: false, why: "the machine user's PAT carries read:packages, not delete:packages" }),
  owners: [
    { type: REPOSITORY, input: "name", pattern: (p) => `^${p}-(.+?)(?:--[a-z0-9-]+)?$` },
    { type: TEAM, input: "name", pattern: (p) => `^${p}-(.+)$` },
    { type: TEAM_REPOSITORY, input: "repository", pattern: (p) => `^${p}-(.+?)(?:--[a-z0-9-]+)?$` },
  ],
};
