import { namesFor } from "../../core/naming";
import { mintRobotCredential } from "../broker/broker";
import type { SigningKey } from "../broker/keys";
import { MissingCredential, type MintedCredential } from "./types";
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
export function ghcrCredential(o: { customerId: string; repoPrefix: string; owner: string; machineUser?: string; token?: string; stack?: string }): MintedCredential {
  if (!o.machineUser) throw new InvalidInput(`ghcr: customer ${o.customerId} has no github.machineUser: GHCR has no short-lived credential; its users log in with their own classic PATs`);
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

/** A 1 h robot credential for the self-hosted registry, minted offline with the broker's key. */
export async function mintDistribution(o: { customerId: string; repoPrefix: string; host: string; service: string; issuer: string; key: SigningKey }): Promise<MintedCredential> {
  const n = namesFor(o.customerId, { repoPrefix: o.repoPrefix });
  const { password, expiresAt } = await mintRobotCredential(o.key, { username: n.distributionRobot, service: o.service, issuer: o.issuer });
  return {
    kind: "distribution",
    registry: o.host,
    namespace: `${o.host}/${n.distributionPathPrefix}`,
    username: n.distributionRobot,
    password,
    expiresAt,
    scope: { paths: [`${n.distributionPathPrefix}*`] },
  };
}
