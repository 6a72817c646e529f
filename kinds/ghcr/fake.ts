import { alnum, numeric, uniqueId, type KindFake } from "../fake";

/** Repository settings the GitHub provider writes after its general edit, each in a call of its own. */
const SEPARATE_GITHUB_CALLS = new Set(["visibility", "topics", "vulnerabilityAlerts", "pages", "securityAndAnalysis"]);

/** GitHub as its provider answers, and what it refuses on an archived repository. */
export const ghcrFake: KindFake = {
  makers: {
    "github:index/repository:Repository": (_n, i, c) => ({
      id: String(i.name),
      state: {
        ...i,
        fullName: `${c.githubOwner ?? "github-owner"}/${i.name}`,
        htmlUrl: `https://github.com/${c.githubOwner ?? "github-owner"}/${i.name}`,
        nodeId: `R_${alnum(`repo:${i.name}`, 14)}`,
        repoId: Number(numeric(`repo:${i.name}`, 9)),
      },
    }),
    "github:index/team:Team": (_n, i) => {
      // 15 digits (a JavaScript number holds them exactly): unique across hundreds of thousands of teams, and checked.
      const id = uniqueId("github-team", String(i.name), (n) => numeric(`team:${i.name}${n ? `:${n}` : ""}`, 15));
      return { id, state: { ...i, slug: String(i.name).toLowerCase(), nodeId: `T_${alnum(`team:${i.name}`, 14)}` } };
    },
    "github:index/teamMembership:TeamMembership": (_n, i) => ({ id: `${i.teamId}:${i.username}`, state: { ...i } }),
    "github:index/teamRepository:TeamRepository": (_n, i) => ({ id: `${i.teamId}:${i.repository}`, state: { ...i } }),
  },
  refusal: (type, inputs) => {
    if (type === "github:index/repository:Repository" && inputs.archived === true) {
      // The provider archives in the create call's follow-up edit, then writes visibility, alerts
      // and topics to a repository that is read-only by then (integrations/terraform-provider-github#3084).
      return `403 Repository was archived so is read-only: ${inputs.name} (a repository cannot be created archived)`;
    }
    return undefined;
  },
  updateRefusal: (type, stored, inputs, changedKeys) => {
    if (type === "github:index/repository:Repository" && inputs.archived === true) {
      const others = changedKeys.filter((k) => k !== "archived");
      // Already archived: read-only. Being archived: the provider's general edit archives it, then
      // writes visibility, topics and alerts in calls of their own (terraform-provider-github#3649).
      const refused = stored.archived === true ? others : others.filter((k) => SEPARATE_GITHUB_CALLS.has(k));
      if (refused.length > 0)
        return `403 Repository was archived so is read-only: ${stored.name ?? inputs.name} (changing ${refused.join(", ")} on an archived repository)`;
    }
    return undefined;
  },
  // A repository with archiveOnDestroy is archived, not deleted.
  deleteLeaves: (type, outputs) =>
    type === "github:index/repository:Repository" && outputs.archiveOnDestroy === true ? { ...outputs, archived: true } : undefined,
};
