import { ECR_MUTABLE_TAGS } from "../../kinds/ecr/kind";
import { LABEL } from "../../core/labels";
import { customerOf, get, kindOfType, shown, type Finding, type IntakeRule } from "../model";

/** ECR repositories scan on push. */
export const ecrScanOnPush: IntakeRule = {
  name: "ecr-scan-on-push",
  description: "Customer ECR repositories scan images on push.",
  enforcementLevel: "advisory",
  resource: (r, ctx): Finding[] =>
    r.type === "aws:ecr/repository:Repository" && get(r.props, "imageScanningConfiguration.scanOnPush") !== true
      ? [{ customer: customerOf(r, ctx.repoPrefix).id ?? null, message: `${shown(r)}: scan on push is off` }]
      : [],
};

/** Tags are immutable in prod. */
export const immutableTagsInProd: IntakeRule = {
  name: "immutable-tags-in-prod",
  description: "In a prod stack, customer repositories do not let a versioned tag move (ECR IMMUTABLE, or IMMUTABLE_WITH_EXCLUSION for latest and cosign's sha256-* tags only; Artifact Registry immutableTags).",
  enforcementLevel: "advisory",
  resource: (r, ctx): Finding[] => {
    if (ctx.environment !== "prod") return [];
    const id = customerOf(r, ctx.repoPrefix).id ?? null;
    if (r.type === "aws:ecr/repository:Repository") {
      if (r.props.imageTagMutability === "IMMUTABLE") return [];
      if (r.props.imageTagMutability !== "IMMUTABLE_WITH_EXCLUSION") return [{ customer: id, message: `${shown(r)}: tags are mutable in prod` }];
      // Exclusions beyond `latest` and cosign's digest-named tags let versioned tags move.
      const filters = ((r.props.imageTagMutabilityExclusionFilters as { filter?: string }[] | undefined) ?? []).map((f) => String(f.filter));
      const extra = filters.filter((f) => !(ECR_MUTABLE_TAGS as readonly string[]).includes(f));
      if (extra.length) return [{ customer: id, message: `${shown(r)}: tags matching ${extra.join(", ")} are mutable in prod (only ${ECR_MUTABLE_TAGS.join(" and ")} may move)` }];
      return [];
    }
    if (r.type === "gcp:artifactregistry/repository:Repository" && get(r.props, "dockerConfig.immutableTags") !== true) return [{ customer: id, message: `${shown(r)}: tags are mutable in prod` }];
    return [];
  },
};

/** Every repository has a lifecycle or cleanup policy, and the shared ACR registry a retention policy where it can. */
export const cleanupPolicyPresent: IntakeRule = {
  name: "cleanup-policy-present",
  description: "ECR repositories have a lifecycle policy, Artifact Registry repositories cleanup policies, a Premium ACR registry a retention policy.",
  enforcementLevel: "advisory",
  stack: (rs, ctx): Finding[] => {
    const withLifecycle = new Set(rs.filter((r) => r.type === "aws:ecr/lifecyclePolicy:LifecyclePolicy").map((r) => String(r.props.repository)));
    const out: Finding[] = [];
    for (const r of rs) {
      const id = customerOf(r, ctx.repoPrefix).id ?? null;
      if (r.type === "aws:ecr/repository:Repository" && !withLifecycle.has(String(r.props.name))) out.push({ urn: r.urn, customer: id, message: `${shown(r)}: no lifecycle policy` });
      if (r.type === "gcp:artifactregistry/repository:Repository" && !(Array.isArray(r.props.cleanupPolicies) && r.props.cleanupPolicies.length > 0)) {
        out.push({ urn: r.urn, customer: id, message: `${shown(r)}: no cleanup policies` });
      }
      if (r.type === "azure-native:containerregistry:Registry" && get(r.props, "sku.name") === "Premium" && get(r.props, "policies.retentionPolicy.status") !== "enabled") {
        out.push({ urn: r.urn, customer: null, message: `${shown(r)}: Premium registry without a retention policy for untagged manifests` });
      }
    }
    return out;
  },
};

const TAGGED: Record<string, "tags" | "labels" | "topics"> = {
  "aws:ecr/repository:Repository": "tags",
  "aws:iam/user:User": "tags",
  "gcp:artifactregistry/repository:Repository": "labels",
  "github:index/repository:Repository": "topics",
};

/** Customer resources carry the four labels the README promises: intake-customer, intake-tier, intake-status and managed-by. */
export const labelsPresent: IntakeRule = {
  name: "labels-present",
  description: "Customer resources that take tags or labels carry intake-customer, intake-tier, intake-status and managed-by=registry-intake.",
  enforcementLevel: "advisory",
  resource: (r, ctx): Finding[] => {
    const field = TAGGED[r.type];
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
