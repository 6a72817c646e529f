import { checkAccess } from "../../core/access";
import type { RegistryKind } from "../../core/tiers";
import { customerNamespace, registryHost } from "../../kinds";
import { distributionDelivery } from "../../kinds/distribution/mint";
import { ecrDelivery } from "../../kinds/ecr/mint";
import { ghcrTokenVariable } from "../../kinds/ghcr/mint";
import { mintFor } from "../mint/index";
import type { CredentialFailure, CredentialGroup, DeliveryRequest } from "./types";
import { each, type SharedDelivery, type StackDeliveryOptions } from "./shared";

export type { StackDeliveryOptions } from "./shared";

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
export function stackDelivery(o: StackDeliveryOptions): Pick<DeliveryRequest, "access" | "namespace" | "credentials" | "immutableTags"> {
  const s = o.settings;
  const asOf = o.today ?? new Date().toISOString().slice(0, 10);
  return {
    access: (customer, kind) => {
      const d = checkAccess(o.roster, customer, kind, { tierTable: s.tierTable, asOf, enabledKinds: s.enabledKinds });
      return d.allowed ? { allowed: true } : { allowed: false, reason: d.reason };
    },
    namespace: (customer, kind) => customerNamespace(kind, customer, s, o.product),
    // Artifact Registry's immutable tags have no exceptions; ECR's immutable repositories let
    // latest and cosign's tags move (kinds/ecr/kind.ts ECR_MUTABLE_TAGS).
    immutableTags: (kind) => kind === "gar" && s.gar?.immutableTags === true,
    credentials: async (kind: RegistryKind, customers: string[]): Promise<(CredentialGroup | CredentialFailure)[]> => {
      const shared = SHARED_DELIVERY[kind];
      if (shared) return shared(customers, { ...o, registry: registryHost(kind, s) });
      return each(
        customers.map((customer) => [customer]),
        async ([customer]) => {
          const c = await mintFor(customer, kind, { ...o.mint, settings: s, roster: o.roster, today: asOf, ghcrToken: o.ghcrToken?.(customer) });
          // A GHCR machine user's PAT is the user's own, from the environment.
          const given = kind === "ghcr" ? ghcrTokenVariable(customer) : undefined;
          return { registry: c.registry, credential: { username: c.username, password: c.password }, customers: [customer], given };
        },
      );
    },
  };
}

/**
 * Kinds whose one credential reaches many customers, so blobs mount between them (each kind's in
 * kinds/<kind>/mint.ts); every other kind is one minted credential per customer.
 */
const SHARED_DELIVERY: Partial<Record<RegistryKind, SharedDelivery>> = { distribution: distributionDelivery, ecr: ecrDelivery };
