import type { ContainerRegistryManagementClient } from "@azure/arm-containerregistry";
import { namesFor } from "../../core/naming";
import { MissingCredential, TOKEN_SECONDS, type MintedCredential, type Minter } from "../../runtime/mint/types";

export interface AcrMintOptions {
  customerId: string;
  repoPrefix: string;
  subscriptionId: string;
  resourceGroupName: string;
  registryName: string;
  client: ContainerRegistryManagementClient;
  /** Regenerating a slot kills its previous password: long-lived callers and one-off mints use different slots. */
  slot?: "password1" | "password2";
  now?: Date;
}

/**
 * generateCredentials for the customer's token, password1 with a 1 h expiry. The password exists
 * only in this answer: it is never in Pulumi state. Minting again replaces password1.
 */
export async function mintAcr(o: AcrMintOptions): Promise<MintedCredential> {
  const n = namesFor(o.customerId, { repoPrefix: o.repoPrefix });
  const slot = o.slot ?? "password1";
  const tokenId = `/subscriptions/${o.subscriptionId}/resourceGroups/${o.resourceGroupName}/providers/Microsoft.ContainerRegistry/registries/${o.registryName}/tokens/${n.acrTokenName}`;
  const expiry = new Date((o.now ?? new Date()).getTime() + TOKEN_SECONDS * 1000);
  const r = await o.client.registries.beginGenerateCredentialsAndWait(o.resourceGroupName, o.registryName, { tokenId, expiry, name: slot });
  const password = r.passwords?.find((p) => p.name === slot)?.value;
  if (!r.username || !password) throw new Error(`generateCredentials for ${n.acrTokenName} returned no ${slot}`);
  const registry = `${o.registryName.toLowerCase()}.azurecr.io`;
  return {
    kind: "acr",
    registry,
    namespace: `${registry}/${n.acrRepositoryPrefix}`,
    username: r.username,
    password,
    expiresAt: expiry,
    scope: { token: tokenId, scopeMap: n.acrScopeMapName },
  };
}

/** A 1 h password of the customer's token, generated with the platform's Azure identity. */
export const mint: Minter = async (c, ctx) => {
  const s = ctx.settings;
  if (!ctx.azureSubscriptionId) throw new MissingCredential("acr: the registry's subscription is needed: pass --subscription ID or set AZURE_SUBSCRIPTION_ID");
  const [{ ContainerRegistryManagementClient }, { DefaultAzureCredential }] = await Promise.all([
    import("@azure/arm-containerregistry"),
    import("@azure/identity"),
  ]);
  const client = new ContainerRegistryManagementClient(new DefaultAzureCredential(), ctx.azureSubscriptionId);
  // The dynamic import gives the ESM build of the same class the CommonJS type names.
  return mintAcr({
    customerId: c.id,
    repoPrefix: s.repoPrefix,
    subscriptionId: ctx.azureSubscriptionId,
    resourceGroupName: s.acr!.resourceGroupName,
    registryName: s.acr!.registryName,
    client: client as never,
    slot: ctx.acrPasswordSlot ?? "password2",
  });
};
