import { createHash } from "node:crypto";
import type { Customer, Roster } from "./types";

/**
 * Jump consistent hash (Lamping & Veach): a key's bucket among `buckets`. Adding customers never
 * moves anyone (a customer's bucket depends on its id alone); raising the count moves only the
 * ~1/count of customers that land in the new buckets, and never between old ones.
 */
export function jumpHash(key: bigint, buckets: number): number {
  let b = -1n;
  let j = 0n;
  const n = BigInt(buckets);
  const mask = (1n << 64n) - 1n;
  while (j < n) {
    b = j;
    key = (key * 2862933555777941757n + 1n) & mask;
    j = BigInt(Math.floor((Number(b) + 1) * (2 ** 31 / Number((key >> 33n) + 1n))));
  }
  return Number(b);
}

/** A customer's shard: its pinned `shard`, else the jump hash of its id's sha256. */
export function shardOf(c: Pick<Customer, "id" | "shard">, count: number): number {
  if (c.shard !== undefined) return c.shard;
  const h = createHash("sha256").update(c.id).digest();
  return jumpHash(h.readBigUInt64BE(0), count);
}

/** `prod-shard-03`: the stack that holds shard 3 of stack `prod`'s customers. */
export function shardStackName(base: string, index: number, count: number): string {
  return `${base}-shard-${String(index).padStart(Math.max(2, String(count - 1).length), "0")}`;
}

/** The base stack and shard index of a shard stack name, or undefined. */
export function parseShardStackName(stack: string): { base: string; index: number } | undefined {
  const m = /^(.+)-shard-(\d+)$/.exec(stack);
  return m ? { base: m[1], index: Number(m[2]) } : undefined;
}

/** Pins that point past the last shard: named with the roster file and the rule. */
export function shardProblems(roster: Roster, count: number): string[] {
  return roster.customers
    .filter((c) => c.shard !== undefined && c.shard >= count)
    .map((c) => `${roster.source}: customer ${c.id}: shard: ${c.shard} is not below the stack's shard count ${count} (shards 0-${count - 1})`);
}

/** The roster one shard stack declares: the same file, only its customers. */
/**
 * Every shard's customers, in roster order: one pass (shardOf once per customer), whatever the
 * shard count (rosterForShard filters the whole roster for one shard: right for a shard stack,
 * customers x shards for all of them).
 */
export function shardBuckets(roster: Roster, count: number): Customer[][] {
  const buckets = Array.from({ length: count }, () => [] as Customer[]);
  for (const c of roster.customers) buckets[shardOf(c, count)]?.push(c);
  return buckets;
}

export function rosterForShard(roster: Roster, index: number, count: number): Roster {
  return { ...roster, customers: roster.customers.filter((c) => shardOf(c, count) === index) };
}
