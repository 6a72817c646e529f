import { resourceFacts } from "../../kinds";
import { customerOf, shown, type Finding, type IntakeRule } from "../model";

/** Customer repositories can never be deleted with images in them (each kind says how its own are kept: `retention`). */
export const repositoriesRetained: IntakeRule = {
  name: "repositories-retained",
  description:
    "A customer repository (ECR, Artifact Registry, GitHub, the self-hosted registry's volume) is kept, archived or refuses deletion while it holds images.",
  enforcementLevel: "mandatory",
  resource: (r, ctx): Finding[] => {
    const retention = resourceFacts(r.type)?.retention;
    if (!retention) return [];
    const why = retention({ props: r.props, name: r.name, kept: r.retainOnDelete === true || r.protect, unknown: r.retainOnDelete === undefined });
    return why ? [{ customer: customerOf(r, ctx.repoPrefix).id ?? null, message: `${shown(r)}: ${why}` }] : [];
  },
};
