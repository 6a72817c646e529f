import { z } from "zod";

/**
 * Resources the program leaves in the cloud when they leave the program (`retainOnDelete`, or a
 * GitHub repository archived on delete), keyed `<kind>:<cloud id>`. When one comes back (a tier
 * downgrade then upgrade, a repository name removed then re-added, a customer removed then
 * re-added), creating it again would fail with AlreadyExists: the program adopts it instead, with
 * the `import` resource option and the id it had.
 *
 * The stack remembers what it kept in its own `retained` output (every kept resource it has
 * declared, ever), read back at the next update through a StackReference to itself. The
 * `retained.adopt` setting adds resources kept before the ledger existed or by another stack;
 * `retained.forget` drops those deleted by hand since (an import of a missing resource fails).
 *
 * Which resource types are kept, and under which prefix, each kind's descriptor says (`kept`,
 * kinds/<kind>/kind.ts).
 */
const LEDGER_PREFIXES = ["ecr", "gar", "github", "acr", "pvc"] as const;

export type KeptKind = (typeof LEDGER_PREFIXES)[number];

/** The stack output holding the ledger. */
export const LEDGER_OUTPUT = "retained";

/**
 * `ecr:intake/acme/app`, `gar:projects/p/locations/l/repositories/r`, `github:intake-acme`,
 * `acr:/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerRegistry/registries/r`,
 * `pvc:registry-intake/intake-registry-data` (the Distribution registry's claim: namespace/name).
 */
const KEY = new RegExp(`^(${LEDGER_PREFIXES.join("|")}):(\\S+)$`);

export const ledgerKey = (kind: KeptKind, id: string) => `${kind}:${id}`;

export function isLedgerKey(v: unknown): v is string {
  return typeof v === "string" && KEY.test(v);
}

/** The `retained` stack output. */
export interface Ledger {
  /** Kept resources this stack declared in its last update (they are in its state). */
  declared: string[];
  /** Kept resources no longer declared: in the cloud, not in the stack's state. */
  kept: string[];
}

const ledgerSchema = z.strictObject({
  declared: z.array(z.string().refine(isLedgerKey)).default([]),
  kept: z.array(z.string().refine(isLedgerKey)).default([]),
});

/** A `retained` output read back: the ledger, or undefined when it is absent or not one. */
export function parseLedger(value: unknown): Ledger | undefined {
  const r = ledgerSchema.safeParse(value);
  return r.success ? r.data : undefined;
}
