import { need, type KindFacts } from "../types";

export interface AcrNames {
  /** ACR repository path prefix inside the shared registry, e.g. `intake/acme/`. */
  acrRepositoryPrefix: string;
  /** ACR scope-map name and token name. */
  acrScopeMapName: string;
  acrTokenName: string;
}

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
  types: /^azure-native:containerregistry:(ScopeMap|Token)$/,
  deletes: (c) => (c.acr?.allowDelete ? { may: true, why: "the scope map grants content/delete (roster acr.allowDelete)" } : { may: false, why: "the scope map grants no content/delete (roster acr.allowDelete is off)" }),
  owners: [
    { type: "azure-native:containerregistry:ScopeMap", input: "scopeMapName", pattern: (p) => `^${p}-(.+)-scope$` },
    { type: "azure-native:containerregistry:Token", input: "tokenName", pattern: (p) => `^${p}-(.+)$` },
  ],
  noCredentials: {
    is: (e) => e.name === "CredentialUnavailableError" || e.name === "AggregateAuthenticationError",
    fix: "acr: no Azure credentials found: set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET, or run `az login`, or run where a managed identity is attached",
  },
};
