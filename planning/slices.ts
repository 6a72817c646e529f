// How a parallel plan cuts the customers (planning/parallel.ts); Pulumi-free, so the CLI's help can name the size.

/** Most customers one worker plans: about 3.5 MiB of the SDK's memory each keeps a worker under 1 GiB. */
export const SLICE_SIZE = 250;

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
