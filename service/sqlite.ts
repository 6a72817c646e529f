import { mkdirSync } from "node:fs";
import * as path from "node:path";
import type { DatabaseSync as Database } from "node:sqlite";
import { InvalidInput } from "../core/errors";
import { IdempotencyConflict, jobRecord, type JobRow, type AuditEntry, type JobEnd, type JobRecord, type JobStep, type JobStore, type NewJob } from "./jobs";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  action TEXT NOT NULL,
  customer TEXT NOT NULL,
  stack TEXT NOT NULL,
  request TEXT NOT NULL,
  caller TEXT NOT NULL,
  idem_key TEXT,
  idem_hash TEXT,
  callback_url TEXT,
  callback_state TEXT,
  callback_tries INTEGER NOT NULL DEFAULT 0,
  callback_due INTEGER,
  steps TEXT NOT NULL DEFAULT '[]',
  commit_sha TEXT,
  changes TEXT,
  error TEXT,
  owner TEXT,
  lease_until INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idem ON jobs (caller, idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_open ON jobs (state, seq);
CREATE TABLE IF NOT EXISTS audit (
  at TEXT NOT NULL, caller TEXT NOT NULL, action TEXT NOT NULL, customer TEXT NOT NULL, job TEXT NOT NULL
);
`;

type Row = JobRow;
const record = jobRecord;

/**
 * Jobs in one SQLite file (Node's built-in node:sqlite: no native module to build), for one
 * replica: the file is written by one process (WAL, a busy timeout for readers).
 */
export class SqliteJobStore implements JobStore {
  readonly kind = "sqlite";
  private constructor(private readonly db: Database) {}

  static async open(file: string): Promise<SqliteJobStore> {
    if (!file) throw new InvalidInput("--database sqlite:FILE: name the file, e.g. sqlite:jobs.db");
    // Node 22 marks node:sqlite experimental and warns once; the service says what it uses itself.
    const quiet = silenceSqliteWarning();
    let db: Database;
    try {
      const { DatabaseSync } = await import("node:sqlite");
      mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
      db = new DatabaseSync(file);
      db.exec("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA synchronous = NORMAL;");
      db.exec(SCHEMA);
    } catch (e) {
      throw new InvalidInput(`--database sqlite:${file}: cannot open it (${(e as Error).message.split("\n")[0]})`);
    } finally {
      quiet();
    }
    return new SqliteJobStore(db);
  }

  private now = () => new Date().toISOString();

  private tx<T>(fn: () => T): T {
    this.db.exec("BEGIN IMMEDIATE");
    try {
      const r = fn();
      this.db.exec("COMMIT");
      return r;
    } catch (e) {
      this.db.exec("ROLLBACK");
      throw e;
    }
  }

  async create(j: NewJob): Promise<{ job: JobRecord; existing: boolean }> {
    return this.tx(() => {
      if (j.idempotency) {
        const had = this.db.prepare("SELECT * FROM jobs WHERE caller = ? AND idem_key = ?").get(j.caller, j.idempotency.key) as Row | undefined;
        if (had) {
          if (had.idem_hash !== j.idempotency.hash)
            throw new IdempotencyConflict(
              `Idempotency-Key ${j.idempotency.key} was sent before with another request (job ${had.id}); use a new key for a new request`,
            );
          return { job: record(had), existing: true };
        }
      }
      const at = this.now();
      const seq = (this.db.prepare("SELECT coalesce(max(seq), 0) + 1 AS n FROM jobs").get() as { n: number }).n;
      this.db
        .prepare(
          "INSERT INTO jobs (id, seq, state, action, customer, stack, request, caller, idem_key, idem_hash, callback_url, steps, created_at, updated_at) VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .run(
          j.id,
          seq,
          j.action,
          j.customer,
          j.stack,
          JSON.stringify(j.request),
          j.caller,
          j.idempotency?.key ?? null,
          j.idempotency?.hash ?? null,
          j.callbackUrl ?? null,
          JSON.stringify([{ name: "queued", at }]),
          at,
          at,
        );
      return { job: record(this.db.prepare("SELECT * FROM jobs WHERE id = ?").get(j.id) as unknown as Row), existing: false };
    });
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const r = this.db.prepare("SELECT * FROM jobs WHERE id = ?").get(id) as Row | undefined;
    return r && record(r);
  }

  async byIdempotencyKey(caller: string, key: string): Promise<JobRecord | undefined> {
    const r = this.db.prepare("SELECT * FROM jobs WHERE caller = ? AND idem_key = ?").get(caller, key) as Row | undefined;
    return r && record(r);
  }

  async openJobs(customer: string): Promise<JobRecord[]> {
    return (this.db.prepare("SELECT * FROM jobs WHERE customer = ? AND state IN ('queued', 'running') ORDER BY seq").all(customer) as unknown as Row[]).map(
      record,
    );
  }

  async claim(owner: string, leaseMs: number): Promise<JobRecord | undefined> {
    return this.tx(() => {
      const now = Date.now();
      const r = this.db
        .prepare(
          `SELECT * FROM jobs j WHERE (j.state = 'queued' OR (j.state = 'running' AND j.lease_until < ?))
             AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.stack = j.stack AND o.id <> j.id AND o.state = 'running' AND o.lease_until >= ?)
           ORDER BY j.seq LIMIT 1`,
        )
        .get(now, now) as Row | undefined;
      if (!r) return undefined;
      const steps = [...jobRecord(r).steps, { name: r.state === "running" ? "resumed" : "running", at: this.now(), replica: owner }];
      this.db
        .prepare("UPDATE jobs SET state = 'running', owner = ?, lease_until = ?, attempts = attempts + 1, steps = ?, updated_at = ? WHERE id = ?")
        .run(owner, now + leaseMs, JSON.stringify(steps), this.now(), r.id);
      return record(this.db.prepare("SELECT * FROM jobs WHERE id = ?").get(r.id) as unknown as Row);
    });
  }

  async claimSameStack(owner: string, leaseMs: number, stack: string, limit: number): Promise<JobRecord[]> {
    if (limit < 1) return [];
    return this.tx(() => {
      const rows = this.db.prepare("SELECT * FROM jobs WHERE state = 'queued' AND stack = ? ORDER BY seq LIMIT ?").all(stack, limit) as unknown as Row[];
      const now = Date.now();
      return rows.map((r) => {
        const steps = [...jobRecord(r).steps, { name: "running", at: this.now(), replica: owner }];
        this.db
          .prepare("UPDATE jobs SET state = 'running', owner = ?, lease_until = ?, attempts = attempts + 1, steps = ?, updated_at = ? WHERE id = ?")
          .run(owner, now + leaseMs, JSON.stringify(steps), this.now(), r.id);
        return record(this.db.prepare("SELECT * FROM jobs WHERE id = ?").get(r.id) as unknown as Row);
      });
    });
  }

  async renew(id: string, owner: string, leaseMs: number): Promise<boolean> {
    return (
      Number(
        this.db.prepare("UPDATE jobs SET lease_until = ? WHERE id = ? AND owner = ? AND state = 'running'").run(Date.now() + leaseMs, id, owner).changes,
      ) === 1
    );
  }

  async progress(id: string, owner: string, p: { steps?: JobStep[]; commit?: string | null }): Promise<boolean> {
    const sets: string[] = ["updated_at = ?"];
    const args: (string | null)[] = [this.now()];
    if (p.steps) {
      sets.push("steps = ?");
      args.push(JSON.stringify(p.steps));
    }
    if (p.commit !== undefined) {
      sets.push("commit_sha = ?");
      args.push(p.commit);
    }
    return Number(this.db.prepare(`UPDATE jobs SET ${sets.join(", ")} WHERE id = ? AND owner = ? AND state = 'running'`).run(...args, id, owner).changes) === 1;
  }

  async finish(id: string, owner: string, end: JobEnd): Promise<boolean> {
    return this.tx(() => {
      const r = this.db.prepare("SELECT * FROM jobs WHERE id = ? AND owner = ? AND state = 'running'").get(id, owner) as Row | undefined;
      if (!r) return false;
      const at = this.now();
      const steps = [...jobRecord(r).steps, { name: end.state, at }];
      this.db
        .prepare(
          "UPDATE jobs SET state = ?, steps = ?, commit_sha = coalesce(?, commit_sha), changes = ?, error = ?, owner = NULL, lease_until = NULL, callback_state = CASE WHEN callback_url IS NULL THEN NULL ELSE 'due' END, callback_due = 0, updated_at = ? WHERE id = ?",
        )
        .run(end.state, JSON.stringify(steps), end.commit ?? null, end.changes ? JSON.stringify(end.changes) : null, end.error ?? null, at, id);
      return true;
    });
  }

  async release(id: string, owner: string): Promise<void> {
    this.db
      .prepare("UPDATE jobs SET state = 'queued', owner = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND owner = ? AND state = 'running'")
      .run(this.now(), id, owner);
  }

  async claimCallback(owner: string, holdMs: number): Promise<{ job: JobRecord; tries: number } | undefined> {
    return this.tx(() => {
      const now = Date.now();
      const r = this.db.prepare("SELECT * FROM jobs WHERE callback_state = 'due' AND callback_due <= ? ORDER BY callback_due LIMIT 1").get(now) as
        Row | undefined;
      if (!r) return undefined;
      this.db.prepare("UPDATE jobs SET callback_due = ?, callback_tries = callback_tries + 1 WHERE id = ?").run(now + holdMs, r.id);
      void owner;
      return { job: record(r), tries: r.callback_tries + 1 };
    });
  }

  async callbackDone(id: string, r: { delivered: boolean; retryMs?: number; giveUp?: boolean }): Promise<void> {
    const state = r.delivered ? "delivered" : r.giveUp ? "failed" : "due";
    this.db.prepare("UPDATE jobs SET callback_state = ?, callback_due = ? WHERE id = ?").run(state, Date.now() + (r.retryMs ?? 0), id);
  }

  async audit(e: AuditEntry): Promise<void> {
    this.db.prepare("INSERT INTO audit (at, caller, action, customer, job) VALUES (?, ?, ?, ?, ?)").run(e.at, e.caller, e.action, e.customer, e.job);
  }

  async counts() {
    return (
      this.db.prepare("SELECT state, action, count(*) AS n FROM jobs GROUP BY state, action").all() as unknown as {
        state: JobRecord["state"];
        action: JobRecord["action"];
        n: number;
      }[]
    ).map((r) => ({ ...r, n: Number(r.n) }));
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

/** Drops Node's one-time "SQLite is an experimental feature" warning while node:sqlite loads; gives the listeners back. */
function silenceSqliteWarning(): () => void {
  const listeners = process.listeners("warning");
  process.removeAllListeners("warning");
  const filter = (w: Error) => {
    if (w.name === "ExperimentalWarning" && /SQLite/i.test(w.message)) return;
    for (const l of listeners) l(w);
  };
  process.on("warning", filter);
  return () => {
    // The warning is emitted on the next tick: give it the filter until then.
    setImmediate(() => {
      process.off("warning", filter);
      for (const l of listeners) process.on("warning", l);
    });
  };
}
