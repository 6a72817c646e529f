// Generated rosters for the benchmarks, validated by the same loader as customers/roster.yaml.
//   npx tsx testing/roster-gen.ts N > roster.yaml   writes one (e.g. for `intake plan --roster`)
import { stringify } from "yaml";
import { parseRoster, type Roster, type RosterOptions } from "../customers/roster";
import { TIERS, type Status } from "../core/tiers";

/** The date the generated licenses are read against (pass it as `today` to the settings). */
export const BENCH_TODAY = new Date("2026-11-22");

/** One generated customer, as it is written in roster YAML. */
interface GeneratedEntry {
  id: string;
  name: string;
  tier: (typeof TIERS)[number];
  license: { expires: string };
  status: Status;
  ecr?: { repositories: string[] };
  github: { members: string[] };
}

/**
 * `n` customers, deterministic: tiers rotate enterprise / professional / standard; one in 20
 * suspended, one in 50 offboarded, one in 25 of the rest with a lapsed license (so suspended
 * by date); one in 10 with an extra ECR repository; one or (one in 4) two GitHub members each.
 * Ids are `cust-00001`…: within the id rule and the GCP service-account length for any n < 10^6.
 */
export function rosterEntries(n: number): GeneratedEntry[] {
  return Array.from({ length: n }, (_, i): GeneratedEntry => {
    const id = `cust-${String(i + 1).padStart(5, "0")}`;
    const status: Status = i % 50 === 49 ? "offboarded" : i % 20 === 19 ? "suspended" : "active";
    const lapsed = status === "active" && i % 25 === 12;
    return {
      id,
      name: `Customer ${i + 1}`,
      tier: TIERS[i % TIERS.length],
      license: { expires: lapsed ? "2026-06-30" : "2027-12-31" },
      status,
      ...(i % 10 === 0 ? { ecr: { repositories: ["worker"] } } : {}),
      github: { members: i % 4 === 0 ? [`${id}-dev`, `${id}-ops`] : [`${id}-dev`] },
    };
  });
}

export function rosterYaml(n: number): string {
  return stringify({ customers: rosterEntries(n) });
}

/** A generated roster of `n` customers, parsed and validated by `parseRoster`. */
export function generateRoster(n: number, opts: RosterOptions = {}): Roster {
  return parseRoster(rosterYaml(n), `generated-${n}.yaml`, opts);
}

if (require.main === module) {
  const n = Number(process.argv[2]);
  if (!Number.isInteger(n) || n < 1) {
    process.stderr.write("usage: tsx testing/roster-gen.ts N\n");
    process.exit(2);
  }
  generateRoster(n); // refuse to print a roster the loader would reject
  process.stdout.write(rosterYaml(n));
}
