import { LABEL } from "../../core/labels";
import { KIND_RESOURCES, resourceFacts } from "../../kinds";
import { customerOf, kindOfType, shown, type Finding, type IntakeRule } from "../model";

/** ECR repositories scan on push. */
export const ecrScanOnPush: IntakeRule = {
  name: "ecr-scan-on-push",
  description: "Customer ECR repositories scan images on push.",
  enforcementLevel: "advisory",
  resource: (r, ctx): Finding[] => {
    const scans = resourceFacts(r.type)?.scansOnPush;
    return scans && !scans(r.props) ? [{ customer: customerOf(r, ctx.repoPrefix).id ?? null, message: `${shown(r)}: scan on push is off` }] : [];
  },
};

/** Tags are immutable in prod. */
export const immutableTagsInProd: IntakeRule = {
  name: "immutable-tags-in-prod",
  description:
    "In a prod stack, customer repositories do not let a versioned tag move (ECR IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION for latest and cosign's sha256-* tags only; Artifact Registry immutableTags).",
  enforcementLevel: "advisory",
  resource: (r, ctx): Finding[] => {
    if (ctx.environment !== "prod") return [];
    const moving = resourceFacts(r.type)?.movingTags?.(r.props);
    return moving ? [{ customer: customerOf(r, ctx.repoPrefix).id ?? null, message: `${shown(r)}: ${moving}` }] : [];
  },
};

/** Types that are a cleanup policy of another resource, and the input that names it. */
const CLEANUP_BY = new Map(KIND_RESOURCES.flatMap((f) => (f.cleanup?.by ? [[f.cleanup.by.type, f.cleanup.by.input] as const] : [])));

/** Every repository has a lifecycle or cleanup policy, and the shared ACR registry a retention policy where it can. */
export const cleanupPolicyPresent: IntakeRule = {
  name: "cleanup-policy-present",
  description: "ECR repositories have a lifecycle policy, Artifact Registry repositories cleanup policies, a Premium ACR registry a retention policy.",
  enforcementLevel: "advisory",
  stack: (rs, ctx): Finding[] => {
    // Cleanup policies that are resources of their own: the repositories they name, by type.
    const named = new Map<string, Set<string>>();
    for (const r of rs) {
      const input = CLEANUP_BY.get(r.type);
      if (input) (named.get(r.type) ?? named.set(r.type, new Set()).get(r.type)!).add(String(r.props[input]));
    }
    const out: Finding[] = [];
    for (const r of rs) {
      const f = resourceFacts(r.type);
      const cleanup = f?.cleanup;
      if (!cleanup) continue;
      const has = cleanup.by ? (named.get(cleanup.by.type)?.has(String(r.props[cleanup.by.names])) ?? false) : cleanup.has(r.props);
      if (!has)
        out.push({ urn: r.urn, customer: f.of === "platform" ? null : (customerOf(r, ctx.repoPrefix).id ?? null), message: `${shown(r)}: ${cleanup.missing}` });
    }
    return out;
  },
};

/** Customer resources carry the four labels docs/concepts/isolation.md promises: intake-customer, intake-tier, intake-status and managed-by. */
export const labelsPresent: IntakeRule = {
  name: "labels-present",
  description: "Customer resources that take tags or labels carry intake-customer, intake-tier, intake-status and managed-by=registry-intake.",
  enforcementLevel: "advisory",
  resource: (r, ctx): Finding[] => {
    const field = resourceFacts(r.type)?.labels;
    if (!field || !kindOfType(r.type)) return [];
    const id = customerOf(r, ctx.repoPrefix).id ?? null;
    if (field === "topics") {
      const topics = (r.props.topics as string[] | undefined) ?? [];
      return topics.includes("registry-intake") && topics.some((t) => t.startsWith("customer-")) && topics.some((t) => t.startsWith("tier-"))
        ? []
        : [{ customer: id, message: `${shown(r)}: topics lack registry-intake, customer-<id> or tier-<tier>` }];
    }
    const labels = (r.props[field] as Record<string, string> | undefined) ?? {};
    const missing = [LABEL.customer, LABEL.tier, LABEL.status, LABEL.managedBy].filter((k) => !labels[k]);
    return missing.length ? [{ customer: id, message: `${shown(r)}: ${field} lack ${missing.join(", ")}` }] : [];
  },
};
