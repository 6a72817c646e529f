import { need, type KindFacts, type Quota, type ResourceFacts } from "../types";

export interface AcrNames {
  /** ACR repository path prefix inside the shared registry, e.g. `intake/acme/`. */
  acrRepositoryPrefix: string;
  /** ACR scope-map name and token name. */
  acrScopeMapName: string;
  acrTokenName: string;
}

/** Published limits of ACR per registry SKU: tokens, and scope maps, each. */
const ACR_LIMITS = { tokensAndScopeMaps: { Basic: 100, Standard: 500, Premium: 50_000 } } as const;

const SCOPE_MAP = "azure-native:containerregistry:ScopeMap";
const TOKEN = "azure-native:containerregistry:Token";
const REGISTRY_ARGS = ["registryName", "resourceGroupName"];

const RESOURCES: ResourceFacts[] = [
  {
    type: SCOPE_MAP,
    of: "customer",
    display: (i) => String(i.scopeMapName),
    credential: true,
    grant: "repository-actions",
    replaceOn: ["scopeMapName", ...REGISTRY_ARGS],
  },
  {
    type: TOKEN,
    of: "customer",
    display: (i) => `${i.tokenName} (${i.status})`,
    credential: true,
    disabled: (p) => p.status === "disabled",
    secrets: ["credentials"],
    grant: "scope-map-binding",
    replaceOn: ["tokenName", ...REGISTRY_ARGS],
  },
  {
    type: "azure-native:containerregistry:Registry",
    of: "platform",
    display: (i) => `${i.registryName} (${(i.sku as { name?: string } | undefined)?.name ?? "?"})`,
    kept: "acr",
    retention: ({ kept, unknown }) => (kept || unknown ? undefined : "holds every customer's ACR images and is not retainOnDelete or protected"),
    cleanup: {
      has: (i) =>
        (i.sku as { name?: string } | undefined)?.name !== "Premium" ||
        (i.policies as { retentionPolicy?: { status?: string } } | undefined)?.retentionPolicy?.status === "enabled",
      missing: "Premium registry without a retention policy for untagged manifests",
    },
  },
  { type: "azure-native:containerregistry:Replication", of: "platform", display: (i) => `${i.registryName}/${i.replicationName}` },
];

/** Tokens and scope maps, one each per customer, against the registry's SKU. */
const perRegistry = (type: string, what: string): Quota => ({
  type,
  per: () => 1,
  limit: (s) => {
    if (!s.acr) return undefined;
    const next = s.acr.sku === "Basic" ? "Standard" : "Premium";
    const advice = s.acr.sku === "Premium" ? "split customers across registries" : `move the registry to ${next} first`;
    return { what: `ACR ${s.acr.registryName} (${s.acr.sku}) ${what}`, limit: ACR_LIMITS.tokensAndScopeMaps[s.acr.sku], advice };
  },
});

const ACR_NAME = /^[a-zA-Z0-9-]{5,50}$/;

/** Azure ACR: `<prefix>/<id>/*` in the one shared registry, a scope map and token per customer. */
export const acr: KindFacts<AcrNames> = {
  kind: "acr",
  names: (id, p) => ({ acrRepositoryPrefix: `${p}/${id}/`, acrScopeMapName: `${p}-${id}-scope`, acrTokenName: `${p}-${id}` }),
  nameRules: [
    { provider: "ACR scope map", name: (n) => n.acrScopeMapName, test: (v) => ACR_NAME.test(v), rule: "ACR scope-map names are 5-50 chars of [A-Za-z0-9-]" },
    { provider: "ACR token", name: (n) => n.acrTokenName, test: (v) => ACR_NAME.test(v), rule: "ACR token names are 5-50 chars of [A-Za-z0-9-]" },
  ],
  host: (s) => `${need(s.acr, "acr").registryName.toLowerCase()}.azurecr.io`,
  path: (n) => n.acrRepositoryPrefix,
  resources: RESOURCES,
  quotas: [perRegistry(TOKEN, "tokens"), perRegistry(SCOPE_MAP, "scope maps")],
  providerSecrets: ["azure-native:clientSecret", "azure-native:clientCertificatePassword"],
  deletes: (c) =>
    c.acr?.allowDelete
      ? { may: true, why: "the scope map grants content/delete (roster acr.allowDelete)" }
      : { may: false, why: "the scope map grants no content/delete (roster acr.allowDelete is off)" },
  owners: [
    { type: SCOPE_MAP, input: "scopeMapName", pattern: (p) => `^${p}-(.+)-scope$` },
    { type: TOKEN, input: "tokenName", pattern: (p) => `^${p}-(.+)$` },
  ],
  noCredentials: {
    is: (e) => e.name === "CredentialUnavailableError" || e.name === "AggregateAuthenticationError",
    fix: "acr: no Azure credentials found: set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET, or run `az login`, or run where a managed identity is attached",
  },
};
