import { tierAllows } from "../../core/tiers";
import { resourceFacts } from "../../kinds";
import { customerOf, kindOfType, shown, type Finding, type IntakeResource, type IntakeRule, type PolicyContext } from "../model";

function owner(r: IntakeResource, ctx: PolicyContext) {
  const kind = kindOfType(r.type);
  if (!kind) return undefined;
  const { id } = customerOf(r, ctx.repoPrefix);
  if (!id) return undefined;
  return { kind, id, customer: ctx.customers.get(id) };
}

/** No resource for a registry kind outside the customer's tier, and none for a customer the roster does not list. */
export const tierAllowsKind: IntakeRule = {
  name: "tier-allows-kind",
  description: "A customer has resources only on the registry kinds its license tier allows (core/tiers.ts).",
  enforcementLevel: "mandatory",
  resource: (r, ctx): Finding[] => {
    const o = owner(r, ctx);
    if (!o) return [];
    if (!o.customer) return [{ customer: o.id, message: `${shown(r)} belongs to customer ${o.id}, which the roster does not list` }];
    if (!tierAllows(o.customer.tier, o.kind, ctx.tierTable)) {
      return [
        {
          customer: o.id,
          message: `${shown(r)} gives customer ${o.id} (tier ${o.customer.tier}) the registry kind ${o.kind}, which tier ${o.customer.tier} does not allow`,
        },
      ];
    }
    return [];
  },
};

/** Offboarded customers keep no credential; suspended ones keep theirs disabled. */
export const statusHonoured: IntakeRule = {
  name: "status-honoured",
  description: "An offboarded customer has no credentials or grants; a suspended one (or one whose license lapsed) has every credential disabled.",
  enforcementLevel: "mandatory",
  resource: (r, ctx): Finding[] => {
    const o = owner(r, ctx);
    if (!o?.customer) return [];
    const { status } = o.customer;
    if (status === "offboarded" && resourceFacts(r.type)?.credential) {
      return [{ customer: o.id, message: `${shown(r)} is a credential of customer ${o.id}, which is offboarded: it must be deleted` }];
    }
    return [];
  },
};

/**
 * A suspended customer's credentials are disabled. The roster's status alone is checked here;
 * a lapsed license is the program's to apply (the policy does not read the clock).
 */
export const suspendedDisabled: IntakeRule = {
  name: "suspended-credentials-disabled",
  description: "Every credential of a suspended customer is disabled: access key Inactive, ACR token disabled, service account disabled, no team read access.",
  enforcementLevel: "mandatory",
  resource: (r, ctx): Finding[] => {
    const o = owner(r, ctx);
    if (o?.customer?.status !== "suspended") return [];
    const disabled = resourceFacts(r.type)?.disabled;
    const bad = disabled !== undefined && !disabled(r.props);
    return bad ? [{ customer: o.id, message: `${shown(r)} keeps a credential of suspended customer ${o.id} enabled` }] : [];
  },
};
