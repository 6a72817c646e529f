// How a parallel plan cuts the customers (planning/parallel.ts); Pulumi-free, so the CLI's help can name the size.

/**
 * Most customers a worker plans at once. A worker takes slice after slice, and what a slice made
 * is garbage once it is answered, so a worker's memory follows the slice's size, not the roster's
 * (under 0.7 GiB resident for slices of 100 customers with every kind); a roster over two slices
 * is split.
 */
export const SLICE_SIZE = 100;

/** Contiguous slices of `ids`, as even as can be: at least one per worker, none over `max`. */
export function slices(ids: string[], workers: number, max: number): string[][] {
  const count = Math.max(Math.min(workers, ids.length), Math.ceil(ids.length / max));
  const base = Math.floor(ids.length / count);
  const extra = ids.length % count;
  const out: string[][] = [];
  for (let i = 0, at = 0; i < count; i++) {
    const size = base + (i < extra ? 1 : 0);
    out.push(ids.slice(at, (at += size)));
  }
  return out;
}
