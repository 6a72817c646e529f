import * as ecr from "@pulumi/aws/ecr";
import * as pulumi from "@pulumi/pulumi";
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { type Settings } from "../../../core/settings";
import { engineConfig } from "../../../components/stack-settings";
import { parseRoster, type Roster } from "../../../customers/roster";
import { TIERS, REGISTRY_KINDS, tierAllows, type RegistryKind, type Tier } from "../../../core/tiers";
import type { RecordedResource } from "../../../planning/engine";
import { planProgram } from "../../../planning/plan";
import { readStackConfig, stackSettings as settingsOf } from "../../../core/stack";
import { main } from "../../../cli/main";
import { evaluate, policyContext, type Violation } from "../../../policy/evaluate";
import { analyzerPolicies } from "../../../policy/pack";
import { fromRecorded } from "../../../planning/plan";
import { plainCredentialOutputs, SECRET_SIG, SECRET_SIG_KEY } from "../../../policy/rules/secrets";
import { program } from "../../../program";
import { customer, T, TODAY } from "../../../testing/helpers";
import { tempDir } from "../../../testing/tmp";

const ROOT = path.resolve(__dirname, "../../..");

/** The dev stack's real settings: the audit reads the same file. */
function stackSettings(stack: "dev" | "prod"): Settings {
  const cfg = readStackConfig(ROOT, stack);
  pulumi.runtime.setAllConfig(cfg.config, cfg.secretKeys);
  return settingsOf(ROOT, stack, { engineConfig: engineConfig(), today: TODAY }).settings;
}

const CUSTOMERS = [
  customer("acme", "enterprise", { github: { members: ["wile"] }, ecr: { repositories: ["worker"] } }),
  customer("acme-eu", "enterprise", { github: { members: ["road"] } }),
  customer("globex", "professional", { github: { members: ["hank"] } }),
  customer("initech", "standard", { github: { members: ["peter"] } }),
  customer("umbrella", "professional", { status: "suspended" }),
  customer("soylent", "professional", { status: "offboarded" }),
];

interface Fixture {
  settings: Settings;
  roster: Roster;
  rosterFile: string;
  recorded: RecordedResource[];
}

async function fixture(stack: "dev" | "prod" = "dev", customers = CUSTOMERS): Promise<Fixture> {
  const settings = stackSettings(stack);
  const dir = tempDir("policy-");
  const rosterFile = path.join(dir, "roster.yaml");
  writeFileSync(rosterFile, stringify({ customers }));
  const roster = parseRoster(readFileSync(rosterFile, "utf8"), rosterFile, { tierTable: settings.tierTable, prefix: { repoPrefix: settings.repoPrefix } });
  const plan = await planProgram(settings, roster);
  return { settings, roster, rosterFile, recorded: plan.recorded };
}

const clone = <T>(x: T): T => structuredClone(x);

/** The plan's entry point: the same evaluation `intake plan` runs on what it recorded. */
function viaPlan(f: Fixture, recorded = f.recorded): Violation[] {
  return evaluate(fromRecorded(recorded), policyContext(f.roster, f.settings));
}

const envelope = (v: unknown) => ({ [SECRET_SIG_KEY]: SECRET_SIG, ciphertext: `v1:${Buffer.from(JSON.stringify(v)).toString("base64")}` });

