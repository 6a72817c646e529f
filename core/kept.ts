import { z } from "zod";

/**
 * Kept resources: what the program leaves in the cloud when it leaves the program
 * (`retainOnDelete`, or a GitHub repository archived on delete), keyed `<kind>:<cloud id>`. When one comes back (a tier
 * downgrade then upgrade, a repository name removed then re-added, a customer removed then
 * re-added), creating it again would fail with AlreadyExists: the program adopts it instead, with
 * the `import` resource option and the id it had.
 *
 * The stack remembers what it kept in its own `kept` output, the kept list (every kept resource
 * it has declared, ever), read back at the next update through a StackReference to itself. The
 * `kept.adopt` setting adds resources kept before the kept list existed or by another stack;
 * `kept.forget` drops those deleted by hand since (an import of a missing resource fails).
 *
 * Which resource types are kept, and under which prefix, each kind's descriptor says (`kept`,
 * kinds/<kind>/kind.ts).
 */
const KEPT_PREFIXES = ["ecr", "gar", "github", "acr", "pvc"] as const;

export type KeptKind = (typeof KEPT_PREFIXES)[number];

/** The stack output holding the kept list. */
export const KEPT_OUTPUT = "kept";

/** Its name until the project spoke of kept resources alone: read from a stack last updated before. */
export const FORMER_KEPT_OUTPUT = "retained";

/**
 * `ecr:intake/acme/app`, `gar:projects/p/locations/l/repositories/r`, `github:intake-acme`,
 * `acr:/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r`,
 * `pvc:registry-intake/intake-registry-data` (the Distribution registry's claim: namespace/name).
 */
const KEY = new RegExp(`^(${KEPT_PREFIXES.join("|")}):(\\S+)$`);

export const keptKey = (kind: KeptKind, id: string) => `${kind}:${id}`;

export function isKeptKey(v: unknown): v is string {
  return typeof v === "string" && KEY.test(v);
}

/** The `kept` stack output. */
export interface KeptList {
  /** Kept resources this stack declared in its last update (they are in its state). */
  declared: string[];
  /** Kept resources no longer declared: in the cloud, not in the stack's state. */
  kept: string[];
}

const keptListSchema = z.strictObject({
  declared: z.array(z.string().refine(isKeptKey)).default([]),
  kept: z.array(z.string().refine(isKeptKey)).default([]),
});

/** A `kept` output read back: the kept list, or undefined when it is absent or not one. */
export function parseKeptList(value: unknown): KeptList | undefined {
  const r = keptListSchema.safeParse(value);
  return r.success ? r.data : undefined;
}
