import { customerNamespace, registryHost } from "../../core/endpoints";
import type { Settings } from "../../core/settings";
import { deliveryRobotName } from "../../core/naming";
import type { Roster } from "../../customers/roster";
import type { RegistryKind } from "../../core/tiers";
import { checkAccess } from "../../core/access";
import { mintRobotCredential } from "../broker/broker";
import { type EcrMintOptions, ecrDeliveryBatches, ecrTagDigests, mintEcrSession } from "../mint/ecr";
import { defaultPushRoleArn, mintFor, type MintContext } from "../mint/index";
import type { CredentialFailure, CredentialGroup, DeliveryRequest } from "./deliver";
import type { RegistryCredential } from "./manifest";

export interface StackDeliveryOptions {
  settings: Settings;
  roster: Roster;
  /** Minting context for the per-customer kinds (acr, gar, ghcr) and the ECR push role. */
  mint: Omit<MintContext, "settings" | "roster">;
  /** distribution: the delivery robot's password (stack output distributionDeliveryPassword), else the broker's key in `mint.signingKey`. */
  deliveryPassword?: string;
  /** ecr: clients for tests (STS, and the ECR client of the assumed session). */
  ecr?: Pick<EcrMintOptions, "sts" | "ecrClient">;
  /** ghcr: each customer's machine-user PAT. */
  ghcrToken?: (customer: string) => string | undefined;
  /** YYYY-MM-DD the licenses are judged against; default today. */
  today?: string;
}

/**
 * The stack-specific half of a delivery: who may receive (the same access check as every
 * credential), where each customer's namespace is, and the credentials that reach them:
 * - distribution: the platform's delivery robot, one credential for every customer (blobs mount
 *   between all of them; the broker grants it only customers licensed today);
 * - ecr: the push role with one session policy over a batch of customers' prefixes (as many as
 *   STS's 2,048-character limit allows), so blobs mount within each batch;
 * - acr, gar, ghcr: each customer's own minted credential (a scope map, an impersonated service
 *   account, a machine user reach one customer only), so each customer is its own copy.
 */
export function stackDelivery(o: StackDeliveryOptions): Pick<DeliveryRequest, "access" | "namespace" | "credentials"> {
  const s = o.settings;
  const asOf = o.today ?? new Date().toISOString().slice(0, 10);
  return {
    access: (customer, kind) => {
      const d = checkAccess(o.roster, customer, kind, { tierTable: s.tierTable, asOf, enabledKinds: s.enabledKinds });
      return d.allowed ? { allowed: true } : { allowed: false, reason: d.reason };
    },
    namespace: (customer, kind) => customerNamespace(kind, customer, s),
    credentials: async (kind: RegistryKind, customers: string[]): Promise<(CredentialGroup | CredentialFailure)[]> => {
      const registry = registryHost(kind, s);
      switch (kind) {
        case "distribution": {
          const username = deliveryRobotName({ repoPrefix: s.repoPrefix });
          let credential: RegistryCredential;
          if (o.deliveryPassword) credential = { username, password: o.deliveryPassword };
          else if (o.mint.signingKey) {
            const d = s.distribution!;
            credential = { username, password: (await mintRobotCredential(o.mint.signingKey, { username, service: d.service, issuer: d.issuer })).password };
          } else throw new Error(`the delivery robot ${username} needs its password (INTAKE_DELIVERY_PASSWORD, the stack output distributionDeliveryPassword) or the broker's key (--key)`);
          return [{ registry, credential, customers }];
        }
        case "ecr": {
          const base = { repoPrefix: s.repoPrefix, accountId: s.aws!.accountId, region: s.aws!.region };
          return each(ecrDeliveryBatches(base, customers), async (batch) => {
            const { credential: c, ecr } = await mintEcrSession({ ...base, customerId: batch[0], customerIds: batch, pushRoleArn: o.mint.pushRoleArn ?? defaultPushRoleArn(s), ...o.ecr });
            return { registry, credential: { username: c.username, password: c.password }, customers: batch, tagLookup: (repository: string) => ecrTagDigests(ecr, repository) };
          });
        }
        default:
          return each(
            customers.map((customer) => [customer]),
            async ([customer]) => {
              const c = await mintFor(customer, kind, { ...o.mint, settings: s, roster: o.roster, today: asOf, ghcrToken: o.ghcrToken?.(customer) });
              return { registry: c.registry, credential: { username: c.username, password: c.password }, customers: [customer] };
            },
          );
      }
    },
  };
}

/** One credential per batch of customers; a batch that cannot have one fails alone, with its reason. */
async function each(batches: string[][], get: (batch: string[]) => Promise<CredentialGroup>): Promise<(CredentialGroup | CredentialFailure)[]> {
  const settled = await Promise.allSettled(batches.map(get));
  return settled.map((r, i) => (r.status === "fulfilled" ? r.value : { customers: batches[i], reason: r.reason instanceof Error ? r.reason.message : String(r.reason) }));
}
