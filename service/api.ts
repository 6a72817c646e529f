import { createHash, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { z } from "zod";
import { checkChange, checkOnboard, customerView, OnboardError, type OnboardOptions } from "../automation/onboard";
import { ROTATED_KINDS } from "../core/rotation";
import { STATUSES } from "../core/tiers";
import { issueMessage } from "../customers/messages";
import { customerSchema } from "../customers/schema";
import { AuthError, type Authenticator, type Caller } from "./auth";
import { IdempotencyConflict, JOB_ACTIONS, JOB_STATES, publicJob, type JobAction, type JobStore } from "./jobs";
import type { JobRequest } from "./worker";

/** A PATCH: the fields of an entry a change may set, typed by the roster's own schema. */
const customerPatchSchema = z
  .strictObject({
    tier: customerSchema.shape.tier.optional(),
    registries: customerSchema.shape.registries,
    license: customerSchema.shape.license.optional(),
    status: z
      .enum(STATUSES.filter((s) => s !== "offboarded") as ["active", "suspended"], { message: "must be active or suspended (offboard with DELETE)" })
      .optional(),
  })
  .refine((p) => Object.keys(p).length > 0, { message: "names no field to change: tier, registries, license, status" });

/** A rotation: one kind (default: each the customer holds) and the overlap in days. */
const rotateSchema = z.strictObject({
  kind: z.enum(ROTATED_KINDS, { message: `must be one of ${ROTATED_KINDS.join(", ")}` }).optional(),
  overlapDays: z
    .number({ message: "must be a number of days" })
    .int({ message: "must be a whole number of days" })
    .min(1, { message: "must be at least 1" })
    .max(90, { message: "must be at most 90" })
    .default(7),
});

/** The largest request body taken (a roster entry is well under a kilobyte). */
const MAX_BODY = 64 * 1024;

/** An answer other than 2xx: the status and one line. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ApiOptions {
  store: JobStore;
  auth: Authenticator;
  onboarding: Pick<OnboardOptions, "projectDir" | "stack" | "rosterPath">;
  /** Callbacks can be asked for only when the service has a key to sign them with. */
  canCallBack: boolean;
  /** A job was queued: the worker looks now. */
  queued: () => void;
  log: (fields: Record<string, unknown>) => void;
}

/**
 * The onboarding service's HTTP API (its OpenAPI document is openApi() below): every write is
 * checked against the roster as it is now (the roster branch's tip) and answered at once (400,
 * 404, 409) or queued as a durable job (202); the worker runs it.
 */
