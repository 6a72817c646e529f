/** Every Kubernetes object: another name or namespace is another object. */
const K8S_META = ["metadata.name", "metadata.namespace"];

/**
 * Inputs whose change makes the provider replace the resource (create-only fields), per type;
 * a dotted path names a field inside an input. Shared by the offline plan (planning/diff.ts) and
 * the local provider plugins (providers/). Kubernetes: the real provider's own list for the kinds
 * the program declares (pulumi-kubernetes provider/pkg/provider/diff.go, v4.25), with the
 * project's kubernetes:enableSecretMutable and enableConfigMapMutable (Pulumi.yaml): a Secret's or
 * ConfigMap's data changes in place.
 */
export const REPLACE_ON: Record<string, string[]> = {
  "aws:ecr/repository:Repository": ["name", "encryptionConfigurations"],
  "aws:iam/accessKey:AccessKey": ["user", "pgpKey"],
  "aws:iam/userPolicy:UserPolicy": ["user", "name"],
  "azure-native:containerregistry:Token": ["tokenName", "registryName", "resourceGroupName"],
  "azure-native:containerregistry:ScopeMap": ["scopeMapName", "registryName", "resourceGroupName"],
  "gcp:artifactregistry/repository:Repository": ["repositoryId", "location", "format", "project"],
  "gcp:serviceaccount/account:Account": ["accountId", "project"],
  "gcp:serviceaccount/key:Key": ["serviceAccountId"],
  "random:index/randomPassword:RandomPassword": ["length", "special", "keepers", "minLower", "minUpper", "minNumeric"],
  "github:index/teamMembership:TeamMembership": ["teamId", "username"],
  "kubernetes:core/v1:Secret": [...K8S_META, "type"],
  "kubernetes:core/v1:ConfigMap": K8S_META,
  "kubernetes:core/v1:ServiceAccount": K8S_META,
  "kubernetes:core/v1:Service": [...K8S_META, "spec.clusterIP"],
  "kubernetes:core/v1:PersistentVolumeClaim": [...K8S_META, "spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"],
  "kubernetes:apps/v1:Deployment": [...K8S_META, "spec.selector"],
  "kubernetes:batch/v1:CronJob": K8S_META,
  "kubernetes:rbac.authorization.k8s.io/v1:Role": K8S_META,
  "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": [...K8S_META, "roleRef"],
};

/** The value at a dotted path of an object (undefined where a step is missing). */
function at(value: unknown, dotted: string): unknown {
  let v = value;
  for (const step of dotted.split(".")) v = v && typeof v === "object" ? (v as Record<string, unknown>)[step] : undefined;
  return v;
}

/**
 * The replace-on fields of `type` whose values differ between the old and new inputs, leaving out
 * those under an ignored input; any Kubernetes type (a custom resource too) is replaced when its
 * name or namespace changes.
 */
export function replacedBy(type: string, olds: Record<string, unknown>, news: Record<string, unknown>, ignoreChanges: string[] = []): string[] {
  const fields = REPLACE_ON[type] ?? (type.startsWith("kubernetes:") ? K8S_META : []);
  return fields.filter((f) => !ignoreChanges.includes(f.split(".")[0]) && JSON.stringify(at(olds, f)) !== JSON.stringify(at(news, f)));
}
