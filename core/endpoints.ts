import { namesFor } from "./naming";
import type { RegistryKind } from "./tiers";
import type { Settings } from "./settings";
import { awsPartition } from "./iam";

/**
 * Where each kind's registry is and where a customer's images go on it. One place, used by
 * the program's outputs, the pull secrets and the runtime.
 */
export function registryHost(kind: RegistryKind, s: Settings): string {
  switch (kind) {
    case "ecr":
      return `${need(s.aws, "aws").accountId}.dkr.ecr.${s.aws!.region}.${awsPartition(s.aws!.region).dnsSuffix}`;
    case "acr":
      return `${need(s.acr, "acr").registryName.toLowerCase()}.azurecr.io`;
    case "gar":
      return `${need(s.gar, "gar").location}-docker.pkg.dev`;
    case "ghcr":
      return "ghcr.io";
    case "distribution":
      return need(s.distribution, "distribution").host;
  }
}

/** `host/path/` under which all of a customer's repositories on `kind` live. */
export function customerNamespace(kind: RegistryKind, id: string, s: Settings): string {
  const n = namesFor(id, { repoPrefix: s.repoPrefix });
  const host = registryHost(kind, s);
  switch (kind) {
    case "ecr":
      return `${host}/${n.ecrRepositoryPrefix}`;
    case "acr":
      return `${host}/${n.acrRepositoryPrefix}`;
    case "gar":
      return `${host}/${s.gar!.project}/${n.garRepositoryId}/`;
    case "ghcr":
      return `${host}/${s.ghcr!.owner.toLowerCase()}/${n.githubRepository}/`;
    case "distribution":
      return `${host}/${n.distributionPathPrefix}`;
  }
}

function need<T>(v: T | undefined, key: string): T {
  if (!v) throw new Error(`settings.${key} is required for this registry kind`);
  return v;
}
