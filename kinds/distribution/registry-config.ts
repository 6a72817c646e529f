import { stringify } from "yaml";
import type { Settings } from "../../core/settings";

/** Where a registry listens, keeps its data and finds the broker's certificate. */
export interface RegistryPlace {
  addr: string;
  rootdirectory: string;
  rootcertbundle: string;
}

/**
 * A CNCF Distribution registry's config.yml: token auth pointing at the broker (`realm`, `service`,
 * `issuer` of the stack's settings), trusting the broker's certificate. One text for the registry
 * on Kubernetes (components) and the local one `intake local-registry` writes.
 */
export function registryConfig(s: NonNullable<Settings["distribution"]>, at: RegistryPlace): string {
  return stringify({
    version: 0.1,
    log: { level: "info", formatter: "json" },
    storage: { filesystem: { rootdirectory: at.rootdirectory }, delete: { enabled: true } },
    http: { addr: at.addr, headers: { "X-Content-Type-Options": ["nosniff"] } },
    auth: {
      token: { realm: s.realm, service: s.service, issuer: s.issuer, rootcertbundle: at.rootcertbundle },
    },
    health: { storagedriver: { enabled: true, interval: "10s", threshold: 3 } },
  });
}
