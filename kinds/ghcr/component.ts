import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import type { EffectiveStatus } from "../../customers/status";
import { KeptResources } from "../../components/kept";
import { need, type KindBuilder } from "../../components/kind";
import { labelDescription } from "../../core/labels";
import { ghcrProductRepository } from "./kind";

export interface GhcrNamespaceArgs {
  /** The GitHub organisation (the provider's `github:owner`). */
  owner: string;
  repositoryName: string;
  teamName: string;
  displayName: string;
  /** GitHub users of the customer, plus its machine user if any. */
  members: string[];
  status: EffectiveStatus;
  /** GitHub topics carry the labels (lower-case, ≤ 50 chars). */
  topics: string[];
  description: string;
  /** Kept resources of earlier updates: an archived repository that comes back is adopted (and unarchived). */
  keptList?: KeptResources;
  /**
   * With a product catalogue: the products the customer is entitled to, each a repository of its
   * own (`<repositoryName>--<product>`) owning that product's packages, read by the team.
   */
  products?: string[];
}

/**
 * One customer's namespace on GHCR. GitHub has no short-lived, per-customer GHCR credential
 * (only classic PATs and GITHUB_TOKEN are accepted; no API creates a PAT), so isolation is by
 * GitHub identity: a private repository owns the customer's packages (packages inherit its
 * access), a team of the customer's users gets read on it. Suspended: the team loses its
 * access to the repository, memberships stay. Offboarded: team and memberships are deleted,
 * the repository the stack holds is archived (and archived, not deleted, if it leaves the
 * program: `archiveOnDestroy`); one that comes back is adopted, and unarchived if active. A
 * repository is never created archived: GitHub refuses the settings the provider writes after
 * an archiving create (403), and an offboarded customer new to the stack has nothing to archive.
 */
export class GhcrNamespace extends pulumi.ComponentResource {
  public readonly namespace: string;
  public readonly repositoryName: pulumi.Output<string | undefined>;
  public readonly teamSlug: pulumi.Output<string | undefined>;

  constructor(name: string, args: GhcrNamespaceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:github:GhcrNamespace", name, {}, opts);
    // ghcr.io paths are lower-case; packages published with this repository's label
    // (org.opencontainers.image.source) inherit its access.
    this.namespace = `ghcr.io/${args.owner.toLowerCase()}/${args.repositoryName}/`;
    const keptList = args.keptList ?? new KeptResources();
    const offboarded = args.status === "offboarded";
    // One repository, or one per entitled product (named by the product: a catalogue that comes
    // leaves the customer's repository to the kept list, archived, and declares the products' anew).
    const wanted = args.products
      ? args.products.map((p) => ({ suffix: `-${p}`, repositoryName: ghcrProductRepository(args.repositoryName, p), product: p as string | undefined }))
      : [{ suffix: "", repositoryName: args.repositoryName, product: undefined }];
    const repos: { suffix: string; repo: github.Repository }[] = [];
    for (const w of wanted) {
      if (!keptList.declares("github", w.repositoryName, offboarded)) continue;
      const repo = new github.Repository(
        `${name}-repo${w.suffix}`,
        {
          name: w.repositoryName,
          description: `${w.product ? `Product ${w.product}. ` : ""}${args.description}`.slice(0, 350),
          visibility: "private",
          archiveOnDestroy: true,
          archived: offboarded,
          autoInit: true,
          hasIssues: false,
          hasProjects: false,
          hasWiki: false,
          hasDownloads: false,
          vulnerabilityAlerts: true,
          topics: w.product ? [...args.topics, `product-${w.product}`] : args.topics,
        },
        { parent: this, ...keptList.adoption("github", w.repositoryName) },
      );
      keptList.track("github", w.repositoryName, repo);
      repos.push({ suffix: w.suffix, repo });
    }
    if (!args.products && repos.length === 0) {
      this.repositoryName = pulumi.output(undefined);
      this.teamSlug = pulumi.output(undefined);
      this.registerOutputs({ namespace: this.namespace, repositoryName: this.repositoryName, teamSlug: this.teamSlug });
      return;
    }
    this.repositoryName = repos[0]?.repo.name ?? pulumi.output(undefined);
    if (offboarded) {
      this.teamSlug = pulumi.output(undefined);
      this.registerOutputs({ namespace: this.namespace, repositoryName: this.repositoryName, teamSlug: this.teamSlug });
      return;
    }

    const team = new github.Team(`${name}-team`, { name: args.teamName, description: args.description.slice(0, 350), privacy: "closed" }, { parent: this });
    for (const user of args.members) {
      new github.TeamMembership(`${name}-member-${user.toLowerCase()}`, { teamId: team.id, username: user, role: "member" }, { parent: this });
    }
    if (args.status === "active") {
      for (const { suffix, repo } of repos)
        new github.TeamRepository(`${name}-read${suffix}`, { teamId: team.id, repository: repo.name, permission: "pull" }, { parent: this });
    }
    this.teamSlug = team.slug;
    this.registerOutputs({ namespace: this.namespace, repositoryName: this.repositoryName, teamSlug: this.teamSlug });
  }
}

/** A customer's GHCR part: repository, team and memberships; the machine user's PAT, where stored, is the pull credential. */
export const build: KindBuilder = (ctx) => {
  const gh = need(ctx.settings.ghcr, "settings.ghcr", ctx.customer.id);
  const machineUser = ctx.customer.github?.machineUser;
  const members = [...new Set([...(ctx.customer.github?.members ?? []), ...(machineUser ? [machineUser] : [])])];
  new GhcrNamespace(
    `${ctx.name}-ghcr`,
    {
      owner: gh.owner,
      repositoryName: ctx.names.githubRepository,
      teamName: ctx.names.githubTeam,
      displayName: ctx.customer.name,
      members,
      status: ctx.state.status,
      topics: ["registry-intake", `customer-${ctx.customer.id}`, `tier-${ctx.customer.tier}`],
      description: labelDescription(`Container packages of ${ctx.customer.name}`, ctx.tags),
      keptList: ctx.keptList,
      products: ctx.products,
    },
    { parent: ctx.parent },
  );
  const token = gh.machineUserTokens[ctx.customer.id];
  // The PAT is the operator's, stored as a Pulumi secret; it is long-lived and cannot be scoped.
  return machineUser && token && ctx.state.status === "active"
    ? { credentialId: pulumi.output(machineUser), credentialSecret: pulumi.secret(token), pull: { username: machineUser, password: pulumi.secret(token) } }
    : {};
};
