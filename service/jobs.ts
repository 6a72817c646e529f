import { InvalidInput } from "../core/errors";

/** What a job does to one customer. */
export const JOB_ACTIONS = ["onboard", "change", "offboard", "rotate"] as const;
export type JobAction = (typeof JOB_ACTIONS)[number];

export const JOB_STATES = ["queued", "running", "succeeded", "failed"] as const;
type JobState = (typeof JOB_STATES)[number];

/** One step of a job, with when it started (ISO time) and, on resumption, the replica that ran it. */
export interface JobStep {
  name: string;
  at: string;
  replica?: string;
}

/** A job as the API shows it. */
export interface Job {
  id: string;
  state: JobState;
  action: JobAction;
  customer: string;
  /** The stack whose update the job makes (the customer's shard stack when sharded). */
  stack: string;
  steps: JobStep[];
  /** The roster commit that holds the change, once pushed. */
  commit: string | null;
  /** The engine's change summary (resources created, updated, deleted, same). */
  changes: Record<string, number> | null;
  /** One line, when the job failed. */
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

/** A job as stored: the API's view, and what the worker needs to run it again. */
export interface JobRecord extends Job {
  /** The request (the entry, the change, the rotation), JSON. */
  request: unknown;
  /** Who asked (the caller's name). */
  caller: string;
  callbackUrl: string | null;
  /** The hash of the request its Idempotency-Key came with. */
  idempotencyHash: string | null;
  /** How many times a replica took the job (more than one: resumed after a replica died). */
  attempts: number;
}

export interface NewJob {
  id: string;
  action: JobAction;
  customer: string;
  stack: string;
  request: unknown;
  caller: string;
  callbackUrl?: string;
  /** The caller's `Idempotency-Key` and the hash of the request it was sent with. */
  idempotency?: { key: string; hash: string };
}

/** The same Idempotency-Key sent again with another request. */
export class IdempotencyConflict extends InvalidInput {}

/** A job's end, as the worker records it. */
export interface JobEnd {
  state: "succeeded" | "failed";
  commit?: string | null;
  changes?: Record<string, number> | null;
  error?: string | null;
}

/** An audit record of a write: who, what, which job, and later the commit. */
export interface AuditEntry {
  at: string;
  caller: string;
  action: JobAction;
  customer: string;
  job: string;
}

/**
 * Where jobs live: one SQLite file (one replica) or PostgreSQL (several). A job is taken with a
 * lease that its replica renews; a replica that dies stops renewing, and another takes the job
 * once the lease has run out. At most one job per stack runs at a time across replicas.
 */
export interface JobStore {
  readonly kind: "sqlite" | "postgres";
  /** Stores a queued job; with an Idempotency-Key already used by this caller, answers that job (`existing`) or throws IdempotencyConflict when the request differs. */
  create(job: NewJob): Promise<{ job: JobRecord; existing: boolean }>;
  get(id: string): Promise<JobRecord | undefined>;
  /** The job this caller created with this Idempotency-Key, if any. */
  byIdempotencyKey(caller: string, key: string): Promise<JobRecord | undefined>;
  /** Jobs of this customer not ended yet (queued or running), oldest first. */
  openJobs(customer: string): Promise<JobRecord[]>;
  /**
   * Takes the oldest job that is queued, or running under a lease that has run out, whose stack
   * has no other job running under a live lease: `running`, leased to `owner` for `leaseMs`.
   */
  claim(owner: string, leaseMs: number): Promise<JobRecord | undefined>;
  /**
   * Takes up to `limit` more queued jobs of `stack` for `owner`, oldest first, once it holds a
   * job of that stack (no other replica may run one then): run as one batch, one update.
   */
  claimSameStack(owner: string, leaseMs: number, stack: string, limit: number): Promise<JobRecord[]>;
  /** Extends the lease; false when the job is no longer this owner's (it lost the lease). */
  renew(id: string, owner: string, leaseMs: number): Promise<boolean>;
  /** Records progress (steps, the commit) while the owner holds the job. */
  progress(id: string, owner: string, p: { steps?: JobStep[]; commit?: string | null }): Promise<boolean>;
  /** Ends the job; false when the owner no longer held it. A job with a callback is then due for delivery. */
  finish(id: string, owner: string, end: JobEnd): Promise<boolean>;
  /** Gives a job back (queued) without ending it: the replica is stopping. */
  release(id: string, owner: string): Promise<void>;
  /** A finished job whose callback is due, held by `owner` for `holdMs` while it is sent. */
  claimCallback(owner: string, holdMs: number): Promise<{ job: JobRecord; tries: number } | undefined>;
  /** The callback was answered (`delivered`), or failed and is due again after `retryMs` (or never, past the last try). */
  callbackDone(id: string, r: { delivered: boolean; retryMs?: number; giveUp?: boolean }): Promise<void>;
  audit(e: AuditEntry): Promise<void>;
  /** Jobs by state and action, for /metrics. */
  counts(): Promise<{ state: JobState; action: JobAction; n: number }[]>;
  close(): Promise<void>;
}

/** A jobs table row as either database hands it back: JSON as text (SQLite) or parsed (PostgreSQL), times as text or Date. */
export interface JobRow {
  id: string;
  state: string;
  action: string;
  customer: string;
  stack: string;
  request: unknown;
  caller: string;
  idem_hash: string | null;
  callback_url: string | null;
  callback_tries: number;
  steps: unknown;
  commit_sha: string | null;
  changes: unknown;
  error: string | null;
  attempts: number;
  created_at: string | Date;
  updated_at: string | Date;
}

/** A stored row as a JobRecord. */
export function jobRecord(r: JobRow): JobRecord {
  const json = <T>(v: unknown): T => (typeof v === "string" ? JSON.parse(v) : v) as T;
  const time = (v: string | Date) => (v instanceof Date ? v.toISOString() : v);
  return {
    id: r.id,
    state: r.state as JobRecord["state"],
    action: r.action as JobRecord["action"],
    customer: r.customer,
    stack: r.stack,
    request: json(r.request),
    caller: r.caller,
    callbackUrl: r.callback_url,
    idempotencyHash: r.idem_hash,
    steps: json<JobStep[]>(r.steps),
    commit: r.commit_sha,
    changes: r.changes == null ? null : json<Record<string, number>>(r.changes),
    error: r.error,
    attempts: Number(r.attempts),
    createdAt: time(r.created_at),
    updatedAt: time(r.updated_at),
  };
}

/** The API's view of a stored job. */
export function publicJob(j: JobRecord): Job {
  const { id, state, action, customer, stack, steps, commit, changes, error, createdAt, updatedAt } = j;
  return { id, state, action, customer, stack, steps, commit, changes, error, createdAt, updatedAt };
}

/** A database URL without its password. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|token|key/i.test(k)) u.searchParams.set(k, "***");
    return u.toString();
  } catch {
    // Not a URL: everything between the scheme and the last @ may be a password.
    return url.replace(/\/\/.*@/, "//***@");
  }
}