export class Api {
  constructor(private readonly o: ApiOptions) {}

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.route(req).then(
      ({ status, body }) => send(res, status, body),
      (e: unknown) => {
        if (e instanceof HttpError || e instanceof AuthError)
          return send(res, e.status, { error: e.message }, e.status === 401 ? { "www-authenticate": 'Bearer realm="registry-intake"' } : {});
        this.o.log({ level: "error", msg: (e as Error).stack ?? String(e) });
        send(res, 500, { error: "internal error; the service's log has the details" });
      },
    );
  };

  private async route(req: IncomingMessage): Promise<{ status: number; body: unknown }> {
    const url = new URL(req.url ?? "/", "http://service");
    const p = url.pathname;
    const decode = (v: string) => {
      try {
        return decodeURIComponent(v);
      } catch {
        throw new HttpError(400, `the path ${p.slice(0, 200)} has a malformed %-escape`);
      }
    };
    const m = req.method ?? "GET";
    if (p === "/healthz" && m === "GET") return { status: 200, body: { ok: true } };
    if (p === "/openapi.json" && m === "GET") return { status: 200, body: openApi() };
    const customer = /^\/v1\/customers\/([^/]+)$/.exec(p);
    const rotate = /^\/v1\/customers\/([^/]+)\/rotate$/.exec(p);
    const job = /^\/v1\/jobs\/([^/]+)$/.exec(p);
    const routes: [boolean, string[], () => Promise<{ status: number; body: unknown }>][] = [
      [p === "/v1/customers", ["POST"], async () => this.onboard(req, await this.who(req, "write"))],
      [
        !!customer,
        ["GET", "PATCH", "DELETE"],
        async () =>
          m === "GET"
            ? (await this.who(req, "read"), this.customer(decode(customer![1])))
            : this.change(req, decode(customer![1]), m, await this.who(req, "write")),
      ],
      [!!rotate, ["POST"], async () => this.change(req, decode(rotate![1]), "ROTATE", await this.who(req, "write"))],
      [!!job, ["GET"], async () => (await this.who(req, "read"), this.job(decode(job![1])))],
    ];
    const r = routes.find(([match]) => match);
    if (!r) throw new HttpError(404, `no such endpoint: ${m} ${p} (see /openapi.json)`);
    if (!r[1].includes(m)) throw new HttpError(405, `${m} is not allowed on ${p}: ${r[1].join(", ")}`);
    return r[2]();
  }

  private async who(req: IncomingMessage, need: "read" | "write"): Promise<Caller> {
    const caller = await this.o.auth.caller(req.headers.authorization);
    if (need === "write" && caller.role !== "write") throw new AuthError(403, `caller ${caller.name} may only read; writing needs a write token`);
    return caller;
  }

  private async onboard(req: IncomingMessage, caller: Caller) {
    const body = await readJson(req);
    const entry = parsed(customerSchema, body, "entry");
    return this.queue(req, caller, "onboard", entry.id, { entry: body as Record<string, unknown> }, async () => {
      const open = (await this.o.store.openJobs(entry.id)).find((j) => j.action === "onboard");
      if (open) throw new HttpError(409, `customer ${entry.id} is being onboarded by job ${open.id}`);
      return checkOnboard(body as Record<string, unknown>, this.o.onboarding);
    });
  }

  private async change(req: IncomingMessage, id: string, method: string, caller: Caller) {
    let action: JobAction;
    let request: JobRequest;
    if (method === "PATCH") {
      action = "change";
      request = { change: parsed(customerPatchSchema, await readJson(req), "change") };
    } else if (method === "DELETE") {
      action = "offboard";
      request = { offboard: true };
    } else {
      action = "rotate";
      request = { rotate: parsed(rotateSchema, await readJson(req, {}), "rotation") };
    }
    return this.queue(req, caller, action, id, request, () => checkChange(id, request as Parameters<typeof checkChange>[1], this.o.onboarding));
  }

  /** Idempotency, the request's checks, then a queued job (202). */
  private async queue(req: IncomingMessage, caller: Caller, action: JobAction, customer: string, request: JobRequest, check: () => Promise<{ stack: string }>) {
    const key = header(req, "idempotency-key");
    if (key !== undefined && !/^[\x21-\x7e]{1,200}$/.test(key))
      throw new HttpError(400, "Idempotency-Key: must be 1-200 printable characters without spaces (a UUID will do)");
    const callbackUrl = header(req, "intake-callback-url");
    if (callbackUrl !== undefined) {
      if (!this.o.canCallBack)
        throw new HttpError(400, "Intake-Callback-Url: the service has no callback key to sign callbacks with (start it with --callback-secret-file)");
      if (!/^https?:\/\/[^\s]+$/.test(callbackUrl) || !URL.canParse(callbackUrl))
        throw new HttpError(400, `Intake-Callback-Url: ${JSON.stringify(callbackUrl.slice(0, 200))} is not an http(s) URL`);
    }
    // The request's meaning, not its bytes: the same entry with its keys in another order is the same request.
    const hash = createHash("sha256").update(canonical({ action, customer, request, callbackUrl })).digest("hex");
    if (key !== undefined) {
      const had = await this.o.store.byIdempotencyKey(caller.name, key);
      if (had) {
        if (had.idempotencyHash !== hash)
          throw new HttpError(409, `Idempotency-Key ${key} was sent before with another request (job ${had.id}); use a new key for a new request`);
        return { status: 202, body: { job: publicJob(had) } };
      }
    }
    let stack: string;
    try {
      ({ stack } = await check());
    } catch (e) {
      if (e instanceof OnboardError) throw new HttpError(statusOf(e), oneLine(e.message));
      throw e;
    }
    let created;
    try {
      created = await this.o.store.create({
        id: randomUUID(),
        action,
        customer,
        stack,
        request,
        caller: caller.name,
        callbackUrl,
        idempotency: key === undefined ? undefined : { key, hash },
      });
    } catch (e) {
      if (e instanceof IdempotencyConflict) throw new HttpError(409, e.message);
      throw e;
    }
    if (!created.existing) {
      await this.o.store.audit({ at: new Date().toISOString(), caller: caller.name, action, customer, job: created.job.id });
      this.o.log({ level: "info", msg: `queued ${action} ${customer}`, caller: caller.name, job: created.job.id, stack });
      this.o.queued();
    }
    return { status: 202, body: { job: publicJob(created.job) } };
  }

  private async customer(id: string) {
    try {
      const view = await customerView(id, this.o.onboarding);
      const jobs = (await this.o.store.openJobs(id)).map((j) => ({ id: j.id, action: j.action, state: j.state }));
      return { status: 200, body: { ...view, jobs } };
    } catch (e) {
      if (e instanceof OnboardError) throw new HttpError(statusOf(e), oneLine(e.message));
      throw e;
    }
  }

  private async job(id: string) {
    const j = await this.o.store.get(id);
    if (!j) throw new HttpError(404, `no job ${id}`);
    return { status: 200, body: publicJob(j) };
  }
}

