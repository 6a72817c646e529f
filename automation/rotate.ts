import { InvalidInput } from "../core/errors";
import { addDays, liveGenerations, ROTATED_KINDS, type RotatedKind } from "../core/rotation";
import type { Settings } from "../core/settings";
import type { Customer } from "../customers/roster";
import { customerState } from "../customers/status";
import { setCustomerField, type RosterEdit } from "../customers/store";

/** A rotation refused before anything was written: nothing to rotate, or one still inside its overlap. */
export class RotationRefused extends InvalidInput {
  constructor(
    message: string,
    /** `overlap`: the previous generation is still kept (the service answers 409); else the input's fault. */
    readonly why: "input" | "overlap" = "input",
  ) {
    super(message);
  }
}

export interface RotationRequest {
  /** One kind, or each rotated kind the customer holds on the stack. */
  kind?: RotatedKind;
  /** Days the previous credential keeps working. */
  overlapDays: number;
  /** The day judged from (YYYY-MM-DD, default today UTC). */
  today?: string;
  /** How the caller names its inputs in messages (`--kind` on the command line, `kind` in the API). */
  names?: { customer: string; kind: string };
}

export interface Rotation {
  kinds: RotatedKind[];
  /** The roster change: a new generation per kind, the previous kept through `until`. */
  edit: RosterEdit;
  until: string;
  /** One line per kind, for people. */
  lines: string[];
}

/**
 * The roster change that rotates customer `c`'s long-lived credentials: one source for `intake
 * rotate` and the onboarding service. Refused (nothing written) when the customer is offboarded,
 * holds no such credential on the stack, or a previous generation is still inside its overlap
 * (rotating again would cut it at once).
 */
export function rotation(settings: Settings, c: Customer, rosterSource: string, req: RotationRequest): Rotation {
  const names = req.names ?? { customer: "customer", kind: "kind" };
  if (req.overlapDays < 1 || req.overlapDays > 90 || !Number.isInteger(req.overlapDays))
    throw new RotationRefused(`overlapDays: ${req.overlapDays} must be a whole number of days from 1 to 90`);
  if (c.status === "offboarded") throw new RotationRefused(`${names.customer}: ${c.id} is offboarded and holds no credentials to rotate`);
  // Rotated kinds the customer holds on this stack (Artifact Registry only where keys are declared).
  const held = ROTATED_KINDS.filter((k) => c.registries.includes(k) && settings.enabledKinds.includes(k) && (k !== "gar" || settings.gar?.serviceAccountKeys));
  if (req.kind && !held.includes(req.kind))
    throw new RotationRefused(
      `${names.kind}: customer ${c.id} holds no long-lived ${req.kind} credential on stack ${settings.stack} (it holds: ${held.join(", ") || "none"})`,
    );
  const kinds = req.kind ? [req.kind] : held;
  if (kinds.length === 0)
    throw new RotationRefused(
      `${names.customer}: ${c.id} holds no long-lived credential on stack ${settings.stack} (${ROTATED_KINDS.join(", ")}; gar only with gar.serviceAccountKeys)`,
    );
  const today = req.today ?? new Date().toISOString().slice(0, 10);
  const until = addDays(today, req.overlapDays);
  const blocked = kinds.map((k) => [k, liveGenerations(c.credentials?.[k], today)] as const).filter(([, g]) => g.previous !== undefined);
  if (blocked.length) {
    throw new RotationRefused(
      `customer ${c.id}: ${blocked.map(([k, g]) => `${k} generation ${g.previous} is kept through ${g.previousUntil}`).join(", ")}; ` +
        "rotate again once a pulumi up has run after that day, so no client loses its credential at once",
      "overlap",
    );
  }
  const suspended = customerState(c, today).status !== "active";
  const edits: RosterEdit[] = [];
  const lines: string[] = [];
  for (const kind of kinds) {
    const now = liveGenerations(c.credentials?.[kind], today);
    const next = now.current + 1;
    edits.push(setCustomerField(rosterSource, c.id, ["credentials", kind], { generation: next, previousUntil: until }));
    lines.push(
      suspended
        ? `${c.id} ${kind}: generation ${now.current} → ${next}; both stay disabled (the customer's ${customerState(c, today).reason})`
        : `${c.id} ${kind}: generation ${now.current} → ${next}; generation ${now.current} keeps working through ${until}`,
    );
  }
  return { kinds, edit: (doc) => edits.forEach((e) => e(doc)), until, lines };
}
