import type { Settings } from "../core/settings";
import type { RegistryKind } from "../core/tiers";
import type { Customer } from "../customers/types";

/** A provider's rule for one name a customer id turns into. */
export interface NameRule<N> {
  provider: string;
  name(n: N): string;
  test(value: string): boolean;
  rule: string;
}

/** How the customer a resource belongs to is read from its name: one input, one pattern with the id as its group. */
export interface OwnerRule {
  type: string;
  input: string;
  /** A regular expression's source for a repository prefix `p` (escaped). */
  pattern: (p: string) => string;
}

/**
 * Everything about one registry kind that needs no Pulumi SDK and no cloud SDK: the names a
 * customer id turns into and the rules they must follow, where the registry is and where a
 * customer's images go, how a declared resource names its customer, and what a missing cloud
 * credential looks like. The program, the policy pack, the runtime and the offline plan all ask
 * here; the kind's component (`component.ts`) and minting (`mint.ts`) sit beside it.
 */
export interface KindFacts<N extends object> {
  kind: RegistryKind;
  /** Every name of this kind for customer `id` under the repository prefix `p`. */
  names(id: string, p: string): N;
  nameRules: NameRule<N>[];
  /** The registry's host, from the stack's settings (refused when the kind's settings are missing). */
  host(s: Settings): string;
  /** The path on the host under which all of one customer's repositories live, ending in `/`. */
  path(n: N, s: Settings): string;
  /**
   * With a product catalogue: the path under which one product's repositories live, ending in
   * `/`; default `<path><product>/` (a kind that isolates by repository, not path, names its own).
   */
  productPath?(n: N, s: Settings, product: string): string;
  /** Resource types a customer of this kind gets (whatever their name). */
  types: RegExp;
  /** Of those, the ones whose name says whose they are. */
  owners: OwnerRule[];
  /**
   * Whether the customer's credential may delete a manifest, and why (`intake verify --write`
   * holds the registry to it: a deletion the credential should not manage is a failed check).
   */
  deletes(c: Customer): { may: boolean; why: string };
  /** The kind's cloud SDK saying it found no credentials, and what to set. */
  noCredentials?: { is: (e: Error) => boolean; fix: string };
}

/** A kind's settings, or a one-line refusal naming the missing key. */
export function need<T>(v: T | undefined, key: string): T {
  if (!v) throw new Error(`settings.${key} is required for this registry kind`);
  return v;
}
