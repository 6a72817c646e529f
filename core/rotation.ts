/**
 * Rotation as data. A long-lived credential (an ECR user's access key, an Artifact Registry key,
 * a Distribution robot's password) has a generation; raising it declares a new credential, and the
 * previous one is kept through `previousUntil` (the overlap clients get to switch), then removed by
 * the first `pulumi up` after that day. Pulumi-free: the program, the plan and `intake rotate` share it.
 */
export interface Rotation {
  generation: number;
  /** The last day (UTC, YYYY-MM-DD) the previous generation still works. */
  previousUntil?: string;
}

/** The kinds whose credential the program declares long-lived, and so rotates. */
export const ROTATED_KINDS = ["ecr", "gar", "distribution"] as const;
export type RotatedKind = (typeof ROTATED_KINDS)[number];

export interface LiveGenerations {
  current: number;
  /** The previous generation, while its overlap lasts on `asOf`. */
  previous?: number;
  previousUntil?: string;
}

/** The generations to declare on `asOf`: the current one, and the previous one through its last day. */
export function liveGenerations(r: Rotation | undefined, asOf: string): LiveGenerations {
  const current = r?.generation ?? 1;
  if (current > 1 && r?.previousUntil && asOf <= r.previousUntil) return { current, previous: current - 1, previousUntil: r.previousUntil };
  return { current };
}

/** A generation's resource name: the first keeps the name credentials had before rotation existed, so nothing in state is replaced. */
export function generationName(base: string, generation: number): string {
  return generation === 1 ? base : `${base}-g${generation}`;
}

/** The day `days` after `from` (YYYY-MM-DD). */
export function addDays(from: string, days: number): string {
  const d = new Date(`${from}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Make the live generations' credentials (`make` declares one): the current, and the previous while it overlaps. */
export function eachGeneration<T>(live: LiveGenerations, make: (generation: number) => T): { current: T; previous?: T } {
  return { current: make(live.current), ...(live.previous !== undefined ? { previous: make(live.previous) } : {}) };
}
