import { describe, expect, it } from "vitest";
import { checkAccess } from "../../../core/access";
import { DEFAULT_TIER_TABLE, REGISTRY_KINDS, TIERS, tierAllows } from "../../../core/tiers";
import { customer, testRoster } from "../../../testing/helpers";

const ctx = { tierTable: DEFAULT_TIER_TABLE, asOf: "2026-11-22", enabledKinds: REGISTRY_KINDS };

describe("checkAccess", () => {
  const roster = testRoster([
    customer("acme", "enterprise"),
    customer("globex", "professional", { registries: ["ghcr", "ecr"] }),
    customer("initech", "standard"),
    customer("umbrella", "professional", { status: "suspended" }),
    customer("hooli", "enterprise", { license: { expires: "2026-11-21" } }),
    customer("soylent", "professional", { status: "offboarded" }),
  ]);

  it.each(TIERS.flatMap((t) => REGISTRY_KINDS.map((k) => [t, k] as const)))("tier %s, kind %s follows the tier table", (tier, kind) => {
    const id = { enterprise: "acme", professional: "globex", standard: "initech" }[tier];
    const d = checkAccess(roster, id, kind, ctx);
    const asked = roster.customers.find((c) => c.id === id)!.registries.includes(kind);
    expect(d.allowed).toBe(tierAllows(tier, kind) && asked);
  });

  it("denials say what to change", () => {
    const reason = (id: string, kind: (typeof REGISTRY_KINDS)[number], c: Parameters<typeof checkAccess>[3] = ctx) => {
      const d = checkAccess(roster, id, kind, c);
      return d.allowed ? "allowed" : d.reason;
    };
    expect(reason("initech", "ecr")).toBe("customer initech is on tier standard, which allows ghcr, not ecr: tier enterprise includes it");
    expect(reason("globex", "acr")).toBe("customer globex did not ask for acr (registries: ghcr, ecr): add it to its registries in roster.yaml");
    expect(reason("umbrella", "ecr")).toBe("customer umbrella is suspended: set its status to active in roster.yaml to restore access");
    expect(reason("hooli", "ecr")).toBe("the license of customer hooli expired on 2026-11-21: renew it (license.expires in roster.yaml) to restore access");
    expect(reason("soylent", "ecr")).toBe("customer soylent is offboarded: its credentials were deleted");
    expect(reason("nobody", "ecr")).toBe('no customer "nobody" in roster.yaml');
    expect(reason("acme", "gar", { ...ctx, enabledKinds: ["ecr"] as const })).toBe("gar is not enabled on this stack (enabledKinds)");
    expect(reason("hooli", "ecr", { ...ctx, asOf: "2026-11-21" })).toBe("allowed"); // valid through its last day
  });
});
