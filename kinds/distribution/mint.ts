import { deliveryRobotName, namesFor } from "../../core/naming";
import type { SharedDelivery } from "../../runtime/delivery/shared";
import type { RegistryCredential } from "../../runtime/registry/auth";
import { mintRobotCredential } from "../../runtime/broker/broker";
import type { SigningKey } from "../../runtime/broker/keys";
import { MissingCredential, type MintedCredential, type Minter } from "../../runtime/mint/types";

/** A 1 h robot credential for the self-hosted registry, minted offline with the broker's key. */
export async function mintDistribution(o: {
  customerId: string;
  repoPrefix: string;
  host: string;
  service: string;
  issuer: string;
  key: SigningKey;
}): Promise<MintedCredential> {
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

/** A 1 h robot credential minted offline with the broker's key. */
export const mint: Minter = async (c, ctx) => {
  if (!ctx.signingKey)
    throw new MissingCredential(
      "distribution: the broker's private key is needed to mint an offline credential: pass --key KEY.pem (INTAKE_BROKER_KEY for the credential helper)",
    );
  const d = ctx.settings.distribution!;
  return mintDistribution({ customerId: c.id, repoPrefix: ctx.settings.repoPrefix, host: d.host, service: d.service, issuer: d.issuer, key: ctx.signingKey });
};

/** Delivery: the platform's delivery robot, one credential for every customer (blobs mount between all of them; the broker grants it only customers licensed today). */
export const distributionDelivery: SharedDelivery = async (customers, o) => {
  const username = deliveryRobotName({ repoPrefix: o.settings.repoPrefix });
  let credential: RegistryCredential;
  if (o.deliveryPassword) credential = { username, password: o.deliveryPassword };
  else if (o.mint.signingKey) {
    const d = o.settings.distribution!;
    credential = { username, password: (await mintRobotCredential(o.mint.signingKey, { username, service: d.service, issuer: d.issuer })).password };
  } else
    throw new Error(
      `the delivery robot ${username} needs its password (INTAKE_DELIVERY_PASSWORD, the stack output distributionDeliveryPassword) or the broker's key (--key)`,
    );
  return [{ registry: o.registry, credential, customers, given: o.deliveryPassword ? "INTAKE_DELIVERY_PASSWORD" : undefined }];
};
