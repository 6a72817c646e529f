import { awsPartition } from "../core/iam";
import type { KeptList } from "../core/kept";
import type { Settings } from "../core/settings";
import type { MockRunOptions } from "./engine";

export const PROJECT = "registry-intake";

/** How the mock engine runs the program for a plan: the stack's names, and what the fake cloud needs to answer believably. */
export function mockOptions(settings: Settings, keptList: Partial<KeptList>): MockRunOptions {
  return {
    project: PROJECT,
    stack: settings.stack,
    cloud: {
      accountId: settings.aws?.accountId ?? "000000000000",
      region: settings.aws?.region ?? "us-east-1",
      githubOwner: settings.ghcr?.owner,
      existing: new Set(keptList.declared ?? []),
      platformOutputs: platformOutputsFor(settings),
    },
  };
}

/** What the platform stack would export, for a shard stack's offline plan. */
function platformOutputsFor(s: Settings): Record<string, unknown> {
  const region = s.aws?.region ?? "us-east-1";
  const account = s.aws?.accountId ?? "000000000000";
  return {
    ...(s.ecr.kms ? { ecrKmsKeyArn: `arn:${awsPartition(region).partition}:kms:${region}:${account}:key/00000000-0000-4000-a000-platform0key` } : {}),
    ...(s.acr ? { acrRegistryName: s.acr.registryName } : {}),
    ...(s.distribution ? { distributionDeliveryPassword: "[secret from the platform stack]" } : {}),
  };
}
