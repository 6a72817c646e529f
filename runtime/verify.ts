import { createHash } from "node:crypto";
import type { Settings } from "../core/settings";
import type { RegistryKind } from "../core/tiers";
import type { Roster } from "../customers/roster";
import { customerState } from "../customers/status";
import { customerNamespace } from "../kinds";
import { baseUrl } from "./registry/auth";
import { RegistryClient } from "./registry/client";
import { RegistryError } from "./registry/errors";
import { AccessDenied, mintFor } from "./mint";
import { InvalidInput } from "../core/errors";
import { KINDS } from "../kinds";
import type { MintContext } from "./mint/types";
import { entitledProducts } from "../customers/entitlements";

/** One request of the proof, as an auditor reads it. */
interface Probe {
  what: "list own" | "list neighbour's" | "list not entitled" | "push probe" | "delete probe";
  repository: string;
  status: number;
  /** What isolation requires of this request. */
  expected: "allowed" | "refused";
  ok: boolean;
  at: string;
  /** Why a result that is not the expected one is still no failure. */
  note?: string;
}

interface KindEvidence {
  customer: string;
  kind: RegistryKind;
  /** Whether the customer's license allows the kind today; a denied customer must get no credential. */
  licensed: boolean;
  /** The credential was minted (never printed), or the reason it was refused. */
  minted: boolean;
  reason?: string;
  /** Nothing could be checked (no credential to test with: a PAT, a key or a subscription not given; a roster entry without a GHCR machine user): `reason` says why. */
  skipped?: boolean;
  registry?: string;
  /** The customer whose namespace was tried as the neighbour. */
  neighbour?: string;
  /** What the evidence lacks, e.g. no neighbour on this kind to try. */
  note?: string;
  probes: Probe[];
  ok: boolean;
}

export interface VerifyReport {
  stack: string;
  startedAt: string;
  finishedAt: string;
  results: KindEvidence[];
  ok: boolean;
  /** Some registry could not be reached: the evidence is incomplete (exit 4), not a failed isolation. */
  unreachable: boolean;
  /** Pairs not checked, each with its reason in `results`. */
  skipped: number;
}

export interface VerifyOptions {
  settings: Settings;
  roster: Roster;
  customers: string[];
  kinds?: RegistryKind[];
  /** Push and delete a tiny probe image in the customer's own namespace. */
  write?: boolean;
  /** Per-kind minting context, as `intake token` builds it. */
  mint: (customer: string) => Omit<MintContext, "settings" | "roster">;
  fetchImpl?: typeof fetch;
  now?: () => Date;
  progress?: (e: KindEvidence) => void;
}

/** Repository names tried: the customer's default repository, and the probe's. */
const OWN_REPOSITORY = "app";
const PROBE_REPOSITORY = "intake-verify-probe";

/**
 * Evidence that each customer's credential reaches its own namespace and nothing else: for each
 * kind it holds, mint its credential, list its own repository (allowed: 200, or 404 for one not
 * pushed yet), list a neighbour's (refused: 401 or 403; anything else means the registry let the
 * request through), and with `write` push and delete a probe image of its own. A customer the
 * license denies must get no credential at all.
 */
export async function verify(o: VerifyOptions): Promise<VerifyReport> {
  const now = o.now ?? (() => new Date());
  const startedAt = now().toISOString();
  const results: KindEvidence[] = [];
  for (const id of o.customers) {
    const c = o.roster.customers.find((x) => x.id === id);
    if (!c) continue;
    const kinds = c.registries.filter((k) => o.settings.enabledKinds.includes(k) && (!o.kinds || o.kinds.includes(k)));
    for (const kind of kinds) {
      const e = await verifyKind(o, id, kind, now);
      results.push(e);
      o.progress?.(e);
    }
  }
  const unreachable = results.some((r) => r.probes.some((p) => p.status === 0));
  return {
    stack: o.settings.stack,
    startedAt,
    finishedAt: now().toISOString(),
    results,
    ok: results.every((r) => r.ok),
    unreachable,
    skipped: results.filter((r) => r.skipped).length,
  };
}

