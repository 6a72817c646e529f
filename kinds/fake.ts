import { createHash } from "node:crypto";

/*
 * The fake cloud's shared parts: what each kind's makers (kinds/<kind>/fake.ts) build their
 * believable identifiers from. planning/fake-cloud.ts puts the kinds' makers together.
 */

/** What the fake cloud needs to invent believable identifiers. */
export interface FakeCloudContext {
  accountId: string;
  region: string;
  /** The GitHub organisation the provider acts for. */
  githubOwner?: string;
  /** Kept resources the stack's state holds (its kept list's `declared`): updated, not created. */
  existing?: ReadonlySet<string>;
  /** What a `pulumi.StackReference` to the platform stack reads (a shard stack's plan). */
  platformOutputs?: Record<string, unknown>;
}

export type State = Record<string, unknown>;
export type Maker = (name: string, inputs: State, ctx: FakeCloudContext) => { id: string | undefined; state: State };

/**
 * One kind's part of the fake cloud: realistic outputs per resource type it declares, and what
 * its cloud refuses. Both the offline plan and the local provider plugins (providers/) use them.
 */
export interface KindFake {
  makers: Record<string, Maker>;
  /** What the cloud refuses at create: its error for these inputs, or undefined. */
  refusal?(type: string, inputs: State): string | undefined;
  /** What the cloud refuses on update, given what it holds (`stored`) and the new inputs. */
  updateRefusal?(type: string, stored: State, inputs: State, changedKeys: string[]): string | undefined;
  /** What a delete leaves in the cloud: the outputs as they stay, or undefined when it is gone. */
  deleteLeaves?(type: string, outputs: State): State | undefined;
}

export function digest(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex");
}

/** Upper-case base32-ish id like IAM's unique ids and access key ids. */
export function awsId(prefix: string, seed: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const h = Buffer.from(digest(prefix, seed), "hex");
  let out = prefix;
  for (let i = 0; out.length < 20; i++) out += alphabet[h[i] % 32];
  return out;
}

export const CREATED = "2026-01-01T00:00:00Z";

/** A UUID derived from a seed, for Azure subscription ids and the like. */
export function uuid(seed: string): string {
  const h = digest("uuid", seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * A number of `digits` digits (no leading zero) from a seed, spread evenly over its whole range
 * (the leading digits of a hash's decimal form cluster: two GitHub teams shared an id at a few
 * thousand customers, and the policy pack saw one customer's grants as another's).
 */
export function numeric(seed: string, digits: number): string {
  const low = 10n ** BigInt(digits - 1);
  return (low + (BigInt(`0x${digest("n", seed).slice(0, 32)}`) % (9n * low))).toString();
}

/**
 * Ids of one type issued in this process, so two names never share one: on the rare clash the
 * later name takes the next candidate of its own seed. Same name, same id (a resource read again).
 */
const issued = new Map<string, Map<string, string>>();
export function uniqueId(type: string, name: string, make: (attempt: number) => string): string {
  const ids = issued.get(type) ?? issued.set(type, new Map()).get(type)!;
  for (let attempt = 0; ; attempt++) {
    const id = make(attempt);
    const holder = ids.get(id);
    if (holder === undefined || holder === name) {
      ids.set(id, name);
      return id;
    }
  }
}

export function alnum(seed: string, n: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const h = Buffer.from(digest("alnum", seed) + digest("alnum2", seed), "hex");
  let out = "";
  for (let i = 0; out.length < n; i++) out += alphabet[h[i % h.length] % alphabet.length];
  return out;
}

/** Kubernetes auto-names a resource `<logical>-<5 random chars>` unless metadata.name is set. */
export function k8s(name: string, i: State): { id: string; state: State } {
  const meta = (i.metadata ?? {}) as Record<string, unknown>;
  const n = String(meta.name ?? `${name}-${digest("k8s", name).slice(0, 8)}`);
  const ns = String(meta.namespace ?? "default");
  return { id: `${ns}/${n}`, state: { ...i, metadata: { ...meta, name: n, namespace: ns, uid: uuid(`${ns}/${n}`) } } };
}
