import { ECR_AUTH_ACTION } from "../../core/iam";
import { productOfPath } from "../../core/product-path";
import { kindOfType, resourceFacts } from "../../kinds";
import { customerOf, get, shown, type Finding, type IntakeResource, type IntakeRule } from "../model";

interface Statement {
  Effect?: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: string | string[];
  NotResource?: unknown;
}

function statements(policy: unknown): Statement[] {
  let doc = policy;
  if (typeof doc === "string") {
    try {
      doc = JSON.parse(doc);
    } catch {
      return [];
    }
  }
  const s = (doc as { Statement?: unknown } | undefined)?.Statement;
  return (Array.isArray(s) ? s : s ? [s] : []) as Statement[];
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The repository name an ECR repository ARN names (with any wildcard), or undefined. */
function ecrRepositoryOfArn(arn: string): string | undefined {
  return /^arn:[^:]+:ecr:[^:]*:[^:]*:repository\/(.+)$/.exec(arn)?.[1];
}

/** The shape of grant a resource is, as its kind declares it (kinds/types.ts, GrantShape). */
const grantOf = (r: IntakeResource) => resourceFacts(r.type)?.grant;

/** No wildcard actions or resources in customer grants (but for ecr:GetAuthorizationToken, which needs "*"). */
export const noWildcardGrants: IntakeRule = {
  name: "no-wildcard-grants",
  description: 'Customer grants name actions and resources one by one; only ecr:GetAuthorizationToken may use Resource "*".',
  enforcementLevel: "mandatory",
  resource: (r, ctx): Finding[] => {
    const { id } = customerOf(r, ctx.repoPrefix);
    const out: Finding[] = [];
    const flag = (message: string) => out.push({ customer: id ?? null, message: `${shown(r)}: ${message}` });
    const grant = grantOf(r);
    if (grant === "iam-policy") {
      for (const s of statements(r.props.policy)) {
        if (s.Effect !== "Allow") continue;
        if (s.NotAction !== undefined || s.NotResource !== undefined) flag("uses NotAction/NotResource, which grants everything else");
        const actions = list(s.Action);
        const resources = list(s.Resource);
        for (const a of actions) if (a.includes("*")) flag(`wildcard action "${a}"`);
        if (resources.includes("*") && actions.some((a) => a !== ECR_AUTH_ACTION)) {
          flag(`Resource "*" with ${actions.filter((a) => a !== ECR_AUTH_ACTION).join(", ")} (only ${ECR_AUTH_ACTION} may use "*")`);
        }
        // The one wildcard allowed: a customer's whole namespace, `<prefix>/<id>/*`, or one of its
        // products, `<prefix>/<id>/<product>/*` (grants-confined-to-customer then checks it is this
        // customer's; entitled-products-only that the product is entitled).
        const namespace = new RegExp(`^${ctx.repoPrefix}/[a-z0-9-]+/(?:[a-z0-9-]+/)?\\*$`);
        for (const res of resources) {
          const repo = ecrRepositoryOfArn(res);
          if (res !== "*" && /[*?]/.test(repo ?? res) && !(repo && namespace.test(repo))) flag(`wildcard resource "${res}"`);
        }
      }
    }
    if (grant === "repository-actions") {
      for (const a of (r.props.actions as string[] | undefined) ?? []) {
        const m = /^repositories\/(.+)\/(content|metadata)\/(read|write|delete)$/.exec(a);
        if (!m) flag(`action "${a}" is not a repository-scoped action`);
        else if (!new RegExp(`^${ctx.repoPrefix}/[a-z0-9-]+/(?:[a-z0-9-]+/)?\\*$`).test(m[1]) && m[1].includes("*"))
          flag(`action "${a}" uses a wildcard wider than one customer's path`);
      }
    }
    const roles = resourceFacts(r.type)?.roles;
    if (roles) {
      const role = String(r.props.role ?? "");
      if (!roles.includes(role)) flag(`grants role ${role}; customer grants are limited to ${roles.join(", ")}`);
      if (/^(allUsers|allAuthenticatedUsers)$/.test(String(r.props.member))) flag(`grants to ${r.props.member}`);
    }
    if (grant === "team-access" && r.props.permission !== "pull") {
      flag(`grants ${String(r.props.permission ?? "push")} on the customer's repository; customer teams only pull`);
    }
    return out;
  },
};

/**
 * Every customer grant reaches only that customer's repositories or paths: IAM policy ARNs,
 * ACR scope-map paths, Artifact Registry repository bindings and their members, GitHub team
 * access, team memberships. Checked across resources so references (team ids, scope-map ids,
 * service-account emails) resolve.
 */
export const grantsConfined: IntakeRule = {
  name: "grants-confined-to-customer",
  description: "No customer credential or grant reaches another customer's repositories or paths.",
  enforcementLevel: "mandatory",
  stack: (rs, ctx): Finding[] => {
    const p = ctx.repoPrefix;
    const out: Finding[] = [];
    const byId = new Map<string, IntakeResource>();
    for (const r of rs) if (typeof r.props.id === "string") byId.set(r.props.id as string, r);
    const flag = (r: IntakeResource, customer: string | undefined, message: string) =>
      out.push({ urn: r.urn, customer: customer ?? null, message: `${shown(r)}: ${message}` });
    // The first customer that lists each GitHub login, looked up once per membership (built on first need).
    let owners: Map<string, { id: string }> | undefined;
    const loginOwners = () => {
      if (owners) return owners;
      owners = new Map();
      for (const c of ctx.customers.values()) for (const l of c.githubLogins) if (!owners.has(l)) owners.set(l, c);
      return owners;
    };

    for (const r of rs) {
      const { id, conflict } = customerOf(r, p);
      if (conflict) flag(r, id, conflict);
      switch (grantOf(r)) {
        case "iam-policy": {
          if (!id) break;
          for (const s of statements(r.props.policy)) {
            for (const res of list(s.Resource)) {
              if (res === "*") continue;
              const repo = ecrRepositoryOfArn(res);
              if (!repo || !repo.startsWith(`${p}/${id}/`)) flag(r, id, `reaches ${res}, outside customer ${id}'s repositories ${p}/${id}/*`);
            }
          }
          break;
        }
        case "repository-actions": {
          if (!id) break;
          for (const a of (r.props.actions as string[] | undefined) ?? []) {
            if (!a.startsWith(`repositories/${p}/${id}/`)) flag(r, id, `action "${a}" reaches outside customer ${id}'s path ${p}/${id}/`);
          }
          break;
        }
        case "scope-map-binding": {
          const sm = String(r.props.scopeMapId ?? "");
          const mapName = /\/scopeMaps\/([^/]+)$/.exec(sm)?.[1] ?? (byId.get(sm)?.props.scopeMapName as string | undefined);
          if (id && mapName && mapName !== `${p}-${id}-scope`) flag(r, id, `is bound to scope map ${mapName}, not customer ${id}'s`);
          break;
        }
        case "repository-member": {
          const member = String(r.props.member ?? "");
          const sa = new RegExp(`^serviceAccount:${p}-([^@]+)@`).exec(member)?.[1];
          if (id && sa !== id) flag(r, id, `binds ${member} on customer ${id}'s repository; only ${p}-${id}@ may be bound there`);
          break;
        }
        case "account-member": {
          // Another customer's service account must never be able to act as this one.
          const other = new RegExp(`^serviceAccount:${p}-([^@]+)@`).exec(String(r.props.member ?? ""))?.[1];
          if (id && other && other !== id && ctx.customers.has(other)) flag(r, id, `lets ${r.props.member} act as customer ${id}'s service account`);
          // A Kubernetes service account acting by workload identity must be this customer's puller.
          const ksa = /\.svc\.id\.goog\[[^/\]]+\/([^\]]+)\]$/.exec(String(r.props.member ?? ""))?.[1];
          if (id && ksa !== undefined && ksa !== `${ctx.repoPrefix}-${id}-gar-puller`)
            flag(r, id, `lets Kubernetes service account ${ksa} act as customer ${id}'s service account; only ${ctx.repoPrefix}-${id}-gar-puller may`);
          break;
        }
        case "account-key":
          break; // confined by name to one service account (customerOf)
        case "team-access": {
          const team = byId.get(String(r.props.teamId ?? ""));
          const teamOwner = team ? customerOf(team, p).id : undefined;
          if (teamOwner && id && teamOwner !== id)
            flag(r, teamOwner, `gives customer ${teamOwner}'s team access to customer ${id}'s repository ${r.props.repository}`);
          break;
        }
        case "team-membership": {
          const team = byId.get(String(r.props.teamId ?? ""));
          const teamOwner = team ? customerOf(team, p).id : undefined;
          const login = String(r.props.username ?? "").toLowerCase();
          const listedBy = loginOwners().get(login);
          if (teamOwner && listedBy && listedBy.id !== teamOwner) {
            flag(r, teamOwner, `puts ${login}, a GitHub user of customer ${listedBy.id}, in customer ${teamOwner}'s team`);
          }
          break;
        }
      }
    }
    return out;
  },
};

