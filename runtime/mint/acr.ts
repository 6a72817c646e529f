import type { ContainerRegistryManagementClient } from "@azure/arm-containerregistry";
import { namesFor } from "../../core/naming";
import { TOKEN_SECONDS, type MintedCredential } from "./types";

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
