/**
 * Inputs whose change makes the provider replace the resource (create-only fields), per type.
 * Shared by the offline plan (planning/diff.ts) and the local provider plugins (providers/).
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
};
