import * as pulumi from "@pulumi/pulumi";
import { keptKey, type KeptKind, type KeptList } from "../core/kept";

/**
 * The kept resources of one update (see core/kept.ts): which to adopt, and the kept list
 * to export.
 */
export class KeptResources {
  private readonly kept: Set<string>;
  private readonly known: Set<string>;
  private readonly legacy: boolean;
  private readonly declared = new Map<string, pulumi.Output<string>>();
  /** Kept keys adopted by `adoptionWhere` (declared under no key of their own until they exist). */
  private readonly adoptedWhere = new Set<string>();

  /**
   * @param previous the `kept` output of the stack's last update; `legacy` when the stack has
   *   outputs but no kept list yet (updated before the kept list existed): it may hold any repository
   * @param adopt keys to adopt though the kept list does not hold them (kept before it existed, or by another stack)
   * @param forget keys deleted by hand since: created anew rather than imported (and tracked again)
   */
  constructor(previous: Partial<KeptList> & { legacy?: boolean } = {}, adopt: readonly string[] = [], forget: readonly string[] = []) {
    this.legacy = previous.legacy === true;
    const inState = new Set(previous.declared ?? []);
    const gone = new Set(forget);
    // Imported: kept (or to adopt), not in state, not deleted by hand.
    this.kept = new Set([...(previous.kept ?? []), ...adopt].filter((k) => !inState.has(k) && !gone.has(k)));
    this.known = new Set([...this.kept, ...inState]);
  }

  /**
   * The options that adopt `id` when an earlier update left it in the cloud: `import` with its
   * id. A resource still in the stack's state gets none.
   */
  adoption(kind: KeptKind, id: string): { import?: string } {
    return this.kept.has(keptKey(kind, id)) ? { import: id } : {};
  }

  /**
   * The options that adopt a kept resource whose cloud id the program cannot spell before it
   * exists (an ACR registry's holds the subscription): the kept key of `kind` whose id `matches`.
   */
  adoptionWhere(kind: KeptKind, matches: (id: string) => boolean): { import?: string } {
    const prefix = keptKey(kind, "");
    const key = [...this.kept].find((k) => k.startsWith(prefix) && matches(k.slice(prefix.length)));
    if (!key) return {};
    this.adoptedWhere.add(key);
    return { import: key.slice(prefix.length) };
  }

  /** Record a kept resource declared in this update (its id resolves once it exists). */
  track(kind: KeptKind, id: string, resource: pulumi.CustomResource): void {
    const key = keptKey(kind, id);
    this.declared.set(
      key,
      resource.id.apply(() => key),
    );
  }

  /** Record a kept resource by the id the cloud gave it. */
  trackById(kind: KeptKind, resource: pulumi.CustomResource): void {
    this.declared.set(
      `${kind}#${this.declared.size}`,
      resource.id.apply((id) => keptKey(kind, id)),
    );
  }

  /** Whether the stack holds, or has kept in the cloud, this resource. */
  has(kind: KeptKind, id: string): boolean {
    return this.known.has(keptKey(kind, id));
  }

  /**
   * Whether to declare a kept resource of a customer: always while it is a customer; once
   * offboarded, only if the stack holds it or kept it (to tag it orphaned, or archive it), never
   * to create it for a customer that is gone. A stack updated before the kept list existed may
   * hold any of them: there, every one is declared, as before.
   */
  declares(kind: KeptKind, id: string, offboarded: boolean): boolean {
    return !offboarded || this.legacy || this.has(kind, id);
  }

  /** Keys this update adopts: declared now, kept before. */
  adopted(): string[] {
    return [...this.declared.keys(), ...this.adoptedWhere].filter((k) => this.kept.has(k)).sort();
  }

  /**
   * The kept list to export. It resolves only once every resource declared now exists, so a failed
   * update never records as declared a resource that was not made.
   */
  output(): pulumi.Output<KeptList> {
    return pulumi.all([...this.declared.values()]).apply((keys) => {
      const declared = new Set(keys);
      const kept = [...this.known].filter((k) => !declared.has(k));
      return { declared: [...declared].sort(), kept: kept.sort() };
    });
  }
}
