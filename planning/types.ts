// The shapes of a plan, shared by the planner (plan.ts), its worker split (parallel.ts) and the warnings.
import type { RegistryKind, Tier } from "../core/tiers";
import type { RotatedKind } from "../core/rotation";
import type { EffectiveStatus } from "../customers/status";
import type { Violation } from "../policy/evaluate";
import type { RecordedResource } from "./engine";

export interface PlannedCustomer {
  id: string;
  name: string;
  tier: Tier;
  status: EffectiveStatus;
  /** Why the status is what it is (e.g. "license expired on 2026-01-31"). */
  reason: string;
  /** Kinds declared for the customer. */
  registries: RegistryKind[];
  /** Long-lived credentials past their first generation (roster `credentials`): what rotates, and when the previous one goes. */
  rotations?: { kind: RotatedKind; generation: number; previous?: number; previousUntil?: string }[];
}

export interface PlannedResource {
  urn: string;
  type: string;
  name: string;
  parent: string | null;
  /** The customer that owns it, or null for platform resources. */
  customer: string | null;
  custom: boolean;
  retainOnDelete: boolean;
  /** Inputs whose changes the engine ignores for it (ignoreChanges), if any. */
  ignoreChanges?: string[];
  /** The cloud id it is adopted under (kept in the cloud by an earlier update), if adopted. */
  adopted?: string;
  /** Inputs with every secret replaced by "[secret]". */
  inputs: Record<string, unknown>;
}

export interface PlanResult {
  stack: string;
  asOf: string;
  roster: string;
  customers: PlannedCustomer[];
  resources: PlannedResource[];
  violations: Violation[];
  /** Limits the roster is about to reach, and roster/settings mismatches. */
  warnings: string[];
}

/** What a plan's program declared: every registration, and the customers it declared. */
export interface Declared {
  recorded: RecordedResource[];
  customers: DeclaredCustomer[];
}

interface DeclaredCustomer {
  customerId: string;
  state: { status: EffectiveStatus; reason: string };
  kinds: RegistryKind[];
}

export interface PlanOptions {
  /**
   * Plan in this many worker processes at once, each a slice of the customers under its own
   * mock engine (planning/parallel.ts); 1 plans in this process. Only the real program is split,
   * and only a roster over one slice.
   */
  workers?: number;
  /** Most customers one worker process plans (its memory grows with them). */
  sliceSize?: number;
  /** The stack's config, as the engine hands it to the program: each worker sets it too. */
  config?: { values: Record<string, string>; secretKeys: string[] };
  /** Called as slices finish: customers planned so far, of all. */
  onProgress?: (done: number, total: number) => void;
}