async function verifyKind(o: VerifyOptions, id: string, kind: RegistryKind, now: () => Date): Promise<KindEvidence> {
  const c = o.roster.customers.find((x) => x.id === id)!;
  // A customer entitled to no product of the catalogue gets no credential, rightly.
  const entitledToSome = !o.settings.products || entitledProducts(c, o.settings.products, o.settings.tierEntitlements).length > 0;
  const licensed = customerState(c, o.settings.asOf).status === "active" && o.settings.tierTable[c.tier].includes(kind) && entitledToSome;
  let cred;
  try {
    cred = await mintFor(id, kind, { ...o.mint(id), settings: o.settings, roster: o.roster });
  } catch (err) {
    // Nothing to test with: said, and the other pairs are checked.
    if (err instanceof InvalidInput && !(err instanceof AccessDenied))
      return { customer: id, kind, licensed, minted: false, skipped: true, reason: err.message, probes: [], ok: true };
    if (!(err instanceof AccessDenied)) throw err;
    // Refused: right for a customer the license denies, wrong for one it allows.
    return { customer: id, kind, licensed, minted: false, reason: err.message, probes: [], ok: !licensed };
  }
  // The path under the registry's host (the credential's registry may name the host another way: an ECR proxy endpoint).
  const ns = (customer: string, product?: string) => {
    const full = customerNamespace(kind, customer, o.settings, product);
    return full.slice(full.indexOf("/") + 1);
  };
  const client = new RegistryClient({ username: cred.username, password: cred.password }, o.fetchImpl);
  const probes: Probe[] = [];
  const probe = async (
    what: Probe["what"],
    repository: string,
    expected: Probe["expected"],
    send: () => Promise<Response>,
    allowed: (s: number) => boolean,
  ) => {
    let status: number;
    try {
      const r = await send();
      await r.body?.cancel();
      status = r.status;
    } catch (err) {
      // A token endpoint that refuses the scope outright is a refusal too; a registry out of reach is no evidence at all.
      if (err instanceof RegistryError) status = err.status;
      else if (err instanceof TypeError && /fetch failed/.test(err.message)) {
        const cause = (err as { cause?: { code?: string; message?: string } }).cause;
        probes.push({
          what,
          repository,
          status: 0,
          expected,
          ok: false,
          at: now().toISOString(),
          note: `unreachable: ${cause?.code ?? cause?.message ?? err.message}`,
        });
        return;
      } else throw err;
    }
    const refused = status === 401 || status === 403;
    probes.push({ what, repository, status, expected, ok: expected === "allowed" ? allowed(status) : refused, at: now().toISOString() });
  };
  const list = (repository: string) => () => client.request(cred.registry, `/v2/${repository}/tags/list`, { method: "GET", repository, actions: "pull" });

  // With a product catalogue, repositories live in product folders (or repositories): the own one
  // tried is the first entitled product's, and a product not entitled must be refused.
  const catalogue = o.settings.products;
  const entitled = catalogue ? entitledProducts(c, catalogue, o.settings.tierEntitlements) : [];
  // A product's repository path under a customer's namespace (a product folder, or on Artifact Registry a repository of its own).
  const at = (customer: string, product: string | undefined, repository?: string) =>
    product && catalogue ? `${ns(customer, product)}${repository ?? catalogue[product].repositories[0]}` : `${ns(customer)}${repository ?? OWN_REPOSITORY}`;
  const own = catalogue ? entitled[0] : undefined;
  const notEntitled = catalogue ? Object.keys(catalogue).find((p) => !entitled.includes(p)) : undefined;
  const notes: string[] = [];
  if (catalogue && !own) notes.push("entitled to no product: no repository of its own to list");
  if (!catalogue || own) {
    await probe("list own", at(id, own), "allowed", list(at(id, own)), (s) => s === 200 || s === 404);
    if (probes[0].status === 0)
      return {
        customer: id,
        kind,
        licensed,
        minted: true,
        registry: cred.registry,
        probes,
        ok: false,
        note: `${cred.registry} is out of reach: nothing proven`,
      };
  }
  if (notEntitled) await probe("list not entitled", at(id, notEntitled), "refused", list(at(id, notEntitled)), (s) => s === 200 || s === 404);
  else if (catalogue) notes.push("entitled to every product: none to try refused");
  const neighbour = o.roster.customers
    .map((x) => x.id)
    .filter((x) => x !== id && o.roster.customers.find((y) => y.id === x)!.registries.includes(kind))
    .sort()[0];
  // The neighbour's repository tried is one this customer would reach by name if its own folder were not enforced.
  if (neighbour)
    await probe("list neighbour's", at(neighbour, own ?? notEntitled), "refused", list(at(neighbour, own ?? notEntitled)), (s) => s === 200 || s === 404);
  else notes.push(`no other customer holds ${kind}: no neighbour's namespace to try`);
  const note = notes.length ? notes.join("; ") : undefined;
  // A pull-only robot must be refused the push.
  if (o.write && (!catalogue || own))
    await writeProbe(
      client,
      cred.registry,
      at(id, own, PROBE_REPOSITORY),
      probes,
      now,
      kind === "distribution" && c.distribution?.access === "pull" ? "refused" : "allowed",
      KINDS[kind].deletes(c),
    );
  return {
    customer: id,
    kind,
    licensed,
    minted: true,
    registry: cred.registry,
    neighbour,
    probes,
    ok: licensed && probes.every((p) => p.ok),
    ...(note ? { note } : {}),
  };
}

