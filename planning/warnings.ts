import { renamedSettingWarnings, type Settings } from "../core/settings";
import type { Customer } from "../customers/roster";
import { KINDS, resourceFacts } from "../kinds";
import type { Measure } from "../kinds/types";
import type { PlannedResource } from "./types";

/** Warn from this share of a limit on, so the warning comes before the roster crosses it. */
const WARN_AT = 0.8;

function check({ what, used, limit, advice }: Measure): string[] {
  if (used < limit * WARN_AT) return [];
  const verdict = used > limit ? "is OVER the limit of" : "is close to the limit of";
  return [`${what}: ${used} planned ${verdict} ${limit} (${Math.round((used / limit) * 100)}%): ${advice}`];
}

/** Each kind's per-customer resources that fill a shared account, registry or project (kinds/<kind>/kind.ts, `quotas`). */
const QUOTAS = Object.values(KINDS).flatMap((k) => (k.quotas ?? []).map((q) => ({ ...q, kind: k.kind })));

/**
 * How many of each per-customer resource the whole roster holds in the shared account, registry
 * or project, whichever stack declares them: a shard stack plans only its slice, but every shard
 * fills the same IAM account and ACR registry. Customers not offboarded, with the kind enabled.
 */
function rosterCounts(customers: Customer[], settings: Settings): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of customers) {
    if (c.status === "offboarded") continue;
    for (const { type, kind, per } of QUOTAS) {
      if (!settings.enabledKinds.includes(kind) || !c.registries.includes(kind)) continue;
      counts.set(type, (counts.get(type) ?? 0) + per(c));
    }
  }
  return counts;
}

/**
 * Warnings for limits the plan would reach, as each kind declares them: ACR tokens and scope maps
 * per registry SKU, IAM users per account, ECR repositories per region, service accounts per
 * Google Cloud project, inline IAM policy sizes, Artifact Registry cleanup policies per
 * repository. Counts are this stack's, or on a sharded stack the whole roster's (`roster`: every
 * shard fills the same account); other users of the same account or registry add to them.
 */
export function quotaWarnings(resources: PlannedResource[], settings: Settings, roster?: Customer[]): string[] {
  const whole = settings.shard && roster ? rosterCounts(roster, settings) : undefined;
  const count = (type: string) => whole?.get(type) ?? (whole ? 0 : resources.filter((r) => r.custom && r.type === type).length);
  const out: string[] = [];
  for (const q of QUOTAS) {
    const limit = q.limit(settings);
    if (limit) out.push(...check({ ...limit, used: count(q.type) }));
  }
  for (const k of Object.values(KINDS)) out.push(...(k.platformWarnings?.(resources, settings, check) ?? []));
  for (const r of resources) out.push(...(resourceFacts(r.type)?.warnings?.(r.inputs, check) ?? []));
  return out;
}

/** Roster and stack settings that agree with each other only in part. */
export function configWarnings(customers: Customer[], settings: Settings, stackCustomers: Customer[] = customers): string[] {
  const out: string[] = renamedSettingWarnings(settings);
  const tokens = settings.ghcr?.machineUserTokens ?? {};
  const here = new Set(stackCustomers.map((c) => c.id));
  const where = settings.shard ? ` --stack ${settings.stack}` : "";
  // Only the customers this stack declares: a shard's PATs are in its own file.
  for (const c of stackCustomers) {
    const mu = c.github?.machineUser;
    if (mu && c.registries.includes("ghcr") && settings.enabledKinds.includes("ghcr") && !(c.id in tokens)) {
      out.push(
        `customer ${c.id}: machine user ${mu} has no PAT in registry-intake:ghcr.machineUserTokens.${c.id} ` +
          `(\`pulumi config set --secret --path 'registry-intake:ghcr.machineUserTokens.${c.id}'${where}\`); it gets no GHCR credential or pull secret until then`,
      );
    }
  }
  // Short-lived kinds in a Kubernetes namespace, with nothing to keep their pull secrets fresh.
  if (!settings.pullSecrets) {
    const shortLived = (c: Customer) =>
      c.registries.filter((k) => settings.enabledKinds.includes(k) && (k === "ecr" || k === "acr" || (k === "gar" && !settings.gar?.serviceAccountKeys)));
    const empty = stackCustomers.filter((c) => c.kubernetes?.namespace && c.status !== "offboarded" && shortLived(c).length > 0);
    if (empty.length > 0) {
      const named = empty
        .slice(0, 5)
        .map((c) => `${c.id} (${shortLived(c).join(", ")})`)
        .join(", ");
      out.push(
        `${empty.length} customer(s) with a Kubernetes namespace get empty pull secrets for short-lived kinds: ${named}${empty.length > 5 ? `, +${empty.length - 5} more` : ""}; ` +
          "set registry-intake:pullSecrets (mode eso or refresher) to keep them filled, or run the command each Secret's registry-intake/refresh annotation names",
      );
    }
  }
  const byId = new Map(customers.map((c) => [c.id, c]));
  for (const id of Object.keys(tokens)) {
    const c = byId.get(id);
    if (!c?.github?.machineUser) out.push(`registry-intake:ghcr.machineUserTokens.${id}: no customer ${id} with a github.machineUser; the token is unused`);
    else if (!here.has(id))
      out.push(
        `registry-intake:ghcr.machineUserTokens.${id}: customer ${id} is not declared by stack ${settings.stack}; set the token on its own (shard) stack`,
      );
  }
  return out;
}