/** 404 unknown customer, 409 conflict, 503 git or the remote unreachable (try again), else 400. */
function statusOf(e: OnboardError): number {
  return { unknown: 404, conflict: 409, unavailable: 503, input: 400 }[e.why];
}

/** JSON with object keys sorted at every depth. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(",")}]`;
  if (v && typeof v === "object")
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  return JSON.stringify(v);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function oneLine(s: string): string {
  return s
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .join(" ");
}

/** The body as JSON (at most MAX_BODY bytes); `empty` when there is none and that is allowed. */
async function readJson(req: IncomingMessage, empty?: unknown): Promise<unknown> {
  const type = header(req, "content-type") ?? "";
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    size += c.length;
    if (size > MAX_BODY) throw new HttpError(413, `the body is over ${MAX_BODY / 1024} KiB; a roster entry is far smaller`);
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (!text.trim()) {
    if (empty !== undefined) return empty;
    throw new HttpError(400, "the body is empty: send the JSON object (Content-Type: application/json)");
  }
  if (type && !/^application\/(.+\+)?json\b/i.test(type)) throw new HttpError(415, `Content-Type ${type}: send application/json`);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new HttpError(400, `the body is not JSON: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** The body checked by a schema; refused with the roster loader's own messages, one line. */
function parsed<S extends z.ZodType>(schema: S, body: unknown, what: string): z.output<S> {
  const r = schema.safeParse(body, { reportInput: true });
  if (r.success) return r.data;
  throw new HttpError(400, `not a valid ${what}: ${r.error.issues.map((i) => `${i.path.join(".") || "(body)"}: ${issueMessage(i)}`).join("; ")}`);
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body, null, status === 200 && (body as { openapi?: string })?.openapi ? 2 : 0);
  res.writeHead(status, { "content-type": "application/json", "cache-control": "no-store", ...headers }).end(`${text}\n`);
}

/** JSON Schema of a zod schema, as a request body takes it. */
const jsonSchema = (s: z.ZodType) => z.toJSONSchema(s, { io: "input", unrepresentable: "any", target: "draft-2020-12" });

/** The OpenAPI 3.1 document of the API, generated from the schemas the API checks with (committed as service/openapi.json). */
export function openApi(): Record<string, unknown> {
  const error = { type: "object", properties: { error: { type: "string", description: "one line: what was refused and how to fix it" } }, required: ["error"] };
  const step = {
    type: "object",
    properties: { name: { type: "string" }, at: { type: "string", format: "date-time" }, replica: { type: "string" } },
    required: ["name", "at"],
  };
  const job = {
    type: "object",
    properties: {
      id: { type: "string" },
      state: { enum: [...JOB_STATES] },
      action: { enum: [...JOB_ACTIONS] },
      customer: { type: "string" },
      stack: { type: "string" },
      steps: { type: "array", items: { $ref: "#/components/schemas/Step" } },
      commit: { type: ["string", "null"], description: "the roster commit holding the change, once pushed" },
      changes: { type: ["object", "null"], additionalProperties: { type: "integer" }, description: "the engine's change summary" },
      error: { type: ["string", "null"] },
      createdAt: { type: "string", format: "date-time" },
      updatedAt: { type: "string", format: "date-time" },
    },
    required: ["id", "state", "action", "customer", "stack", "steps", "commit", "changes", "error", "createdAt", "updatedAt"],
  };
  const answer = (d: string) => ({ description: d, content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } });
  const accepted = {
    description: "queued: the job",
    content: { "application/json": { schema: { type: "object", properties: { job: { $ref: "#/components/schemas/Job" } }, required: ["job"] } } },
  };
  const writeHeaders = [
    {
      name: "Idempotency-Key",
      in: "header",
      required: false,
      schema: { type: "string", maxLength: 200 },
      description: "the same key with the same request answers the same job; with another request, 409",
    },
    {
      name: "Intake-Callback-Url",
      in: "header",
      required: false,
      schema: { type: "string", format: "uri" },
      description: 'POSTed `{ job }` when the job ends, signed `Intake-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`',
    },
  ];
  const id = { name: "id", in: "path", required: true, schema: { type: "string" } };
  const body = (ref: string) => ({ required: true, content: { "application/json": { schema: { $ref: `#/components/schemas/${ref}` } } } });
  const common = { "401": answer("no or unknown credentials"), "403": answer("the caller may not do this") };
  return {
    openapi: "3.1.0",
    info: {
      title: "registry-intake onboarding service",
      version: "1",
      description: "Onboards, changes, rotates and offboards customers: each write is a commit on the roster branch and a Pulumi update, run as a durable job.",
    },
    security: [{ bearer: [] }],
    paths: {
      "/v1/customers": {
        post: {
          summary: "onboard one roster entry",
          parameters: writeHeaders,
          requestBody: body("Customer"),
          responses: {
            "202": accepted,
            "400": answer("invalid entry"),
            "409": answer("the id exists, or the Idempotency-Key was used with another request"),
            ...common,
          },
        },
      },
      "/v1/customers/{id}": {
        get: {
          summary: "the customer now: status, tier, namespaces per kind, credential commands",
          parameters: [id],
          responses: {
            "200": { description: "the customer", content: { "application/json": { schema: { type: "object" } } } },
            "404": answer("no such customer"),
            ...common,
          },
        },
        patch: {
          summary: "change tier, registries, license.expires or status (suspend, reinstate)",
          parameters: [id, ...writeHeaders],
          requestBody: body("CustomerChange"),
          responses: {
            "202": accepted,
            "400": answer("invalid change"),
            "404": answer("no such customer"),
            "409": answer("the customer is offboarded"),
            ...common,
          },
        },
        delete: {
          summary: "offboard (credentials deleted, repositories kept)",
          parameters: [id, ...writeHeaders],
          responses: { "202": accepted, "404": answer("no such customer"), "409": answer("already offboarded"), ...common },
        },
      },
      "/v1/customers/{id}/rotate": {
        post: {
          summary: "rotate a kind's long-lived credential",
          parameters: [id, ...writeHeaders],
          requestBody: body("Rotation"),
          responses: {
            "202": accepted,
            "400": answer("nothing to rotate"),
            "404": answer("no such customer"),
            "409": answer("a previous generation is still inside its overlap"),
            ...common,
          },
        },
      },
      "/v1/jobs/{id}": {
        get: {
          summary: "a job: state, steps with times, the commit, the change summary, the error",
          parameters: [id],
          responses: {
            "200": { description: "the job", content: { "application/json": { schema: { $ref: "#/components/schemas/Job" } } } },
            "404": answer("no such job"),
            ...common,
          },
        },
      },
      "/healthz": { get: { summary: "liveness", security: [], responses: { "200": { description: "alive" } } } },
      "/openapi.json": { get: { summary: "this document", security: [], responses: { "200": { description: "OpenAPI 3.1" } } } },
    },
    components: {
      securitySchemes: {
        bearer: { type: "http", scheme: "bearer", description: "a token of the service's tokens file, or an OIDC JWT (scope intake:read or intake:write)" },
      },
      schemas: {
        Customer: jsonSchema(customerSchema),
        CustomerChange: jsonSchema(customerPatchSchema),
        Rotation: jsonSchema(rotateSchema),
        Job: job,
        Step: step,
        Error: error,
      },
    },
  };
}