/**
 * Push a 2-byte config and an empty-layered image manifest, then delete it by digest: the
 * deletion must go as the kind says the credential may (`deletes`); a registry that deletes no
 * manifests (405) leaves that untested, and the report says so.
 */
async function writeProbe(
  client: RegistryClient,
  host: string,
  repository: string,
  probes: Probe[],
  now: () => Date,
  expected: Probe["expected"],
  deletes: { may: boolean; why: string },
): Promise<void> {
  const config = Buffer.from("{}");
  const configDigest = `sha256:${createHash("sha256").update(config).digest("hex")}`;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.length },
      layers: [],
    }),
  );
  const manifestDigest = `sha256:${createHash("sha256").update(manifest).digest("hex")}`;
  const record = (what: Probe["what"], status: number, ok: boolean): void => {
    probes.push({ what, repository, status, expected, ok: expected === "allowed" ? ok : status === 401 || status === 403, at: now().toISOString() });
  };
  const start = await client.request(host, `/v2/${repository}/blobs/uploads/`, { method: "POST", repository, actions: "pull,push" });
  await start.body?.cancel();
  const location = start.headers.get("location");
  if (start.status !== 202 || !location) return record("push probe", start.status, false);
  const upload = new URL(location, `${baseUrl(host)}/`);
  upload.searchParams.set("digest", configDigest);
  const put = await client.request(host, `${upload.pathname}${upload.search}`, {
    method: "PUT",
    body: config,
    headers: { "content-type": "application/octet-stream" },
    repository,
    actions: "pull,push",
  });
  await put.body?.cancel();
  if (put.status !== 201) return record("push probe", put.status, false);
  const tag = `verify-${now()
    .toISOString()
    .replace(/[^0-9]/g, "")
    .slice(0, 14)}`;
  const m = await client.request(host, `/v2/${repository}/manifests/${tag}`, {
    method: "PUT",
    body: manifest,
    headers: { "content-type": "application/vnd.oci.image.manifest.v1+json" },
    repository,
    actions: "pull,push",
  });
  await m.body?.cancel();
  record("push probe", m.status, m.status === 201);
  if (m.status !== 201) return;
  const del = await client.request(host, `/v2/${repository}/manifests/${manifestDigest}`, { method: "DELETE", repository, actions: "delete" });
  await del.body?.cancel();
  const refused = del.status === 401 || del.status === 403;
  const note =
    del.status === 405
      ? `the registry deletes no manifests: not tested; the probe stays, tagged ${tag}`
      : refused
        ? `${deletes.why}; the probe stays, tagged ${tag}`
        : del.status === 202 && !deletes.may
          ? `deleted, though ${deletes.why}`
          : undefined;
  const ok = del.status === 405 || (deletes.may ? del.status === 202 : refused);
  probes.push({
    what: "delete probe",
    repository,
    status: del.status,
    expected: deletes.may ? "allowed" : "refused",
    ok,
    at: now().toISOString(),
    ...(note ? { note } : {}),
  });
}