/** A `pulumi stack export` (deployment v3) of recorded resources, secrets as ciphertext envelopes. */
function toExport(recorded: RecordedResource[], stack: string, stackOutputs: Record<string, unknown> = {}) {
  const stackUrn = `urn:pulumi:${stack}::registry-intake::pulumi:pulumi:Stack::registry-intake-${stack}`;
  const secretTop = (r: RecordedResource) => new Set(r.secretInputs.map((p) => p.split(/[.[]/)[0]));
  return {
    version: 3,
    deployment: {
      manifest: { time: "2026-11-22T12:00:00Z", magic: "x", version: "v3.200.0" },
      resources: [
        { urn: stackUrn, custom: false, type: "pulumi:pulumi:Stack", outputs: stackOutputs },
        ...recorded.map((r) => {
          const secrets = secretTop(r);
          const wrap = (o: Record<string, unknown>, also: string[] = []) =>
            Object.fromEntries(Object.entries(o).map(([k, v]) => [k, secrets.has(k) || also.includes(k) ? envelope(v) : v]));
          return {
            urn: r.urn,
            custom: r.custom,
            id: r.id || undefined,
            type: r.type,
            inputs: wrap(r.inputs),
            outputs: wrap({ ...r.state, ...r.inputs }, r.additionalSecretOutputs),
            parent: r.parent ?? stackUrn,
            protect: r.protect,
            retainOnDelete: r.retainOnDelete || undefined,
            additionalSecretOutputs: r.additionalSecretOutputs.length ? r.additionalSecretOutputs : undefined,
          };
        }),
      ],
    },
  };
}

/** The audit's entry point: `intake policy audit --stack-export FILE`, through the CLI. */
async function viaAudit(f: Fixture, recorded = f.recorded, extra: string[] = [], stackOutputs: Record<string, unknown> = {}) {
  const dir = tempDir("audit-");
  const file = path.join(dir, "stack.json");
  const json = path.join(dir, "violations.json");
  writeFileSync(file, JSON.stringify(toExport(recorded, f.settings.stack, stackOutputs)));
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(["policy", "audit", "--stack-export", file, "--project", ROOT, "--roster", f.rosterFile, "--json", json, ...extra], {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
  });
  expect(err.join("\n")).toBe("");
  return { code, out: out.join("\n"), violations: (JSON.parse(readFileSync(json, "utf8")) as { violations: Violation[] }).violations };
}

const named = (vs: Violation[], policy: string) => vs.filter((v) => v.policy === policy);

/** Both entry points agree: the same rules fire, on the same resources. */
async function bothEntryPoints(f: Fixture, recorded: RecordedResource[]) {
  const plan = viaPlan(f, recorded);
  const audit = await viaAudit(f, recorded);
  const key = (v: Violation) => `${v.policy} ${v.urn} ${v.message}`;
  expect(audit.violations.map(key).sort(), JSON.stringify({ plan, audit: audit.violations }, null, 1)).toEqual(plan.map(key).sort());
  return { plan, audit };
}

let dev: Fixture;
beforeAll(async () => {
  dev = await fixture("dev");
});

describe("the program as written passes every rule", () => {
  it("dev and prod: no violations through the plan or the audit", async () => {
    expect(viaPlan(dev)).toEqual([]);
    const a = await viaAudit(dev);
    expect(a.violations).toEqual([]);
    expect(a.code).toBe(0);
    expect(a.out).toContain("No violations.");
    const prod = await fixture("prod");
    expect(viaPlan(prod)).toEqual([]);
    expect((await viaAudit(prod)).violations).toEqual([]);
  });
});

/** Resources of one kind, cloned from an enterprise customer and re-owned by `id`. */
function forgeKind(recorded: RecordedResource[], kind: RegistryKind, id: string): RecordedResource {
  const pick: Record<RegistryKind, string> = { ecr: T.repo, acr: T.scopeMap, gar: T.garRepo, ghcr: T.ghRepo, distribution: T.robot };
  const src = recorded.find((r) => r.type === pick[kind] && JSON.stringify(r.inputs).includes("acme-eu"))!;
  const r = JSON.parse(JSON.stringify(src).replaceAll("acme-eu", id)) as RecordedResource;
  r.urn = `${r.urn}-forged`;
  r.name = `${r.name}-forged`;
  return r;
}

describe("tier-allows-kind, against every tier and kind", () => {
  it.each(TIERS.flatMap((tier) => REGISTRY_KINDS.map((kind) => [tier, kind] as [Tier, RegistryKind])))("tier %s, kind %s", async (tier, kind) => {
    const id = { enterprise: "acme", professional: "globex", standard: "initech" }[tier];
    const forged = [...dev.recorded, forgeKind(dev.recorded, kind, id)];
    const { plan } = await bothEntryPoints(dev, forged);
    const hits = named(plan, "tier-allows-kind");
    if (tierAllows(tier, kind)) expect(hits).toEqual([]);
    else {
      expect(hits).toHaveLength(1);
      expect(hits[0]).toMatchObject({ enforcement: "mandatory", customer: id });
      expect(hits[0].message).toContain(`gives customer ${id} (tier ${tier}) the registry kind ${kind}, which tier ${tier} does not allow`);
    }
  });

  it("a customer the roster does not list", () => {
    const hits = named(viaPlan(dev, [...dev.recorded, forgeKind(dev.recorded, "ecr", "ghost")]), "tier-allows-kind");
    expect(hits.map((h) => h.message)).toEqual([expect.stringContaining("belongs to customer ghost, which the roster does not list")]);
  });
});

describe("done when: a hand-edited program is caught by intake plan, intake policy audit and the CrossGuard pack", () => {
  it("an ECR repository for a standard customer, added by hand to the program", async () => {
    const edited: typeof program = (s, r) => {
      const result = program(s, r);
      new ecr.Repository("initech-sneaky", { name: "intake/initech/sneaky", tags: { "intake-customer": "initech" } }, { retainOnDelete: true });
      return result;
    };
    const plan = await planProgram(dev.settings, dev.roster, {}, edited);
    const hit = plan.violations.find((v) => v.policy === "tier-allows-kind")!;
    expect(hit).toMatchObject({ enforcement: "mandatory", customer: "initech" });
    expect(hit.message).toBe(
      'aws:ecr/repository:Repository "intake/initech/sneaky" gives customer initech (tier standard) the registry kind ecr, which tier standard does not allow',
    );
    const audit = await viaAudit(dev, plan.recorded);
    expect(audit.code).toBe(1);
    expect(named(audit.violations, "tier-allows-kind").map((v) => v.message)).toEqual([hit.message]);
    // The analyzer: the pack's own policy object, given the args pulumi preview would give it.
    const policy = analyzerPolicies(policyContext(dev.roster, dev.settings)).find((p) => p.name === "tier-allows-kind")!;
    const reported: string[] = [];
    const sneaky = plan.recorded.find((r) => r.name === "initech-sneaky")!;
    (policy as { validateResource: (...args: unknown[]) => unknown }).validateResource(
      {
        type: sneaky.type,
        urn: sneaky.urn,
        name: sneaky.name,
        props: sneaky.inputs,
        opts: { protect: false, additionalSecretOutputs: [], ignoreChanges: [], aliases: [], customTimeouts: {} },
      },
      (m: string) => reported.push(m),
    );
    expect(reported).toEqual([hit.message]);
  });

  it("an IAM policy that reaches another customer's repository ARN", async () => {
    const rs = clone(dev.recorded);
    const pol = rs.find((r) => r.type === T.userPolicy && r.inputs.user === "intake-customer-acme-eu")!;
    const acmeArn = rs.find((r) => r.type === T.repo && r.inputs.name === "intake/acme/app")!.state.arn as string;
    const doc = JSON.parse(pol.inputs.policy as string);
    doc.Statement[1].Resource.push(acmeArn);
    pol.inputs.policy = JSON.stringify(doc);
    const { plan, audit } = await bothEntryPoints(dev, rs);
    expect(named(plan, "grants-confined-to-customer").map((v) => v.message)).toEqual([
      `aws:iam/userPolicy:UserPolicy "ecr-namespace": reaches ${acmeArn}, outside customer acme-eu's repositories intake/acme-eu/*`,
    ]);
    expect(audit.code).toBe(1);
    const policy = analyzerPolicies(policyContext(dev.roster, dev.settings)).find((p) => p.name === "grants-confined-to-customer")!;
    const reported: string[] = [];
    const asAnalyzer = rs
      .filter((r) => r.custom)
      .map((r) => ({
        type: r.type,
        urn: r.urn,
        name: r.name,
        props: { ...r.state, ...r.inputs, id: r.id },
        opts: { protect: false, additionalSecretOutputs: [], ignoreChanges: [], aliases: [], customTimeouts: {} },
      }));
    (policy as { validateStack: (...args: unknown[]) => unknown }).validateStack({ resources: asAnalyzer }, (m: string) => reported.push(m));
    expect(reported).toEqual(named(plan, "grants-confined-to-customer").map((v) => v.message));
  });
});

describe("each rule: violating cases (the compliant case is the unedited program above)", () => {
  const edit = (fn: (rs: RecordedResource[]) => void) => {
    const rs = clone(dev.recorded);
    fn(rs);
    return rs;
  };
  const find = (rs: RecordedResource[], type: string, match: (r: RecordedResource) => boolean) => rs.find((r) => r.type === type && match(r))!;

  it.each([
    [
      "grants-confined-to-customer",
      "an ACR scope map on another customer's path",
      (rs: RecordedResource[]) => {
        find(rs, T.scopeMap, (r) => r.inputs.scopeMapName === "intake-acme-eu-scope").inputs.actions = ["repositories/intake/acme/*/content/read"];
      },
      'action "repositories/intake/acme/*/content/read" reaches outside customer acme-eu\'s path intake/acme-eu/',
      ["no-shared-paths"],
    ],
    [
      "grants-confined-to-customer",
      "a GAR binding of another customer's service account",
      (rs: RecordedResource[]) => {
        const m = find(rs, T.garMember, (r) => String(r.inputs.repository) === "intake-acme-eu");
        m.inputs.member = "serviceAccount:intake-acme@intake-dev-381204.iam.gserviceaccount.com";
      },
      "only intake-acme-eu@ may be bound there",
    ],
    [
      "grants-confined-to-customer",
      "a customer's team reading another customer's repository",
      (rs: RecordedResource[]) => {
        find(rs, T.teamRepo, (r) => r.inputs.repository === "intake-globex").inputs.repository = "intake-acme";
      },
      "gives customer globex's team access to customer acme's repository intake-acme",
    ],
    [
      "grants-confined-to-customer",
      "another customer's GitHub user in a team",
      (rs: RecordedResource[]) => {
        find(rs, T.teamMember, (r) => r.inputs.username === "hank").inputs.username = "wile";
      },
      "puts wile, a GitHub user of customer acme, in customer globex's team",
    ],
    [
      "no-wildcard-grants",
      "a wildcard action",
      (rs: RecordedResource[]) => {
        const p = find(rs, T.userPolicy, (r) => r.inputs.user === "intake-customer-globex");
        const doc = JSON.parse(p.inputs.policy as string);
        doc.Statement[1].Action = ["ecr:*"];
        p.inputs.policy = JSON.stringify(doc);
      },
      'wildcard action "ecr:*"',
    ],
    [
      "no-wildcard-grants",
      "Resource * beyond GetAuthorizationToken",
      (rs: RecordedResource[]) => {
        const p = find(rs, T.userPolicy, (r) => r.inputs.user === "intake-customer-globex");
        const doc = JSON.parse(p.inputs.policy as string);
        doc.Statement[0].Action.push("ecr:PutImage");
        p.inputs.policy = JSON.stringify(doc);
      },
      'Resource "*" with ecr:PutImage',
    ],
    [
      "no-wildcard-grants",
      "a wildcard wider than the customer's namespace",
      (rs: RecordedResource[]) => {
        const p = find(rs, T.userPolicy, (r) => r.inputs.user === "intake-customer-globex");
        p.inputs.policy = String(p.inputs.policy).replace("repository/intake/globex/*", "repository/intake/*");
      },
      'wildcard resource "arn:aws:ecr:eu-west-1:111122223333:repository/intake/*"',
      ["grants-confined-to-customer"],
    ],
    [
      "no-wildcard-grants",
      "a wildcard inside the customer's namespace that is not the whole of it",
      (rs: RecordedResource[]) => {
        const p = find(rs, T.userPolicy, (r) => r.inputs.user === "intake-customer-globex");
        p.inputs.policy = String(p.inputs.policy).replace("repository/intake/globex/*", "repository/intake/globex/a*");
      },
      'wildcard resource "arn:aws:ecr:eu-west-1:111122223333:repository/intake/globex/a*"',
    ],
    [
      "no-wildcard-grants",
      "a team with push",
      (rs: RecordedResource[]) => {
        find(rs, T.teamRepo, (r) => r.inputs.repository === "intake-globex").inputs.permission = "push";
      },
      "grants push on the customer's repository",
    ],
    [
      "no-wildcard-grants",
      "a project-wide GCP role",
      (rs: RecordedResource[]) => {
        find(rs, T.garMember, (r) => String(r.inputs.repository) === "intake-acme").inputs.role = "roles/artifactregistry.admin";
      },
      "grants role roles/artifactregistry.admin",
    ],
    [
      "credentials-are-secret",
      "an access key whose secret is not declared secret",
      (rs: RecordedResource[]) => {
        find(rs, T.key, (r) => r.inputs.user === "intake-customer-globex").additionalSecretOutputs = [];
      },
      "secret is held in plain text",
    ],
    [
      "repositories-retained",
      "an ECR repository that is not retained",
      (rs: RecordedResource[]) => {
        find(rs, T.repo, (r) => r.inputs.name === "intake/globex/app").retainOnDelete = false;
      },
      "is not retainOnDelete or protected",
    ],
    [
      "repositories-retained",
      "an ECR repository with forceDelete",
      (rs: RecordedResource[]) => {
        find(rs, T.repo, (r) => r.inputs.name === "intake/globex/app").inputs.forceDelete = true;
      },
      "forceDelete would delete the repository with its images",
    ],
    [
      "repositories-retained",
      "a GitHub repository without archiveOnDestroy",
      (rs: RecordedResource[]) => {
        find(rs, T.ghRepo, (r) => r.inputs.name === "intake-globex").inputs.archiveOnDestroy = false;
      },
      "archiveOnDestroy is off",
    ],
    [
      "status-honoured",
      "an offboarded customer's IAM user left behind",
      (rs: RecordedResource[]) => {
        const u = clone(find(rs, T.user, (r) => r.inputs.name === "intake-customer-globex"));
        u.urn += "-soylent";
        u.inputs = { ...u.inputs, name: "intake-customer-soylent", tags: { ...(u.inputs.tags as object), "intake-customer": "soylent" } };
        rs.push(u);
      },
      "is a credential of customer soylent, which is offboarded",
    ],
    [
      "suspended-credentials-disabled",
      "a suspended customer's access key left Active",
      (rs: RecordedResource[]) => {
        find(rs, T.key, (r) => r.inputs.user === "intake-customer-umbrella").inputs.status = "Active";
      },
      "keeps a credential of suspended customer umbrella enabled",
    ],
    [
      "no-shared-paths",
      "two customers claiming one repository",
      (rs: RecordedResource[]) => {
        const dup = clone(find(rs, T.repo, (r) => r.inputs.name === "intake/acme/app"));
        dup.urn += "-dup";
        dup.inputs = { ...dup.inputs, tags: { ...(dup.inputs.tags as object), "intake-customer": "globex" } };
        rs.push(dup);
      },
      "ecr intake/acme/app is claimed by customers acme and globex",
      ["grants-confined-to-customer"],
    ],
    [
      "ecr-scan-on-push",
      "scan on push off",
      (rs: RecordedResource[]) => {
        find(rs, T.repo, (r) => r.inputs.name === "intake/globex/app").inputs.imageScanningConfiguration = { scanOnPush: false };
      },
      "scan on push is off",
    ],
    [
      "cleanup-policy-present",
      "a repository without a lifecycle policy",
      (rs: RecordedResource[]) => {
        rs.splice(rs.indexOf(find(rs, T.lifecycle, (r) => r.inputs.repository === "intake/globex/app")), 1);
      },
      "no lifecycle policy",
    ],
    [
      "labels-present",
      "a repository without labels",
      (rs: RecordedResource[]) => {
        find(rs, T.garRepo, (r) => r.inputs.repositoryId === "intake-acme").inputs.labels = {};
      },
      "labels lack intake-customer, intake-tier, intake-status, managed-by",
    ],
  ] as [string, string, (rs: RecordedResource[]) => void, string, string[]?][])("%s: %s", async (policy, _what, mutate, message, alsoFires = []) => {
    const { plan, audit } = await bothEntryPoints(dev, edit(mutate));
    const hits = named(plan, policy);
    expect(hits.length, JSON.stringify(plan, null, 1)).toBeGreaterThanOrEqual(1);
    expect(
      hits.some((h) => h.message.includes(message)),
      hits.map((h) => h.message).join("\n"),
    ).toBe(true);
    // Nothing else fires: each case breaks one rule (and what that necessarily implies).
    expect(new Set(plan.map((v) => v.policy))).toEqual(new Set([policy, ...alsoFires]));
    const mandatory = hits[0].enforcement === "mandatory";
    expect(audit.code).toBe(mandatory ? 1 : 0);
  });

  it("immutable tags are required in prod only", async () => {
    const prod = await fixture("prod");
    const rs = clone(prod.recorded);
    rs.find((r) => r.type === T.repo && r.inputs.name === "intake/globex/app")!.inputs.imageTagMutability = "MUTABLE";
    expect(named(viaPlan(prod, rs), "immutable-tags-in-prod").map((v) => v.message)).toEqual([
      'aws:ecr/repository:Repository "intake/globex/app": tags are mutable in prod',
    ]);
    // The program's own prod settings pass: every tag immutable but latest and cosign's sha256-* tags.
    expect(named(viaPlan(prod, clone(prod.recorded)), "immutable-tags-in-prod")).toEqual([]);
    // An exclusion beyond those lets versioned tags move.
    const wide = clone(prod.recorded);
    wide.find((r) => r.type === T.repo && r.inputs.name === "intake/globex/app")!.inputs.imageTagMutabilityExclusionFilters = [
      { filter: "latest", filterType: "WILDCARD" },
      { filter: "v*", filterType: "WILDCARD" },
    ];
    expect(named(viaPlan(prod, wide), "immutable-tags-in-prod").map((v) => v.message)).toEqual([
      'aws:ecr/repository:Repository "intake/globex/app": tags matching v* are mutable in prod (only latest and sha256-* may move)',
    ]);
    const devRs = clone(dev.recorded);
    expect(devRs.find((r) => r.type === T.repo)!.inputs.imageTagMutability).toBe("MUTABLE");
    expect(named(viaPlan(dev, devRs), "immutable-tags-in-prod")).toEqual([]);
  });
});

describe("intake policy audit", () => {
  it("an advisory rule made mandatory by --policy-config fails the audit", async () => {
    const rs = clone(dev.recorded);
    rs.find((r) => r.type === T.repo && r.inputs.name === "intake/globex/app")!.inputs.imageScanningConfiguration = { scanOnPush: false };
    expect((await viaAudit(dev, rs)).code).toBe(0);
    const dir = tempDir("pcfg-");
    const cfg = path.join(dir, "policy.json");
    writeFileSync(cfg, JSON.stringify({ "ecr-scan-on-push": { enforcementLevel: "mandatory" } }));
    const a = await viaAudit(dev, rs, ["--policy-config", cfg]);
    expect(a.code).toBe(1);
    expect(a.violations.map((v) => [v.policy, v.enforcement])).toEqual([["ecr-scan-on-push", "mandatory"]]);
    // Pulumi's "all" key sets every rule; a rule's own entry wins over it.
    writeFileSync(cfg, JSON.stringify({ all: "mandatory", "ecr-scan-on-push": "advisory" }));
    const b = await viaAudit(dev, rs, ["--policy-config", cfg]);
    expect([b.code, b.violations.map((v) => [v.policy, v.enforcement])]).toEqual([0, [["ecr-scan-on-push", "advisory"]]]);
    writeFileSync(cfg, JSON.stringify({ all: { enforcementLevel: "mandatory" } }));
    expect((await viaAudit(dev, rs, ["--policy-config", cfg])).code).toBe(1);
  });

  it("judging an export by another stack's settings (--stack) says so", async () => {
    const a = await viaAudit(dev, dev.recorded, ["--stack", "prod"]);
    expect(a.out).toMatch(/^warning: --stack prod: the export's resources belong to stack dev; they are judged by prod's settings and roster/m);
    expect((await viaAudit(dev, dev.recorded)).out).not.toMatch(/warning/);
  });

  it("a credential in a plain stack output is caught", async () => {
    const a = await viaAudit(dev, dev.recorded, [], { customers: { acme: { credentials: { ecr: { id: "AKIA", secret: "plain-secret-value" } } } } });
    expect(a.code).toBe(1);
    expect(a.violations.map((v) => v.message)).toEqual(["stack output customers.acme.credentials.ecr.secret holds a credential in plain text"]);
    const ok = await viaAudit(dev, dev.recorded, [], { customers: { acme: { credentials: { ecr: { id: "AKIA", secret: envelope("x") } } } } });
    expect(ok.violations).toEqual([]);
  });

  it("bad input: not an export, an unknown rule in the config, a missing file", async () => {
    const dir = tempDir("bad-");
    const run = async (args: string[]) => {
      const err: string[] = [];
      const code = await main(args, { out: () => {}, err: (s) => err.push(s) });
      return { code, err: err.join("\n") };
    };
    writeFileSync(path.join(dir, "x.json"), JSON.stringify({ resources: [] }));
    expect(await run(["policy", "audit", "--stack-export", path.join(dir, "x.json"), "--project", ROOT])).toEqual({
      code: 2,
      err: `error: ${path.join(dir, "x.json")}: not a \`pulumi stack export\` file (needs version and deployment)`,
    });
    writeFileSync(path.join(dir, "v2.json"), JSON.stringify({ version: 2, deployment: {} }));
    expect((await run(["policy", "audit", "--stack-export", path.join(dir, "v2.json"), "--project", ROOT])).err).toContain(
      "deployment version 2 is not supported (expected 3)",
    );
    writeFileSync(path.join(dir, "cfg.json"), JSON.stringify({ "scan-on-push": "mandatory" }));
    const c = await run(["policy", "audit", "--stack-export", path.join(dir, "v2.json"), "--project", ROOT, "--policy-config", path.join(dir, "cfg.json")]);
    expect(c.code).toBe(2);
    expect(c.err).toContain('"scan-on-push" is not a rule of this pack');
    expect((await run(["policy", "audit", "--stack-export", path.join(dir, "none.json"), "--project", ROOT])).err).toContain("none.json: cannot read");
  });
});

describe("review findings", () => {
  it("plain credentials anywhere under a credential-named output are caught; pull-secret names and ids are not", async () => {
    expect(
      plainCredentialOutputs({
        robotPasswords: { acme: "p" },
        tokens: ["t"],
        secretAccessKey: "k",
        customers: {
          acme: {
            credentials: { ecr: { id: "AKIA", secret: envelope("x") } },
            pullSecrets: { ecr: "intake-acme-ecr" },
            namespaces: { ecr: "host/intake/acme/" },
          },
        },
      }).sort(),
    ).toEqual(["robotPasswords.acme", "secretAccessKey", "tokens.0"]);
  });

  it("a Token Creator grant letting another customer's service account act as this one", () => {
    const rs = clone(dev.recorded);
    const m = rs.find((r) => r.type === T.saMember && String(r.inputs.serviceAccountId).includes("intake-acme@"))!;
    m.inputs.member = "serviceAccount:intake-globex@intake-dev-381204.iam.gserviceaccount.com";
    const hits = named(viaPlan(dev, rs), "grants-confined-to-customer");
    expect(hits.map((h) => h.message)).toEqual([
      expect.stringContaining("lets serviceAccount:intake-globex@intake-dev-381204.iam.gserviceaccount.com act as customer acme's service account"),
    ]);
  });
});
