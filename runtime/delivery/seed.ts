/**
 * Where one credential group's mounts take their blobs from, and which target makes that seed.
 *
 * States (`state`), and what moves between them:
 * - `from-source`: the source repository is on the targets' own registry; every mount takes its
 *   blobs from it. Left for good by `sourceRefused()` (a mount from the source was refused).
 * - `none`: nothing holds the image yet and no copy runs. `role(t)` makes `t` the copier
 *   (`copying`); a waiting mount takes over the same way when it is the first target waiting.
 * - `copying`: one target's tool copy runs; its child manifests `land()` as they are seen there,
 *   and mounts of a platform start from the copy once it has landed. `copied(t)` → `held`;
 *   `copyFailed()` → `none` (the first target waiting takes over).
 * - `held`: a target holds the whole image (its copy finished, or its check found the image,
 *   `found(t)`, which also stops a copy under way); every mount takes its blobs from it.
 * Each change wakes the mounts waiting in `seedOf`.
 */
export type SeedState = "from-source" | "none" | "copying" | "held";

/** The one tool copy under way: its target, the child manifests seen there, and its stop. */
export interface Copying<T> {
  target: T;
  landed: Set<string>;
  abort: AbortController;
}

/** What a mount waiting for a seed is told: the repository to mount from, or that it makes the seed itself. */
export type SeedAnswer = { from: string } | { takeover: true };

export class Seed<T extends { repository: string }> {
  private holder: T | undefined;
  private copy: Copying<T> | undefined;
  private viaSource: boolean;
  private readonly waiting = new Map<T, number>();
  private wake = () => {};
  private changes: Promise<void>;

  /**
   * @param order the group's targets in the order asked: the first one waiting takes over a failed copy
   * @param fromSource the source repository is on the targets' registry (mounts come from it)
   */
  constructor(
    private readonly order: readonly T[],
    private readonly sourceRepository: string,
    fromSource: boolean,
  ) {
    this.viaSource = fromSource;
    this.changes = new Promise((r) => (this.wake = r));
  }

  get state(): SeedState {
    return this.viaSource ? "from-source" : this.holder ? "held" : this.copy ? "copying" : "none";
  }

  get fromSource(): boolean {
    return this.viaSource;
  }

  /** The copy under way, if any. */
  get copying(): Copying<T> | undefined {
    return this.copy;
  }

  /** Some mount waits for a platform the copy has not written yet. */
  get anyWaiting(): boolean {
    return this.waiting.size > 0;
  }

  /** Resolves at the next change. */
  changed(): Promise<void> {
    return this.changes;
  }

  /** How a target that misses the image gets it: a mount while anything can seed it, else it makes the seed (and the copy is its). */
  role(t: T): "copy" | "mount" {
    if (this.viaSource || this.holder || this.copy) return "mount";
    this.claim(t);
    return "copy";
  }

  /** `t`'s check found the image there: it is the seed, and a copy under way stops. */
  found(t: T): void {
    if (this.holder) return;
    this.holder = t;
    this.copy?.abort.abort();
    this.notify();
  }

  /** `t`'s copy finished: it holds the image (unless another target was found holding it first). */
  copied(t: T): void {
    this.holder ??= t;
    this.copy = undefined;
    this.notify();
  }

  /** The copy ended without the image (failed, or stopped because another target holds it). */
  copyFailed(): void {
    this.copy = undefined;
    this.notify();
  }

  /** A mount from the source was refused: from now on the seed is a copy, as across registries. */
  sourceRefused(): void {
    this.viaSource = false;
  }

  /** A child manifest (and so its blobs) is in the copy's repository. */
  land(c: Copying<T>, digest: string): void {
    c.landed.add(digest);
    this.notify();
  }

  /**
   * The repository to mount manifest `digest`'s blobs from into `t`: the source's, the holder's,
   * or the copy's once that manifest has landed there. Waits until one is; answers `takeover`
   * when `t` is to make the seed itself (the copy is its own, or none runs and `t` is the first
   * target, in the order asked, waiting for one: then the copy is claimed for it).
   */
  async seedOf(t: T, digest: string): Promise<SeedAnswer> {
    if (this.viaSource) return { from: this.sourceRepository };
    this.waiting.set(t, (this.waiting.get(t) ?? 0) + 1);
    try {
      for (;;) {
        if (this.holder) return { from: this.holder.repository };
        if (this.copy?.target === t) return { takeover: true };
        if (this.copy?.landed.has(digest)) return { from: this.copy.target.repository };
        if (!this.copy && this.order.find((x) => this.waiting.has(x)) === t) {
          this.claim(t);
          this.notify();
          return { takeover: true };
        }
        await this.changes;
      }
    } finally {
      const n = this.waiting.get(t)! - 1;
      if (n) this.waiting.set(t, n);
      else this.waiting.delete(t);
    }
  }

  private claim(t: T): Copying<T> {
    return (this.copy = { target: t, landed: new Set(), abort: new AbortController() });
  }

  private notify(): void {
    const w = this.wake;
    this.changes = new Promise((r) => (this.wake = r));
    w();
  }
}