/** The report as text, one line per request. */
export function renderVerifyText(r: VerifyReport): string {
  const lines = [`Isolation evidence for stack ${r.stack}, ${r.startedAt} to ${r.finishedAt}`];
  for (const e of r.results) {
    const head = `${e.ok ? "ok  " : "FAIL"} ${e.customer} ${e.kind}`;
    if (e.skipped) {
      lines.push(`skip ${e.customer} ${e.kind}: ${e.reason}`);
      continue;
    }
    if (!e.minted) {
      lines.push(`${head}: no credential (${e.reason})${e.licensed ? " but the license allows it" : ""}`);
      continue;
    }
    lines.push(`${head} at ${e.registry}${e.note ? ` (${e.note})` : ""}`);
    for (const p of e.probes)
      lines.push(
        `     ${p.ok ? "ok  " : "FAIL"} ${p.what} ${p.repository}: ${p.status}, ${p.expected === "allowed" ? "must be allowed" : "must be refused"} (${p.at})${p.note ? `: ${p.note}` : ""}`,
      );
  }
  const failed = r.results.filter((e) => !e.ok).length;
  const checked = r.results.length - r.skipped;
  // What the evidence is made of: requests to registries, and credentials refused as the license says.
  const probed = r.results.filter((e) => e.minted).length;
  const how = `: ${probed} probed at their registry, ${checked - probed} refused a credential as their license says`;
  const skipped = r.skipped ? `; ${r.skipped} skipped (no credential to test with)` : "";
  lines.push(
    failed === 0
      ? `Isolation holds: ${checked} customer-kind pair(s) checked${how}${skipped}.`
      : `${failed} of ${checked} customer-kind pair(s) FAILED${how}${skipped}.`,
  );
  return lines.join("\n");
}

/** The report as markdown, for an audit file. */
export function renderVerifyMarkdown(r: VerifyReport): string {
  const rows = r.results.flatMap((e) =>
    e.minted
      ? e.probes.map(
          (p) =>
            `| ${e.customer} | ${e.kind} | ${p.what} | \`${p.repository}\` | ${p.status} | ${p.expected} | ${p.ok ? "ok" : "**FAIL**"}${p.note ? ` (${p.note})` : ""} | ${p.at} |`,
        )
      : e.skipped
        ? [`| ${e.customer} | ${e.kind} | mint | | | | skipped (${e.reason}) | |`]
        : [`| ${e.customer} | ${e.kind} | mint | | | ${e.licensed ? "allowed" : "refused"} | ${e.ok ? "ok" : "**FAIL**"} (${e.reason}) | |`],
  );
  return [
    `## Isolation evidence: stack ${r.stack}`,
    "",
    `From ${r.startedAt} to ${r.finishedAt}: ${r.ok ? "isolation holds" : "**isolation FAILED**"}${r.skipped ? ` (${r.skipped} customer-kind pair(s) skipped: no credential to test with)` : ""}.`,
    "",
    "| customer | kind | request | repository | status | must be | result | at |",
    "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
  ].join("\n");
}
