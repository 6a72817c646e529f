import type { MintedCredential } from "./types";

/**
 * Credentials per (customer, kind, scope), minted again `refreshBeforeSeconds` before they
 * expire. Concurrent asks for the same key share one mint.
 */
export class CredentialCache {
  private readonly entries = new Map<string, Promise<MintedCredential>>();

  constructor(
    private readonly refreshBeforeSeconds = 300,
    private readonly now: () => number = Date.now,
  ) {}

  async get(key: { customer: string; kind: string; scope?: string }, mint: () => Promise<MintedCredential>): Promise<MintedCredential> {
    const k = `${key.customer}\0${key.kind}\0${key.scope ?? ""}`;
    for (;;) {
      const pending = this.entries.get(k);
      if (!pending) break;
      const c = await pending.catch(() => undefined);
      if (this.entries.get(k) !== pending) continue; // another caller is minting a fresh one: wait for it
      if (c && (c.expiresAt === null || c.expiresAt.getTime() - this.refreshBeforeSeconds * 1000 > this.now())) return c;
      break;
    }
    const fresh = mint();
    this.entries.set(k, fresh);
    fresh.catch(() => this.entries.delete(k));
    return fresh;
  }
}
