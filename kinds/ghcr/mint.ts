import { namesFor } from "../../core/naming";
import { MissingCredential, type MintedCredential, type Minter } from "../../runtime/mint/types";
import type { Settings } from "../../core/settings";
import type { Customer } from "../../customers/roster";
import { shardOf, shardStackName } from "../../customers/shards";
import { InvalidInput } from "../../core/errors";

/** The environment variable holding a customer's GHCR machine-user PAT at run time (from the stack secret ghcr.machineUserTokens.<id>). */
export function ghcrTokenVariable(customerId: string): string {
  return `INTAKE_GHCR_TOKEN_${customerId.toUpperCase().replace(/-/g, "_")}`;
}

/**
 * GHCR has nothing short-lived to mint: return the customer's stored machine-user PAT, flagged
 * long-lived, or refuse. It cannot be scoped to the customer's packages: the PAT carries whatever
 * its machine user may read, which the customer's team confines to its repository.
 */
export function ghcrCredential(o: {
  customerId: string;
  repoPrefix: string;
  owner: string;
  machineUser?: string;
  token?: string;
  stack?: string;
}): MintedCredential {
  if (!o.machineUser)
    throw new InvalidInput(
      `ghcr: customer ${o.customerId} has no github.machineUser: GHCR has no short-lived credential; its users log in with their own classic PATs`,
    );
  if (!o.token) {
    const key = `registry-intake:ghcr.machineUserTokens.${o.customerId}`;
    throw new MissingCredential(
      `ghcr: no PAT for ${o.machineUser} in ${ghcrTokenVariable(o.customerId)}: ` +
        `export ${ghcrTokenVariable(o.customerId)}="$(pulumi config get --path '${key}'${o.stack ? ` --stack ${o.stack}` : ""})"`,
    );
  }
  const n = namesFor(o.customerId, { repoPrefix: o.repoPrefix });
  return {
    kind: "ghcr",
    registry: "ghcr.io",
    namespace: `ghcr.io/${o.owner.toLowerCase()}/${n.githubRepository}/`,
    username: o.machineUser,
    password: o.token,
    expiresAt: null,
    longLived: true,
    scope: { note: "a classic PAT: read:packages of whatever its machine user can read", team: n.githubTeam },
  };
}

/** The customer's stored machine-user PAT (nothing short-lived exists on GHCR). */
export const mint: Minter = async (c, ctx) => {
  const s = ctx.settings;
  return ghcrCredential({
    customerId: c.id,
    repoPrefix: s.repoPrefix,
    owner: s.ghcr!.owner,
    machineUser: c.github?.machineUser,
    token: ctx.ghcrToken,
    stack: patStack(s, c),
  });
};

/** The stack whose file holds a customer's machine-user PAT: its shard stack when sharded. */
function patStack(s: Settings, c: Customer): string {
  return s.shard && s.shard.index === undefined ? shardStackName(s.stack, shardOf(c, s.shard.count), s.shard.count) : s.stack;
}
