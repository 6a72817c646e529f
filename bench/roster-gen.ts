import { stringify } from "yaml";
import { parseRoster, type Roster } from "../customers/roster";
import type { Settings } from "../components/settings";

const TIERS = ["enterprise", "professional", "standard"] as const;

/**
 * A roster of `n` customers with mixed tiers (one in three each), mostly active, one in 20
 * suspended, one in 50 offboarded, one in 10 with an extra ECR repository. Validated by the
 * same loader as the real roster.
 */
export function generateRoster(n: number, settings: Settings): Roster {
  const customers = Array.from({ length: n }, (_, i) => ({
    id: `cust-${String(i).padStart(6, "0")}`,
    name: `Customer ${i}`,
    tier: TIERS[i % 3],
    license: { expires: "2027-12-31" },
    status: i % 50 === 49 ? "offboarded" : i % 20 === 19 ? "suspended" : "active",
    ...(i % 10 === 0 ? { ecr: { repositories: ["worker"] } } : {}),
  }));
  return parseRoster(stringify({ customers }), `generated-${n}.yaml`, { tierTable: settings.tierTable, prefix: { repoPrefix: settings.repoPrefix } });
}
