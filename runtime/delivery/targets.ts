import type { RegistryKind } from "../../core/tiers";
import { InvalidInput } from "../../core/errors";
import { apiHost, formatReference, ImageReferenceError, parseReference } from "../../core/reference";
import { RegistryClient } from "../registry/client";
import { TokenRefused } from "../registry/errors";
import { errorText, withRetry, type RetryPolicy } from "./retry";
import type { CredentialFailure, CredentialGroup, DeliveryRequest, Target, TargetResult } from "./types";

/** One credential, the targets it reaches and the client that speaks for it. */
export interface Group {
  group: CredentialGroup;
  targets: Target[];
  client: RegistryClient;
}

/** The build and version make valid references and tags, or bad input naming each problem. */
export function validateNames(req: DeliveryRequest): void {
  const problems: string[] = [];
  try {
    parseReference(`example.com/${req.build}:${req.version}`);
  } catch (e) {
    problems.push(e instanceof ImageReferenceError ? e.message.replace("example.com/", "") : String(e));
  }
  if (req.version === "latest") problems.push(`version "latest": a delivery names a version; latest is moved after it`);
  if (req.version.length > 100) problems.push(`version "${req.version}": at most 100 characters, so that <version>-<arch> tags stay valid`);
  if (problems.length) throw new InvalidInput(`cannot deliver build "${req.build}" version "${req.version}":\n  ${problems.join("\n  ")}`);
}

/**
 * The targets access allows, by kind; the others settled `denied` through `finish`. Asked before
 * the source is read: a denied target costs nothing and never gets a credential.
 */
export function allowedTargets(req: DeliveryRequest, finish: (r: TargetResult) => void): Map<RegistryKind, Target[]> {
  const allowed = new Map<RegistryKind, Target[]>();
  for (const t of req.targets) {
    const decision = req.access(t.customer, t.kind);
    let namespace: string;
    try {
      namespace = req.namespace(t.customer, t.kind);
    } catch (e) {
      finish({ ...t, target: `${t.kind}:${t.customer}`, status: "denied", seconds: 0, bytes: 0, attempts: 0, tags: [], reason: errorText(e) });
      continue;
    }
    const ref = parseReference(`${namespace}${req.build}:${req.version}`);
    if (!decision.allowed) {
      finish({ ...t, target: formatReference(ref), status: "denied", seconds: 0, bytes: 0, attempts: 0, tags: [], reason: decision.reason });
      continue;
    }
    const list = allowed.get(t.kind) ?? [];
    list.push({ ...t, ref, repository: ref.repository, host: ref.registry, fixedTags: req.immutableTags?.(t.kind) ?? false });
    allowed.set(t.kind, list);
  }
  return allowed;
}

/** Each kind's credentials, grouped by what each reaches; a target no credential reaches is settled `failed` with the reason. */
export async function credentialGroups(req: DeliveryRequest, allowed: Map<RegistryKind, Target[]>, finish: (r: TargetResult) => void): Promise<Group[]> {
  const groups: Group[] = [];
  for (const [kind, targets] of allowed) {
    let answer: (CredentialGroup | CredentialFailure)[];
    try {
      answer = await req.credentials(
        kind,
        targets.map((t) => t.customer),
      );
    } catch (e) {
      answer = [{ customers: targets.map((t) => t.customer), reason: errorText(e) }];
    }
    const creds = answer.filter((g): g is CredentialGroup => !("reason" in g));
    const refused = answer.filter((g): g is CredentialFailure => "reason" in g);
    for (const g of creds)
      groups.push({ group: g, targets: targets.filter((t) => g.customers.includes(t.customer)), client: new RegistryClient(g.credential, req.fetchImpl) });
    for (const t of targets.filter((t) => !creds.some((g) => g.customers.includes(t.customer)))) {
      const why = refused.find((f) => f.customers.includes(t.customer));
      finish({
        customer: t.customer,
        kind,
        target: formatReference(t.ref),
        status: "failed",
        seconds: 0,
        bytes: 0,
        attempts: 1,
        tags: [],
        reason: why ? `no ${kind} delivery credential: ${why.reason}` : `no ${kind} delivery credential reaches customer ${t.customer}`,
      });
    }
  }
  return groups;
}

/**
 * Credentials the user gave are tried once (a token for reading the first target: no registry
 * request but the host's `GET /v2/`) before anything is written: a wrong password is bad input,
 * not a failed delivery.
 */
export async function checkGiven(list: Group[], policy: RetryPolicy): Promise<void> {
  const refused: string[] = [];
  await Promise.all(
    list
      .filter(({ group, targets }) => group.given && targets.length)
      .map(async ({ group, targets, client }) => {
        try {
          await withRetry(() => client.authorize(apiHost(targets[0].ref), targets[0].repository, "pull"), policy);
        } catch (e) {
          if (e instanceof TokenRefused && e.status === 401)
            refused.push(
              `${group.given}: ${group.registry}'s token endpoint refused ${group.credential?.username ?? "the credential"} (401): the value is wrong or stale; set it again and retry (nothing was delivered)`,
            );
        }
      }),
  );
  if (refused.length) throw new InvalidInput([...new Set(refused)].sort().join("; "));
}