/** Two customers never share one path: repository names, scope-map globs, bindings. */
export const noSharedPaths: IntakeRule = {
  name: "no-shared-paths",
  description: "No repository, path or binding is claimed by two customers.",
  enforcementLevel: "mandatory",
  stack: (rs, ctx): Finding[] => {
    const claims = new Map<string, Map<string, IntakeResource>>();
    const claim = (path: string, customer: string, r: IntakeResource) => {
      const m = claims.get(path) ?? new Map<string, IntakeResource>();
      if (!m.has(customer)) m.set(customer, r);
      claims.set(path, m);
    };
    // The kinds whose claims are path globs (scope-map actions), which may also overlap.
    const globbed = new Set<string>();
    for (const r of rs) {
      const { id } = customerOf(r, ctx.repoPrefix);
      const labelled = (get(r.props, "tags.intake-customer") ?? get(r.props, "labels.intake-customer")) as string | undefined;
      const facts = resourceFacts(r.type);
      const kind = kindOfType(r.type);
      const path = facts?.path?.(r.props);
      if (kind && typeof path === "string") {
        for (const c of new Set([id, labelled].filter((x): x is string => !!x))) claim(`${kind}:${path}`, c, r);
      }
      if (kind && facts?.grant === "repository-actions" && id) {
        globbed.add(kind);
        for (const a of (r.props.actions as string[] | undefined) ?? []) {
          const path = /^repositories\/(.+?)\*?\/(content|metadata)\//.exec(a)?.[1];
          if (path) claim(`${kind}:${path}`, id, r);
        }
      }
      if (kind && facts?.grant === "repository-member") {
        const sa = new RegExp(`^serviceAccount:${ctx.repoPrefix}-([^@]+)@`).exec(String(r.props.member ?? ""))?.[1];
        if (sa) claim(`${kind}:${r.props.repository}`, sa, r);
      }
    }
    const out: Finding[] = [];
    for (const [path, owners] of claims) {
      if (owners.size < 2) continue;
      const ids = [...owners.keys()].sort();
      for (const [c, r] of owners)
        out.push({ urn: r.urn, customer: c, message: `${path.replace(/^(\w+):/, "$1 ")} is claimed by customers ${ids.join(" and ")}` });
    }
    // Overlapping globs: one customer's path a prefix of another's.
    // Sorted, every path that starts with `a` follows `a` in one run: no need to compare all pairs.
    for (const kind of globbed) {
      const paths = [...claims.keys()]
        .filter((k) => k.startsWith(`${kind}:`))
        .map((k) => k.slice(kind.length + 1))
        .sort();
      for (let i = 0; i < paths.length; i++) {
        const a = paths[i];
        for (let j = i + 1; j < paths.length && paths[j].startsWith(a); j++) {
          const b = paths[j];
          const [ca] = claims.get(`${kind}:${a}`)!.keys();
          const [cb, rb] = [...claims.get(`${kind}:${b}`)!.entries()][0];
          if (ca !== cb) out.push({ urn: rb.urn, customer: cb, message: `${kind} path ${b} lies inside customer ${ca}'s path ${a}` });
        }
      }
    }
    return out;
  },
};

