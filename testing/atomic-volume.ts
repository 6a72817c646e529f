// A folder written the way the kubelet writes a ConfigMap, Secret or projected volume.
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import * as path from "node:path";

/**
 * A folder written the way the kubelet writes a ConfigMap or Secret volume: each version in a
 * `..<stamp>` folder, `..data` linking to the current one (swapped by rename), each file a link
 * through `..data`.
 */
export class AtomicVolume {
  private n = 0;
  private previous?: string;
  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
  }

  write(files: Record<string, string>): void {
    const version = `..2026_11_30_${String(this.n++).padStart(3, "0")}`;
    mkdirSync(path.join(this.dir, version));
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(this.dir, version, name), text);
    symlinkSync(version, path.join(this.dir, "..data_tmp"));
    renameSync(path.join(this.dir, "..data_tmp"), path.join(this.dir, "..data"));
    for (const name of Object.keys(files)) {
      try {
        symlinkSync(path.join("..data", name), path.join(this.dir, name));
      } catch {
        // already linked
      }
    }
    // The kubelet removes the version it replaced.
    if (this.previous) rmSync(path.join(this.dir, this.previous), { recursive: true, force: true });
    this.previous = version;
  }

  /** A key gone from the Secret: its link goes. */
  remove(name: string): void {
    rmSync(path.join(this.dir, name));
  }
}
