import { uuid, type FakeCloudContext, type KindFake } from "../fake";

function azureId(c: FakeCloudContext, rg: unknown, path: string): string {
  return `/subscriptions/${uuid(c.accountId)}/resourceGroups/${rg}/providers/Microsoft.ContainerRegistry/${path}`;
}

/** ACR as Azure answers: resource ids under the registry's resource group. */
export const acrFake: KindFake = {
  makers: {
    "azure-native:containerregistry:Registry": (_n, i, c) => {
      const name = String(i.registryName);
      return {
        id: azureId(c, i.resourceGroupName, `registries/${name}`),
        state: { ...i, name, loginServer: `${name.toLowerCase()}.azurecr.io`, provisioningState: "Succeeded" },
      };
    },
    "azure-native:containerregistry:Replication": (_n, i, c) => ({
      id: azureId(c, i.resourceGroupName, `registries/${i.registryName}/replications/${i.replicationName}`),
      state: { ...i, name: i.replicationName, provisioningState: "Succeeded" },
    }),
    "azure-native:containerregistry:ScopeMap": (_n, i, c) => ({
      id: azureId(c, i.resourceGroupName, `registries/${i.registryName}/scopeMaps/${i.scopeMapName}`),
      state: { ...i, name: i.scopeMapName, type: "UserDefined", provisioningState: "Succeeded" },
    }),
    "azure-native:containerregistry:Token": (_n, i, c) => ({
      id: azureId(c, i.resourceGroupName, `registries/${i.registryName}/tokens/${i.tokenName}`),
      state: { ...i, name: i.tokenName, provisioningState: "Succeeded" },
    }),
  },
};