/**
 * With a product catalogue, a customer's repositories and grants name only products it is
 * entitled to: ECR repositories, IAM policy ARNs (a product glob each, never the whole
 * namespace), ACR scope-map actions, Artifact Registry and GitHub repositories and their grants,
 * and the Distribution access list's paths. An offboarded customer's kept
 * repositories are declared only to tag them orphaned and are not asked.
 */
export const entitledProductsOnly: IntakeRule = {
  name: "entitled-products-only",
  description: "With a product catalogue, no repository or grant of a customer reaches a product it is not entitled to.",
  enforcementLevel: "mandatory",
  resource: (r, ctx): Finding[] => {
    if (!ctx.catalogue) return [];
    const p = ctx.repoPrefix;
    const out: Finding[] = [];
    const check = (id: string | undefined, path: string, what: string) => {
      const c = id ? ctx.customers.get(id) : undefined;
      if (!c?.products || c.status === "offboarded") return;
      const product = productOfPath(path, c.id, p);
      if (product === undefined)
        out.push({
          urn: r.urn,
          customer: c.id,
          message: `${shown(r)}: ${what} ${path} is not inside one of customer ${c.id}'s products (${p}/${c.id}/<product>/…, on Artifact Registry ${p}-${c.id}--<product>)`,
        });
      else if (!c.products.includes(product))
        out.push({
          urn: r.urn,
          customer: c.id,
          message: `${shown(r)}: ${what} ${path} is product ${product}, which customer ${c.id} is not entitled to (entitled: ${c.products.join(", ") || "none"})`,
        });
    };
    const { id } = customerOf(r, p);
    const facts = resourceFacts(r.type);
    const path = facts?.path?.(r.props);
    if (typeof path === "string") check(id, path, "repository");
    if (facts?.grant === "iam-policy") {
      for (const s of statements(r.props.policy))
        for (const res of list(s.Resource)) {
          const repo = ecrRepositoryOfArn(res);
          if (repo) check(id, repo, "grant on");
        }
    }
    if (facts?.grant === "repository-actions") {
      for (const a of (r.props.actions as string[] | undefined) ?? []) {
        const path = /^repositories\/(.+)\/(content|metadata)\/[a-z]+$/.exec(a)?.[1];
        if (path) check(id, path, "scope-map action on");
      }
    }
    // Artifact Registry and GitHub: a product is a repository of its own, `<prefix>-<id>--<product>`.
    const named = facts?.ownRepository?.(r.props);
    if (typeof named === "string" && id) {
      const product = named.startsWith(`${p}-${id}--`) ? named.slice(`${p}-${id}--`.length) : undefined;
      check(id, product === undefined ? named : `${p}/${id}/${product}/*`, facts?.repository ? "repository" : "grant on");
    }
    const aclText = (r.props.stringData as Record<string, unknown> | undefined)?.["acl.json"];
    if (r.type === "kubernetes:core/v1:Secret" && typeof aclText === "string") {
      let acl: { entries?: { customer?: string; paths?: string[] }[] } = {};
      try {
        acl = JSON.parse(aclText);
      } catch {
        // not an access list
      }
      for (const e of acl.entries ?? []) for (const path of e.paths ?? []) check(e.customer, path, "access-list path");
    }
    return out;
  },
};
