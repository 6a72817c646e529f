import PQueue from "p-queue";

/** Runs an operation under the bound; an urgent one goes before those waiting. */
export type Limit = <T>(fn: () => Promise<T>, urgent?: boolean) => Promise<T>;

/**
 * At most `n` operations at once, in the order asked; an urgent one (the seed copy, a look at
 * what it has written so far) goes before those waiting.
 */
export function bound(n: number): Limit {
  const queue = new PQueue({ concurrency: n });
  return (fn, urgent = false) => queue.add(fn, { priority: urgent ? 1 : 0 });
}
