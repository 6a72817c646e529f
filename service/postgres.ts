import pg from "pg";
import { InvalidInput } from "../core/errors";
import {
  IdempotencyConflict,
  jobRecord,
  type JobRow,
  redactUrl,
  type AuditEntry,
  type JobEnd,
  type JobRecord,
  type JobStep,
  type JobStore,
  type NewJob,
} from "./jobs";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS intake_jobs (
  id TEXT PRIMARY KEY,
  seq BIGSERIAL,
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
  callback_due TIMESTAMPTZ,
  steps JSONB NOT NULL DEFAULT '[]',
  commit_sha TEXT,
  changes JSONB,
  error TEXT,
  owner TEXT,
  lease_until TIMESTAMPTZ,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS intake_jobs_idem ON intake_jobs (caller, idem_key) WHERE idem_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS intake_jobs_open ON intake_jobs (state, seq);
CREATE TABLE IF NOT EXISTS intake_audit (
  at TIMESTAMPTZ NOT NULL, caller TEXT NOT NULL, action TEXT NOT NULL, customer TEXT NOT NULL, job TEXT NOT NULL
);
`;

/** Claims are serialized across replicas by this transaction-scoped advisory lock: a claim is one short query. */
const CLAIM_LOCK = 0x1a7a4e;

type Row = JobRow;
const record = jobRecord;

/**
 * Jobs in PostgreSQL, shared by several replicas. Leases are judged by the database's clock (no
 * replica's clock matters); claims run one at a time under an advisory lock, so "no other job of
 * this stack is running" holds across replicas; jobs of different stacks run in parallel.
 */
export class PostgresJobStore implements JobStore {
  readonly kind = "postgres";
  private constructor(private readonly pool: pg.Pool) {}

  static async open(url: string): Promise<PostgresJobStore> {
    const pool = new pg.Pool({ connectionString: url, max: 8, connectionTimeoutMillis: 10_000 });
    // A dropped idle connection is the pool's to replace, not a crash.
    pool.on("error", () => {});
    try {
      await pool.query(SCHEMA);
    } catch (e) {
      await pool.end().catch(() => {});
      const err = e as NodeJS.ErrnoException;
      throw new InvalidInput(`--database ${redactUrl(url)}: cannot use it (${err.code ?? ""} ${err.message.split("\n")[0]})`.replace("( ", "("));
    }
    return new PostgresJobStore(pool);
  }

  private async tx<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.pool.connect();
    try {
      await c.query("BEGIN");
      const r = await fn(c);
      await c.query("COMMIT");
      return r;
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      throw e;
    } finally {
      c.release();
    }
  }

  async create(j: NewJob): Promise<{ job: JobRecord; existing: boolean }> {
    const insert = () =>
      this.pool.query<Row>(
        `INSERT INTO intake_jobs (id, state, action, customer, stack, request, caller, idem_key, idem_hash, callback_url, steps)
         VALUES ($1, 'queued', $2, $3, $4, $5, $6, $7, $8, $9, jsonb_build_array(jsonb_build_object('name', 'queued', 'at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))))
         ON CONFLICT (caller, idem_key) WHERE idem_key IS NOT NULL DO NOTHING RETURNING *`,
        [
          j.id,
          j.action,
          j.customer,
          j.stack,
          JSON.stringify(j.request),
          j.caller,
          j.idempotency?.key ?? null,
          j.idempotency?.hash ?? null,
          j.callbackUrl ?? null,
        ],
      );
    const r = await insert();
    if (r.rows[0]) return { job: record(r.rows[0]), existing: false };
    const had = (await this.pool.query<Row>("SELECT * FROM intake_jobs WHERE caller = $1 AND idem_key = $2", [j.caller, j.idempotency!.key])).rows[0];
    if (had.idem_hash !== j.idempotency!.hash)
      throw new IdempotencyConflict(
        `Idempotency-Key ${j.idempotency!.key} was sent before with another request (job ${had.id}); use a new key for a new request`,
      );
    return { job: record(had), existing: true };
  }

  async get(id: string): Promise<JobRecord | undefined> {
    const r = (await this.pool.query<Row>("SELECT * FROM intake_jobs WHERE id = $1", [id])).rows[0];
    return r && record(r);
  }

  async byIdempotencyKey(caller: string, key: string): Promise<JobRecord | undefined> {
    const r = (await this.pool.query<Row>("SELECT * FROM intake_jobs WHERE caller = $1 AND idem_key = $2", [caller, key])).rows[0];
    return r && record(r);
  }

  async openJobs(customer: string): Promise<JobRecord[]> {
    return (await this.pool.query<Row>("SELECT * FROM intake_jobs WHERE customer = $1 AND state IN ('queued', 'running') ORDER BY seq", [customer])).rows.map(
      record,
    );
  }

  async claim(owner: string, leaseMs: number): Promise<JobRecord | undefined> {
    return this.tx(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock($1)", [CLAIM_LOCK]);
      const r = (
        await c.query<Row>(
          `SELECT * FROM intake_jobs j WHERE (j.state = 'queued' OR (j.state = 'running' AND j.lease_until < now()))
             AND NOT EXISTS (SELECT 1 FROM intake_jobs o WHERE o.stack = j.stack AND o.id <> j.id AND o.state = 'running' AND o.lease_until >= now())
           ORDER BY j.seq LIMIT 1 FOR UPDATE SKIP LOCKED`,
        )
      ).rows[0];
      if (!r) return undefined;
      const step = { name: r.state === "running" ? "resumed" : "running", at: new Date().toISOString(), replica: owner };
      const u = await c.query<Row>(
        `UPDATE intake_jobs SET state = 'running', owner = $2, lease_until = now() + make_interval(secs => $3::double precision / 1000),
           attempts = attempts + 1, steps = steps || $4::jsonb, updated_at = now() WHERE id = $1 RETURNING *`,
        [r.id, owner, leaseMs, JSON.stringify([step])],
      );
      return record(u.rows[0]);
    });
  }

  async claimSameStack(owner: string, leaseMs: number, stack: string, limit: number): Promise<JobRecord[]> {
    if (limit < 1) return [];
    return this.tx(async (c) => {
      await c.query("SELECT pg_advisory_xact_lock($1)", [CLAIM_LOCK]);
      const step = JSON.stringify([{ name: "running", at: new Date().toISOString(), replica: owner }]);
      const r = await c.query<Row>(
        `UPDATE intake_jobs SET state = 'running', owner = $2, lease_until = now() + make_interval(secs => $3::double precision / 1000),
           attempts = attempts + 1, steps = steps || $4::jsonb, updated_at = now()
         WHERE id IN (SELECT id FROM intake_jobs WHERE state = 'queued' AND stack = $1 ORDER BY seq LIMIT $5 FOR UPDATE SKIP LOCKED) RETURNING *`,
        [stack, owner, leaseMs, step, limit],
      );
      return r.rows.sort((a, b) => Number((a as Row & { seq: string }).seq) - Number((b as Row & { seq: string }).seq)).map(record);
    });
  }

  async renew(id: string, owner: string, leaseMs: number): Promise<boolean> {
    const r = await this.pool.query(
      "UPDATE intake_jobs SET lease_until = now() + make_interval(secs => $3::double precision / 1000) WHERE id = $1 AND owner = $2 AND state = 'running'",
      [id, owner, leaseMs],
    );
    return r.rowCount === 1;
  }

  async progress(id: string, owner: string, p: { steps?: JobStep[]; commit?: string | null }): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE intake_jobs SET steps = coalesce($3::jsonb, steps), commit_sha = CASE WHEN $4::boolean THEN $5 ELSE commit_sha END, updated_at = now()
       WHERE id = $1 AND owner = $2 AND state = 'running'`,
      [id, owner, p.steps ? JSON.stringify(p.steps) : null, p.commit !== undefined, p.commit ?? null],
    );
    return r.rowCount === 1;
  }

  async finish(id: string, owner: string, end: JobEnd): Promise<boolean> {
    const step = { name: end.state, at: new Date().toISOString() };
    const r = await this.pool.query(
      `UPDATE intake_jobs SET state = $3, steps = steps || $4::jsonb, commit_sha = coalesce($5, commit_sha), changes = $6::jsonb, error = $7,
         owner = NULL, lease_until = NULL, callback_state = CASE WHEN callback_url IS NULL THEN NULL ELSE 'due' END, callback_due = now(), updated_at = now()
       WHERE id = $1 AND owner = $2 AND state = 'running'`,
      [id, owner, end.state, JSON.stringify([step]), end.commit ?? null, end.changes ? JSON.stringify(end.changes) : null, end.error ?? null],
    );
    return r.rowCount === 1;
  }

  async release(id: string, owner: string): Promise<void> {
    await this.pool.query(
      "UPDATE intake_jobs SET state = 'queued', owner = NULL, lease_until = NULL, updated_at = now() WHERE id = $1 AND owner = $2 AND state = 'running'",
      [id, owner],
    );
  }

  async claimCallback(owner: string, holdMs: number): Promise<{ job: JobRecord; tries: number } | undefined> {
    void owner;
    const r = await this.pool.query<Row>(
      `UPDATE intake_jobs SET callback_due = now() + make_interval(secs => $1::double precision / 1000), callback_tries = callback_tries + 1
       WHERE id = (SELECT id FROM intake_jobs WHERE callback_state = 'due' AND callback_due <= now() ORDER BY callback_due LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING *`,
      [holdMs],
    );
    const row = r.rows[0];
    return row && { job: record(row), tries: row.callback_tries };
  }

  async callbackDone(id: string, r: { delivered: boolean; retryMs?: number; giveUp?: boolean }): Promise<void> {
    const state = r.delivered ? "delivered" : r.giveUp ? "failed" : "due";
    await this.pool.query(
      "UPDATE intake_jobs SET callback_state = $2, callback_due = now() + make_interval(secs => $3::double precision / 1000) WHERE id = $1",
      [id, state, r.retryMs ?? 0],
    );
  }

  async audit(e: AuditEntry): Promise<void> {
    await this.pool.query("INSERT INTO intake_audit (at, caller, action, customer, job) VALUES ($1, $2, $3, $4, $5)", [
      e.at,
      e.caller,
      e.action,
      e.customer,
      e.job,
    ]);
  }

  async counts() {
    const r = await this.pool.query<{ state: JobRecord["state"]; action: JobRecord["action"]; n: string }>(
      "SELECT state, action, count(*) AS n FROM intake_jobs GROUP BY state, action",
    );
    return r.rows.map((x) => ({ state: x.state, action: x.action, n: Number(x.n) }));
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
