import type { KeptKind } from "../core/kept";
import type { Settings } from "../core/settings";
import type { RegistryKind } from "../core/tiers";
import { acr, type AcrNames } from "./acr/kind";
import { distribution, type DistributionNames } from "./distribution/kind";
import { ecr, type EcrNames } from "./ecr/kind";
import { gar, type GarNames } from "./gar/kind";
import { ghcr, type GhcrNames } from "./ghcr/kind";
import type { KindFacts, ResourceFacts } from "./types";

/**
 * The registry kinds, each described once in kinds/<kind>/kind.ts. Nothing else branches on the
 * kind: names, hosts, namespaces and name parsing are asked of these; the customer components
 * (kinds/components.ts) and the minting (runtime/mint) are tables over the same keys, so the
 * compiler names every place a new kind must fill. Order: the order name rules are reported in.
 */
export const KINDS: Readonly<Record<RegistryKind, KindFacts<object>>> = { ecr, acr, gar, ghcr, distribution };
const ORDERED = Object.values(KINDS);

/** Every name a customer id turns into, on every kind. */
export type CustomerNames = EcrNames & AcrNames & GarNames & GhcrNames & DistributionNames;

export function kindNames(id: string, repoPrefix: string): CustomerNames {
  return Object.assign({}, ...ORDERED.map((k) => k.names(id, repoPrefix))) as CustomerNames;
}

/** Every provider rule the names of `id` break, as human sentences (the id rule itself is checked by the caller). */
export function kindNameProblems(id: string, repoPrefix: string): string[] {
  const problems: string[] = [];
  for (const k of ORDERED) {
    const names = k.names(id, repoPrefix);
    for (const r of k.nameRules) {
      const value = r.name(names);
      if (!r.test(value)) problems.push(`gives ${r.provider} name "${value}", which breaks the rule: ${r.rule}`);
    }
  }
  return problems;
}

/** Where a kind's registry is. One place, used by the program's outputs, the pull secrets and the runtime. */
export function registryHost(kind: RegistryKind, s: Settings): string {
  return KINDS[kind].host(s);
}

/** `host/path/` under which all of a customer's repositories on `kind` live. */
export function customerNamespace(kind: RegistryKind, id: string, s: Settings, product?: string): string {
  const k = KINDS[kind];
  const n = k.names(id, s.repoPrefix);
  if (product === undefined) return `${k.host(s)}/${k.path(n, s)}`;
  return `${k.host(s)}/${k.productPath ? k.productPath(n, s, product) : `${k.path(n, s)}${product}/`}`;
}

const FACTS = new Map(ORDERED.flatMap((k) => k.resources.map((r) => [r.type, { kind: k.kind, facts: r }] as const)));

/** Every resource type some kind declares, with the kind that declares it. */
export const KIND_RESOURCES: readonly (ResourceFacts & { kind: RegistryKind })[] = ORDERED.flatMap((k) => k.resources.map((r) => ({ ...r, kind: k.kind })));

/** What the kind that declares `type` says of it; undefined for a type no kind declares. */
export function resourceFacts(type: string): ResourceFacts | undefined {
  return FACTS.get(type)?.facts;
}

/** The kept list's prefix for a type left in the cloud when it leaves the program (core/kept.ts); undefined for others. */
export function keptAs(type: string): KeptKind | undefined {
  return FACTS.get(type)?.facts.kept;
}

/** Which registry kind a customer's resource type belongs to; undefined for platform types. */
export function kindOfType(type: string): RegistryKind | undefined {
  const f = FACTS.get(type);
  return f?.facts.of === "customer" ? f.kind : undefined;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const OWNERS = new Map(ORDERED.flatMap((k) => k.owners.map((o) => [o.type, o] as const)));
const patterns = new Map<string, RegExp>();

/** The customer a resource's name says it belongs to, per its kind's naming (undefined where its name says nothing). */
export function customerFromName(type: string, inputs: Record<string, unknown>, repoPrefix: string): string | undefined {
  const o = OWNERS.get(type);
  const value = o && inputs[o.input];
  if (!o || typeof value !== "string") return undefined;
  const source = o.pattern(escape(repoPrefix));
  let re = patterns.get(source);
  if (!re) patterns.set(source, (re = new RegExp(source)));
  return re.exec(value)?.[1];
}
