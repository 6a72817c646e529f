import * as pulumi from "@pulumi/pulumi";
import { type Settings } from "../core/settings";
import type { Customer, Roster } from "../customers/roster";
import { liveGenerations, ROTATED_KINDS } from "../core/rotation";
import type { RegistryKind } from "../core/tiers";
import { program } from "../program";
import type { KeptList } from "../core/kept";
import { runUnderMocks, type RecordedResource } from "./engine";
import { evaluate, policyContext, type PolicyConfig } from "../policy/evaluate";
import type { IntakeResource } from "../policy/model";
import { loadStackContext, type LoadStackOptions } from "../core/stack";
import { configWarnings, quotaWarnings } from "./warnings";
import { mockOptions } from "./mock-options";
import type { Declared, PlanOptions, PlannedCustomer, PlanResult } from "./types";

export { PROJECT } from "./mock-options";
const CUSTOMER_TYPE = "registry-intake:index:CustomerRegistries";

export type { PlanOptions, PlannedResource, PlanResult } from "./types";

/** Plan `program(settings, roster)` under the mock engine. */
export async function planProgram(
  settings: Settings,
  roster: Roster,
  policyConfig: PolicyConfig = {},
  /** The program to plan; the real one unless a test hands in an edited one. */
  run: typeof program = program,
  /** The stack's kept list (its `kept` output); none: nothing is adopted. */
  keptList: Partial<KeptList> = {},
  options: PlanOptions = {},
): Promise<PlanResult & { recorded: RecordedResource[] }> {
  const { inParts, declareInParts } = await import("./parallel.js");
  const declared =
    run === program && inParts(settings, roster, options)
      ? await declareInParts(settings, roster, keptList, options)
      : await declareWhole(settings, roster, keptList, run);
  return assemble(settings, roster, declared, policyConfig);
}

/** The mock engine's options for a stack: the fake cloud of its account, region and kept resources. */
/** The whole program in this process. */
async function declareWhole(settings: Settings, roster: Roster, keptList: Partial<KeptList>, run: typeof program): Promise<Declared> {
  const { result, resources } = await runUnderMocks(() => run(settings, roster, keptList), mockOptions(settings, keptList));
  return { recorded: resources, customers: result.customers.map(({ customerId, state, kinds }) => ({ customerId, state, kinds })) };
}

/**
 * The plan of what the program declared: resources with their owning customer, in one order
 * whatever the engine's timing (platform and stack-wide resources, then each customer's in roster
 * order; by URN within each), then warnings and the policy verdicts on all of it.
 */
function assemble(settings: Settings, roster: Roster, declared: Declared, policyConfig: PolicyConfig): PlanResult & { recorded: RecordedResource[] } {
  const all = declared.recorded;
  // Reads (the platform stack's outputs on a shard stack) are not this stack's resources.
  const byUrn = new Map(all.filter((r) => !r.read).map((r) => [r.urn, r]));
  const customerOf = ownerOf(byUrn);
  const byId = new Map(roster.customers.map((c) => [c.id, c]));
  const rank = new Map(roster.customers.map((c, i) => [c.id, i]));
  const rankOf = (r: RecordedResource) => {
    const c = customerOf(r);
    return c === null ? -1 : (rank.get(c) ?? roster.customers.length);
  };
  const resources = [...byUrn.values()].sort((a, b) => rankOf(a) - rankOf(b) || (a.urn < b.urn ? -1 : a.urn > b.urn ? 1 : 0));
  const plan: PlanResult & { recorded: RecordedResource[] } = {
    stack: settings.stack,
    asOf: settings.asOf,
    roster: roster.source,
    customers: declared.customers.map((c) => {
      const entry = byId.get(c.customerId)!;
      return {
        id: c.customerId,
        name: entry.name,
        tier: entry.tier,
        status: c.state.status,
        reason: c.state.reason,
        registries: c.kinds,
        ...rotationsOf(entry, c.kinds, settings.asOf),
      };
    }),
    warnings: [],
    resources: resources.map((r) => ({
      urn: r.urn,
      type: r.type,
      name: r.name,
      parent: r.parent ?? null,
      customer: customerOf(r),
      custom: r.custom,
      retainOnDelete: r.retainOnDelete,
      ...(r.ignoreChanges.length ? { ignoreChanges: r.ignoreChanges } : {}),
      ...(r.importId ? { adopted: r.importId } : {}),
      inputs: r.inputs,
    })),
    violations: [],
    recorded: all,
  };
  plan.warnings = [
    ...quotaWarnings(plan.resources, settings, roster.customers),
    ...configWarnings(
      roster.customers,
      settings,
      declared.customers.map((c) => byId.get(c.customerId)!),
    ),
  ];
  plan.violations = evaluate(fromRecorded(resources), policyContext(roster, settings), policyConfig);
  return plan;
}

/** The customer a registration belongs to (its CustomerRegistries ancestor), or null for the platform's. */
export function ownerOf(byUrn: ReadonlyMap<string, RecordedResource>): (r: RecordedResource) => string | null {
  const owner = new Map<string, string | null>();
  const customerOf = (r: RecordedResource): string | null => {
    if (owner.has(r.urn)) return owner.get(r.urn)!;
    const c = r.type === CUSTOMER_TYPE ? r.name : r.parent && byUrn.has(r.parent) ? customerOf(byUrn.get(r.parent)!) : null;
    owner.set(r.urn, c);
    return c;
  };
  return customerOf;
}

export interface PlanStackOptions extends LoadStackOptions {
  policyConfig?: PolicyConfig;
  /** The stack's kept list (`pulumi stack output kept`). */
  keptList?: Partial<KeptList>;
}

/** Read the stack file and roster the way `pulumi up` would, then plan offline. */
export async function planStack(opts: PlanStackOptions & Omit<PlanOptions, "config">) {
  const { settings, roster, stackConfig } = loadStackContext(opts);
  // The program reads its settings from `settings`; the SDK's config is set as `pulumi up` would.
  pulumi.runtime.setAllConfig(stackConfig.config, stackConfig.secretKeys);
  const config = { values: stackConfig.config, secretKeys: stackConfig.secretKeys };
  return {
    settings,
    roster,
    plan: await planProgram(settings, roster, opts.policyConfig, program, opts.keptList, {
      workers: opts.workers,
      sliceSize: opts.sliceSize,
      onProgress: opts.onProgress,
      config,
    }),
  };
}

/** Resources of the offline plan, as the policies see them. */
export function fromRecorded(recorded: RecordedResource[]): IntakeResource[] {
  return recorded
    .filter((r) => r.custom)
    .map((r) => ({
      urn: r.urn,
      type: r.type,
      name: r.name,
      parent: r.parent,
      props: { ...r.state, ...r.inputs, id: r.id },
      secretProps: new Set(r.secretInputs.map((p) => p.split(/[.[]/)[0])),
      retainOnDelete: r.retainOnDelete,
      protect: r.protect,
      additionalSecretOutputs: r.additionalSecretOutputs,
    }));
}

/** A customer's rotated credentials on the kinds it is declared with (none: no field, so plans of unrotated rosters stay as they were). */
function rotationsOf(c: Customer, kinds: RegistryKind[], asOf: string): Pick<PlannedCustomer, "rotations"> {
  const rotations = ROTATED_KINDS.filter((k) => kinds.includes(k) && c.credentials?.[k])
    .map((kind) => ({ kind, ...liveGenerations(c.credentials![kind], asOf) }))
    .map(({ kind, current, previous, previousUntil }) => ({ kind, generation: current, ...(previous !== undefined ? { previous, previousUntil } : {}) }));
  return rotations.length ? { rotations } : {};
}
