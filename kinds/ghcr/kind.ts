import { need, type KindFacts } from "../types";

export interface GhcrNames {
  /** GitHub repository that owns the customer's GHCR packages, and its team. */
  githubRepository: string;
  githubTeam: string;
}

/** A product's GitHub repository: `intake-acme--app` (a customer id never holds "--"). */
export function ghcrProductRepository(repository: string, product: string): string {
  return `${repository}--${product}`;
}

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
  types: /^github:index\/(repository|team|teamMembership|teamRepository):/,
  deletes: () => ({ may: false, why: "the machine user's PAT carries read:packages, not delete:packages" }),
  owners: [
    { type: "github:index/repository:Repository", input: "name", pattern: (p) => `^${p}-(.+?)(?:--[a-z0-9-]+)?$` },
    { type: "github:index/team:Team", input: "name", pattern: (p) => `^${p}-(.+)$` },
    { type: "github:index/teamRepository:TeamRepository", input: "repository", pattern: (p) => `^${p}-(.+?)(?:--[a-z0-9-]+)?$` },
  ],
};
