// How a parallel plan cuts the customers (planning/parallel.ts); Pulumi-free, so the CLI's help can name the size.

/**
 * Most customers a worker plans at once. A worker takes slice after slice and collects its
 * garbage between them, so its memory is one slice's (about 0.5 GiB for 100 customers with every
 * kind); a roster over two slices is split.
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
