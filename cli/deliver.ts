import type { NotReached } from "../customers/audience";
import type { DeliveryEvent, TargetResult } from "../runtime/delivery/deliver";

const SYMBOL: Record<TargetResult["status"], string> = { delivered: "delivered", cached: "cached", denied: "denied", failed: "FAILED" };

function mib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** One line per settled target: what, where, digest, time, bytes, and why for a denial or failure. */
export function resultLine(r: TargetResult): string {
  const tail = [
    r.digest ? r.digest.slice(0, 19) : undefined,
    r.status === "delivered" || r.status === "failed" ? `${r.seconds.toFixed(1)} s` : undefined,
    r.bytes ? mib(r.bytes) : undefined,
    r.via,
    r.attempts > 1 ? `${r.attempts} tries` : undefined,
    r.tags.length ? `tags ${r.tags.join(",")}` : undefined,
    r.attached?.length ? attachedText(r.attached) : undefined,
  ].filter(Boolean);
  // Tags and cosign tags the registry would not let move: said under the line, as a reason is.
  const fixed = [
    ...(r.kept ?? []).map((k) => `${k.tag} (holds ${k.digest.slice(0, 19)})`),
    ...(r.attached ?? []).filter((a) => a.how === "kept").map((a) => `${a.tag} (holds ${a.held?.slice(0, 19)})`),
  ];
  const note = fixed.length ? `tags are immutable here; left as they are: ${fixed.join(", ")}` : undefined;
  const under = [r.reason, note]
    .filter(Boolean)
    .map((x) => `\n          ${x}`)
    .join("");
  return `${SYMBOL[r.status].padEnd(9)} ${r.kind.padEnd(12)} ${r.customer.padEnd(24)} ${r.target}${tail.length ? `  (${tail.join(", ")})` : ""}${under}`;
}

/** `signature, attestation, 2 referrers (1 new)`: what the target holds beside the image. */
function attachedText(a: NonNullable<TargetResult["attached"]>): string {
  const counts = new Map<string, number>();
  for (const x of a) counts.set(x.kind, (counts.get(x.kind) ?? 0) + 1);
  const kinds = [...counts].map(([k, n]) => (n > 1 ? `${n} ${k}s` : k)).join(", ");
  const copied = a.filter((x) => x.how === "copied").length;
  return `${kinds}${copied && copied < a.length ? ` (${copied} new)` : ""}`;
}

export function summaryLine(results: TargetResult[], seconds: number, notReached: readonly NotReached[] = []): string {
  const count = (s: TargetResult["status"]) => results.filter((r) => r.status === s).length;
  const bytes = results.reduce((n, r) => n + r.bytes, 0);
  const others = (["not-entitled", "inactive"] as const).map((s) => [s, notReached.filter((n) => n.status === s).length] as const).filter(([, n]) => n > 0);
  const tail = others.map(([s, n]) => `; ${n} customer${n > 1 ? "s" : ""} ${s}`).join("");
  return `${results.length} targets in ${seconds.toFixed(1)} s: ${count("delivered")} delivered, ${count("cached")} cached, ${count("denied")} denied, ${count("failed")} failed; ${mib(bytes)} sent${tail}`;
}

/** A customer a release does not go to: `not-entitled  globex  entitled to app on stable, not beta`. */
export function notReachedLine(n: NotReached): string {
  return `${n.status.padEnd(22)} ${n.customer.padEnd(24)} ${n.reason}`;
}

/**
 * Progress: on a terminal, a live block with one line per target redrawn in place; otherwise
 * (CI logs, pipes) plain lines as things happen.
 */
export class DeliveryProgress {
  private readonly state = new Map<string, string>();
  private drawn = 0;
  private readonly t0 = performance.now();

  /**
   * @param size the terminal's size, read at every redraw (a resize between two redraws is
   *   taken as it comes); lines are cut to its width, so each takes one row and the redraw
   *   moves up exactly what it drew, and the block to its height, so nothing scrolls away.
   */
  constructor(
    private readonly write: (s: string) => void,
    private readonly tty: boolean,
    private readonly size: () => { columns?: number; rows?: number } = () => ({ columns: process.stderr.columns, rows: process.stderr.rows }),
  ) {}

  event(e: DeliveryEvent): void {
    if (e.type === "source") {
      const carried = e.attached.length ? `; carries ${e.attached.length} signature/attestation/SBOM artifact${e.attached.length > 1 ? "s" : ""}` : "";
      const signed = e.signedBy ? `; signature by ${e.signedBy} verified` : "";
      this.line(`source ${e.digest} (${mib(e.bytes)}${e.platforms.length ? `, ${e.platforms.join(", ")}` : ""}${carried}${signed})`);
      return;
    }
    const key = e.type === "done" ? `${e.result.kind} ${e.result.customer}` : `${e.kind} ${e.customer}`;
    const text =
      e.type === "start"
        ? `${e.step.padEnd(9)} ${e.kind.padEnd(12)} ${e.customer.padEnd(24)} ${e.target}`
        : e.type === "retry"
          ? `retry     ${e.kind.padEnd(12)} ${e.customer.padEnd(24)} try ${e.attempt} failed (${e.reason})${e.delayMs ? `; again in ${(e.delayMs / 1000).toFixed(1)} s` : ""}`
          : resultLine(e.result);
    // Without a terminal each result is printed once, on stdout, when all are done (CI logs join both streams).
    if (!this.tty) return e.type === "done" ? undefined : this.line(text);
    // The newest news last: a target's line moves to the end of the block when it changes.
    this.state.delete(key);
    this.state.set(key, text);
    this.redraw();
  }

  private line(s: string): void {
    if (this.tty && this.drawn) {
      // Keep the block below any one-off line (which may wrap: it is not redrawn).
      this.write(`\x1b[${this.drawn}A\x1b[J${s}\n`);
      this.drawn = 0;
      this.redraw();
    } else this.write(`${s}\n`);
  }

  private redraw(): void {
    const { columns, rows } = this.size();
    const width = Math.max(20, (columns ?? 80) - 1);
    const fit = (l: string) => (l.length > width ? `${l.slice(0, width - 1)}…` : l);
    let lines = [...this.state.values()].flatMap((l) => l.split("\n"));
    const room = Math.max(2, (rows ?? 24) - 2);
    // The newest lines are the live ones; older ones are summed up in a count.
    if (lines.length > room) lines = [`… ${lines.length - room + 1} more above`, ...lines.slice(lines.length - room + 1)];
    const elapsed = `${((performance.now() - this.t0) / 1000).toFixed(1)} s`;
    const block = [...lines, `… ${elapsed}`].map(fit);
    this.write(`${this.drawn ? `\x1b[${this.drawn}A` : ""}\x1b[J${block.join("\n")}\n`);
    this.drawn = block.length;
  }

  /** Clear the live block (the caller prints the final lines). */
  end(): void {
    if (this.tty && this.drawn) this.write(`\x1b[${this.drawn}A\x1b[J`);
    this.drawn = 0;
  }
}
