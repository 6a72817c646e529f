import * as containerregistry from "@pulumi/azure-native/containerregistry";
import type * as pulumi from "@pulumi/pulumi";
import type { Settings } from "../../core/settings";
import type { KeptResources } from "../../components/kept";

/** The ACR part of the platform: the one shared registry every customer's scope map and token live in, and its replicas. */
export function acrPlatform(
  name: string,
  a: NonNullable<Settings["acr"]>,
  tags: Record<string, string>,
  parent: pulumi.Resource,
  keptList?: KeptResources,
): { registryName: pulumi.Output<string>; loginServer: pulumi.Output<string> } {
  // Its id holds the subscription, which the program does not know: a kept one is found by the
  // rest of its id (ARM ids are case-insensitive).
  const tail = `/resourcegroups/${a.resourceGroupName}/providers/microsoft.containerregistry/registries/${a.registryName}`.toLowerCase();
  const registry = new containerregistry.Registry(
    `${name}-acr`,
    {
      resourceGroupName: a.resourceGroupName,
      registryName: a.registryName,
      location: a.location,
      sku: { name: a.sku },
      adminUserEnabled: false,
      anonymousPullEnabled: false,
      policies: a.untaggedRetentionDays === null ? undefined : { retentionPolicy: { status: "enabled", days: a.untaggedRetentionDays } },
      tags,
    },
    // Every customer's images live in this one registry.
    { parent, retainOnDelete: true, ...keptList?.adoptionWhere("acr", (id) => id.toLowerCase().endsWith(tail)) },
  );
  keptList?.trackById("acr", registry);
  for (const location of a.replicaLocations) {
    new containerregistry.Replication(
      `${name}-acr-replica-${location}`,
      { resourceGroupName: a.resourceGroupName, registryName: registry.name, replicationName: location, location, tags },
      { parent },
    );
  }
  return { registryName: registry.name, loginServer: registry.loginServer };
}
