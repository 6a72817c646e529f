import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { CUSTOMER_SESSION_TAG, ECR_AUTH_ACTION, type PolicyDocument } from "../../core/iam";
import { program } from "../../program";
import { runUnderMocks } from "../../planning/engine";
import { TIERS } from "../../core/tiers";
import { ACCOUNT, customer, owned, planOf, REGION, T, testRoster, testSettings, unwrap } from "../../testing/helpers";

const AWS_TYPES: string[] = Object.values(T).filter((t) => t.startsWith("aws:"));

const ECR_TYPES = [T.key, T.lifecycle, T.repo, T.user, T.userPolicy];
const KIND_OF_TYPE = (type: string) =>
  type.startsWith("aws:")
    ? "ecr"
    : type.startsWith("azure-native:")
      ? "acr"
      : type.startsWith("gcp:")
        ? "gar"
        : type.startsWith("github:")
          ? "ghcr"
          : type.startsWith("random:")
            ? "distribution"
            : "other";

describe("tier filtering", () => {
  it.each(TIERS)("a %s customer gets exactly the kinds its tier allows, and resources of no other", async (tier) => {
    const { plan, recorded } = await planOf([customer("acme", tier)]);
    const c = plan.customers[0];
    const expected = { enterprise: ["ghcr", "ecr", "acr", "gar", "distribution"], professional: ["ghcr", "ecr", "acr"], standard: ["ghcr"] }[tier];
    expect(c.registries).toEqual(expected);
    const kindsWithResources = new Set(owned(plan, recorded, "acme").map((r) => KIND_OF_TYPE(r.type)));
    expect([...kindsWithResources].sort()).toEqual([...expected].sort());
    const aws = owned(plan, recorded, "acme").filter((r) => r.type.startsWith("aws:"));
    expect(aws.map((r) => r.type).sort()).toEqual(tier === "standard" ? [] : [...ECR_TYPES].sort());
  });

  it("a customer that asks for less than its tier gets only what it asks", async () => {
    const { plan, recorded } = await planOf([customer("globex", "professional", { registries: ["ghcr"] })]);
    expect(plan.customers[0].registries).toEqual(["ghcr"]);
    expect(new Set(owned(plan, recorded, "globex").map((r) => KIND_OF_TYPE(r.type)))).toEqual(new Set(["ghcr"]));
  });

  it("a kind the stack disables is declared for nobody, platform included", async () => {
    const { plan, recorded } = await planOf([customer("acme", "enterprise")], { enabledKinds: ["ghcr", "acr"] });
    expect(plan.customers[0].registries).toEqual(["ghcr", "acr"]);
    expect(recorded.filter((r) => r.custom && AWS_TYPES.includes(r.type))).toEqual([]);
    expect(recorded.filter((r) => r.custom && /^(aws|gcp|random|kubernetes):/.test(r.type))).toEqual([]);
  });

  it("the program refuses a roster validated against another stack's tier table", async () => {
    const settings = testSettings({ tiers: { enterprise: ["ghcr"], professional: ["ghcr"], standard: ["ghcr"] } });
    const roster = testRoster([customer("acme", "enterprise")]); // validated with the default table: ecr allowed
    await expect(runUnderMocks(() => program(settings, roster), { project: "p", stack: "s", cloud: { accountId: ACCOUNT, region: REGION } })).rejects.toThrow(
      /customer acme: tier enterprise does not allow ecr, acr, gar, distribution/,
    );
  });
});

describe("ECR namespace", () => {
  it("names every repository under <prefix>/<id>/, with a default app repository plus the roster's", async () => {
    const { plan, recorded } = await planOf([customer("acme", "enterprise", { ecr: { repositories: ["worker", "app"] } })]);
    const repos = owned(plan, recorded, "acme", T.repo);
    expect(repos.map((r) => r.inputs.name)).toEqual(["intake/acme/app", "intake/acme/worker"]);
    expect(repos.map((r) => r.name)).toEqual(["acme-ecr-app", "acme-ecr-worker"]);
    expect(repos.map((r) => r.state.repositoryUrl)).toEqual([
      `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/intake/acme/app`,
      `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/intake/acme/worker`,
    ]);
    const [user] = owned(plan, recorded, "acme", T.user);
    expect(user.inputs).toMatchObject({ name: "intake-customer-acme", path: "/intake/" });
  });

  it("follows the stack's repo prefix", async () => {
    const { plan, recorded } = await planOf([customer("acme", "professional")], { repoPrefix: "cust" });
    expect(owned(plan, recorded, "acme", T.repo)[0].inputs.name).toBe("cust/acme/app");
    expect(owned(plan, recorded, "acme", T.user)[0].inputs.name).toBe("cust-customer-acme");
    expect(
      recorded
        .filter((r) => r.type === T.role)
        .map((r) => r.inputs.name)
        .sort(),
    ).toEqual(["cust-ecr-controller", "cust-ecr-push", "cust-ecr-template"]);
  });

  it("scans on push, and makes tags immutable in prod only, but for latest and cosign's digest-named tags", async () => {
    const prodTags = {
      imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
      imageTagMutabilityExclusionFilters: [
        { filter: "latest", filterType: "WILDCARD" },
        { filter: "sha256-*", filterType: "WILDCARD" },
      ],
    };
    for (const [environment, mutability] of [
      ["dev", { imageTagMutability: "MUTABLE" }],
      ["prod", prodTags],
    ] as const) {
      const { plan, recorded } = await planOf([customer("acme", "professional")], { environment });
      const [repo] = owned(plan, recorded, "acme", T.repo);
      expect({
        imageTagMutability: repo.inputs.imageTagMutability,
        ...(repo.inputs.imageTagMutabilityExclusionFilters ? { imageTagMutabilityExclusionFilters: repo.inputs.imageTagMutabilityExclusionFilters } : {}),
      }).toEqual(mutability);
      // Repositories the controller creates on push get the same.
      const template = recorded.find((r) => r.type === "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate")!;
      expect(template.inputs).toMatchObject(mutability);
      expect(repo.inputs.imageScanningConfiguration).toEqual({ scanOnPush: true });
      expect(repo.inputs.forceDelete).toBe(false);
    }
  });

  it("gives every repository a lifecycle policy with the stack's retention", async () => {
    const { plan, recorded } = await planOf([customer("acme", "enterprise", { ecr: { repositories: ["worker"] } })], {
      ecr: { untaggedExpiryDays: 9, keepImages: 77 },
    });
    const policies = owned(plan, recorded, "acme", T.lifecycle);
    expect(policies.map((p) => p.inputs.repository)).toEqual(["intake/acme/app", "intake/acme/worker"]);
    for (const p of policies) {
      const rules = JSON.parse(p.inputs.policy as string).rules;
      expect(rules).toEqual([
        expect.objectContaining({ rulePriority: 1, selection: expect.objectContaining({ tagStatus: "untagged", countUnit: "days", countNumber: 9 }) }),
        expect.objectContaining({
          rulePriority: 2,
          selection: expect.objectContaining({ tagStatus: "any", countType: "imageCountMoreThan", countNumber: 77 }),
        }),
      ]);
    }
  });

  it("keeps repositories when the customer or the stack is removed; credentials are not kept", async () => {
    const { plan, recorded } = await planOf([customer("acme", "enterprise")]);
    for (const r of owned(plan, recorded, "acme")) expect(r.retainOnDelete, `${r.type} ${r.name}`).toBe(r.type === T.repo || r.type === T.garRepo);
  });

  it("tags every customer resource with customer, tier, status and managed-by, over stack tags", async () => {
    const { plan, recorded } = await planOf([customer("acme", "professional")], { tags: { "cost-center": "plat", "managed-by": "someone-else" } });
    const tagged = owned(plan, recorded, "acme").filter((r) => r.type === T.repo || r.type === T.user);
    expect(tagged.map((r) => r.type).sort()).toEqual([T.repo, T.user].sort());
    expect(tagged).toHaveLength(2);
    for (const r of tagged) {
      expect(r.inputs.tags).toEqual({
        "cost-center": "plat",
        "intake-customer": "acme",
        "intake-tier": "professional",
        "intake-status": "active",
        "managed-by": "registry-intake",
      });
    }
  });

  it("parents children to their component, and the component to the customer", async () => {
    const { recorded } = await planOf([customer("acme", "professional")]);
    const byUrn = new Map(recorded.map((r) => [r.urn, r]));
    const [repo] = recorded.filter((r) => r.type === T.repo);
    const ns = byUrn.get(repo.parent!)!;
    expect(ns.type).toBe("registry-intake:aws:EcrNamespace");
    expect(ns.name).toBe("acme-ecr");
    expect(byUrn.get(ns.parent!)).toMatchObject({ type: "registry-intake:index:CustomerRegistries", name: "acme" });
  });
});

/** Parse every statement of every customer's user policy. */
function statementsOf(recorded: Awaited<ReturnType<typeof planOf>>["recorded"], policyUrns: Set<string>) {
  return recorded
    .filter((r) => policyUrns.has(r.urn))
    .flatMap((r) => (JSON.parse(r.inputs.policy as string) as PolicyDocument).Statement.map((s) => ({ user: r.inputs.user as string, ...s })));
}

describe("IAM policies reach only the customer's own repositories", () => {
  const roster = [
    customer("acme", "enterprise", { ecr: { repositories: ["worker"] } }),
    customer("acme-eu", "professional"),
    customer("globex", "professional", { ecr: { repositories: ["api", "web"] } }),
  ];

  it("every resource in a customer policy is its own namespace (covering its repositories and no other customer's), or * for GetAuthorizationToken alone", async () => {
    const { plan, recorded } = await planOf(roster);
    for (const id of ["acme", "acme-eu", "globex"]) {
      const ownArns = new Set(owned(plan, recorded, id, T.repo).map((r) => r.state.arn as string));
      expect(ownArns.size).toBeGreaterThan(0);
      const policies = owned(plan, recorded, id, T.userPolicy);
      expect(policies).toHaveLength(1);
      const statements = statementsOf(recorded, new Set(policies.map((p) => p.urn)));
      for (const s of statements) {
        expect(s.Effect).toBe("Allow");
        const resources = ([] as string[]).concat(s.Resource ?? []);
        if (resources.includes("*")) {
          expect(resources).toEqual(["*"]);
          expect(s.Action).toEqual([ECR_AUTH_ACTION]);
        } else {
          // One ARN, the customer's namespace: it covers each of its repositories and none of anyone else's.
          expect(resources).toEqual([expect.stringMatching(new RegExp(`:repository/intake/${id}/\\*$`))]);
          const prefix = resources[0].slice(0, -1);
          for (const arn of ownArns) expect(arn.startsWith(prefix), `${arn} under ${prefix}`).toBe(true);
          const others = recorded.filter((r) => r.type === T.repo && !ownArns.has(r.state.arn as string)).map((r) => r.state.arn as string);
          expect(others.length).toBeGreaterThan(0);
          for (const arn of others) expect(arn.startsWith(prefix), `${id} policy reaches ${arn}`).toBe(false);
          expect(s.Action.every((a) => a.startsWith("ecr:") && !a.includes("*"))).toBe(true);
        }
      }
      // Push and pull on each own repository, and nothing to delete or administer.
      const actions = statements.flatMap((s) => s.Action);
      expect(actions).toEqual(expect.arrayContaining(["ecr:PutImage", "ecr:BatchGetImage", "ecr:InitiateLayerUpload"]));
      expect(actions.some((a) => /Delete|SetRepositoryPolicy|CreateRepository/.test(a))).toBe(false);
      const granted = new Set(statements.flatMap((s) => ([] as string[]).concat(s.Resource ?? [])).filter((a) => a !== "*"));
      expect(granted.size).toBe(1);
    }
  });

  it("no customer's ARN appears in another customer's policy, even with a shared id prefix", async () => {
    const { plan, recorded } = await planOf(roster);
    const acmeArns = owned(plan, recorded, "acme", T.repo).map((r) => r.state.arn as string);
    const euPolicy = owned(plan, recorded, "acme-eu", T.userPolicy)[0].inputs.policy as string;
    for (const arn of acmeArns) expect(euPolicy).not.toContain(`"${arn}"`);
  });

  it("platform roles: push role confined to the prefix, assumable only by the controller; controller trusted by the configured principals", async () => {
    const principals = ["arn:aws:iam::111122223333:role/ci-deployer"];
    const { recorded } = await planOf(roster, { aws: { accountId: ACCOUNT, region: REGION, controllerPrincipals: principals } });
    const roles = new Map(recorded.filter((r) => r.type === T.role).map((r) => [r.inputs.name as string, r]));
    const controller = roles.get("intake-ecr-controller")!;
    const push = roles.get("intake-ecr-push")!;
    expect(JSON.parse(controller.inputs.assumeRolePolicy as string).Statement).toEqual([
      { Effect: "Allow", Principal: { AWS: principals }, Action: ["sts:AssumeRole"] },
    ]);
    expect(JSON.parse(push.inputs.assumeRolePolicy as string).Statement).toEqual([
      { Effect: "Allow", Principal: { AWS: controller.state.arn }, Action: ["sts:AssumeRole", "sts:TagSession"] },
    ]);
    expect(push.inputs.maxSessionDuration).toBe(3600);
    const policies = new Map(
      recorded
        .filter((r) => r.type === T.rolePolicy && r.inputs.name !== "revoked-customer-sessions")
        .map((r) => [r.inputs.role as string, JSON.parse(r.inputs.policy as string) as PolicyDocument]),
    );
    const prefixArn = `arn:aws:ecr:${REGION}:${ACCOUNT}:repository/intake/*`;
    for (const s of policies.get("intake-ecr-push")!.Statement) {
      expect(s.Resource).toEqual(s.Action.includes(ECR_AUTH_ACTION) ? "*" : [prefixArn]);
      expect(s.Action.some((a) => a.includes("Delete") || a.includes("Create"))).toBe(false);
    }
    const assume = policies.get("intake-ecr-controller")!.Statement.find((s) => s.Action.includes("sts:AssumeRole"))!;
    expect(assume.Resource).toEqual([push.state.arn]);
    const manage = policies.get("intake-ecr-controller")!.Statement.find((s) => s.Action.includes("ecr:CreateRepository"))!;
    expect(manage.Resource).toEqual([prefixArn]);
  });
});

describe("secrets", () => {
  it("the access key secret leaves the component and the program only as a secret", async () => {
    const settings = testSettings();
    const roster = testRoster([customer("acme", "professional")]);
    const { result, resources } = await runUnderMocks(() => program(settings, roster), {
      project: "p",
      stack: "s",
      cloud: { accountId: ACCOUNT, region: REGION },
    });
    const acme = result.customers[0];
    const cred = acme.credentials.ecr!;
    expect(await pulumi.isSecret(cred.secret!)).toBe(true);
    expect(await unwrap(cred.secret!)).toMatch(/^[A-Za-z0-9+/]{40}$/);
    expect(await pulumi.isSecret(cred.id!)).toBe(false);
    const outputs = result.outputs.customers as Record<string, { credentials: Record<string, { secret: pulumi.Output<string> }> }>;
    expect(await pulumi.isSecret(outputs.acme.credentials.ecr.secret)).toBe(true);
    const key = resources.find((r) => r.type === T.key)!;
    expect(key.additionalSecretOutputs).toEqual(expect.arrayContaining(["secret", "sesSmtpPasswordV4"]));
  });

  it("the plan never carries a secret value the cloud returned", async () => {
    const { plan, recorded } = await planOf([customer("acme", "enterprise"), customer("globex", "professional")]);
    const { recorded: _r, ...printable } = plan;
    const text = JSON.stringify(printable);
    const secrets = recorded.filter((r) => r.type === T.key).map((r) => r.state.secret as string);
    expect(secrets).toHaveLength(2);
    for (const s of secrets) expect(text).not.toContain(s);
  });
});

describe("license status", () => {
  it.each([
    ["active", "2027-06-30", "Active"],
    ["suspended", "2027-06-30", "Inactive"],
    ["active", "2026-11-21", "Inactive"], // lapsed yesterday
  ] as const)("status %s, expires %s: everything kept, access key %s", async (status, expires, keyStatus) => {
    const { plan, recorded } = await planOf([customer("acme", "enterprise", { status, license: { expires } })]);
    expect(owned(plan, recorded, "acme", T.repo)).toHaveLength(1);
    expect(owned(plan, recorded, "acme", T.user)).toHaveLength(1);
    expect(owned(plan, recorded, "acme", T.userPolicy)).toHaveLength(1);
    const [key] = owned(plan, recorded, "acme", T.key);
    expect(key.inputs.status).toBe(keyStatus);
    expect(plan.customers[0].status).toBe(keyStatus === "Active" ? "active" : "suspended");
  });

  it("sessions of customers no longer licensed are revoked at once: one Deny on the push role by session tag; none while all are licensed", async () => {
    const roster = [
      customer("acme", "enterprise"),
      customer("umbrella", "professional", { status: "suspended" }),
      customer("hooli", "enterprise", { license: { expires: "2026-11-21" } }), // lapsed yesterday
      customer("soylent", "professional", { status: "offboarded" }),
      customer("initech", "standard", { status: "suspended" }), // no ECR: nothing to revoke there
    ];
    const { recorded } = await planOf(roster);
    const revoked = recorded.filter((r) => r.type === T.rolePolicy && r.inputs.name === "revoked-customer-sessions");
    expect(revoked).toHaveLength(1);
    expect(revoked[0].inputs.role).toBe("intake-ecr-push");
    expect(JSON.parse(revoked[0].inputs.policy as string).Statement).toEqual([
      {
        Sid: "RevokedCustomerSessions",
        Effect: "Deny",
        Action: ["*"],
        Resource: "*",
        Condition: { StringEquals: { "aws:PrincipalTag/intake-customer": ["hooli", "soylent", "umbrella"] } },
      },
    ]);
    // The tag it keys on is the one the runtime puts on every customer's session.
    expect(CUSTOMER_SESSION_TAG).toBe("intake-customer");
    const licensed = await planOf([customer("acme", "enterprise"), customer("initech", "standard", { status: "suspended" })]);
    expect(licensed.recorded.filter((r) => r.type === T.rolePolicy && r.inputs.name === "revoked-customer-sessions")).toEqual([]);
  });

  it("offboarded: credentials deleted, repositories the stack holds kept and tagged orphaned, none created", async () => {
    const gone = customer("soylent", "professional", { status: "offboarded", ecr: { repositories: ["worker"] } });
    // New to the stack: nothing of it is created.
    const fresh = await planOf([gone]);
    expect(owned(fresh.plan, fresh.recorded, "soylent").filter((r) => r.custom)).toEqual([]);
    const { plan, recorded } = await planOf([gone], {}, { declared: ["ecr:intake/soylent/app", "ecr:intake/soylent/worker"] });
    const mine = owned(plan, recorded, "soylent");
    expect(
      mine
        .filter((r) => r.type.startsWith("aws:"))
        .map((r) => r.type)
        .sort(),
    ).toEqual([T.lifecycle, T.lifecycle, T.repo, T.repo].sort());
    for (const r of mine.filter((x) => x.type === T.repo)) {
      expect(r.retainOnDelete).toBe(true);
      expect((r.inputs.tags as Record<string, string>)["intake-status"]).toBe("orphaned");
    }
  });

  it("removing a customer from the roster removes nothing that holds images from the plan of what is kept", async () => {
    // Every repository ever declared is retainOnDelete, so dropping its customer orphans it in the cloud.
    const before = await planOf([customer("acme", "enterprise"), customer("globex", "professional")]);
    const after = await planOf([customer("globex", "professional")]);
    const gone = before.recorded.filter((r) => r.custom && !after.recorded.some((a) => a.urn === r.urn));
    expect(gone.filter((r) => r.type === T.repo).length).toBeGreaterThan(0);
    expect(gone.filter((r) => r.type === T.repo).every((r) => r.retainOnDelete)).toBe(true);
  });
});

describe("deliveries that follow pulumi up", () => {
  const SRC = `build.example.com/app@sha256:${"c".repeat(64)}`;

  it("one local.Command per delivery: intake deliver after the namespaces, re-run by the source digest, password only by environment", async () => {
    const { recorded } = await planOf(
      [customer("acme", "enterprise"), customer("globex", "professional"), customer("umbrella", "enterprise", { status: "suspended" })],
      {
        deliveries: [
          { source: SRC, build: "app", version: "1.4.2" },
          { source: SRC, build: "tools/cli", version: "2.0.0", customers: ["acme"], kinds: ["ecr", "distribution"], tool: "skopeo" },
        ],
      },
    );
    const commands = recorded.filter((r) => r.type === "command:local:Command");
    expect(commands.map((c) => c.name)).toEqual(["deliver-app-1-4-2-deliver", "deliver-tools-cli-2-0-0-deliver"]);
    const [all, one] = commands;
    // The suspended customer is left out; the listed one only, with its kinds and tool.
    expect(all.inputs.create).toMatch(
      /^node '.*\/cli\/bin\/intake\.js' deliver --source 'build\.example\.com\/app@sha256:c{64}' --build 'app' --version '1\.4\.2' --customer 'acme,globex' --stack 'test' --project '.*'$/,
    );
    expect(one.inputs.create).toMatch(/--customer 'acme' --kind 'ecr,distribution' --tool skopeo/);
    expect(all.inputs.triggers).toEqual([`sha256:${"c".repeat(64)}`, "1.4.2", "acme,globex", ""]);
    expect(all.secretInputs).toContain("environment");
    expect(JSON.stringify(all.inputs)).not.toMatch(/INTAKE_DELIVERY_PASSWORD":"[A-Za-z0-9]{40}/);
    // It waits for every customer's namespaces and the broker's access list.
    const deps = all.dependencies.join(" ");
    for (const r of [
      "aws:ecr/repository:Repository::acme-ecr-app",
      "aws:ecr/repository:Repository::globex-ecr-app",
      "aws:ecr/repository:Repository::umbrella-ecr-app",
      "random:index/randomPassword:RandomPassword::acme-distribution-robot",
    ]) {
      expect(deps).toContain(r);
    }
  });

  it("a delivery must be pinned by digest, name a version and known customers and kinds", async () => {
    let message = "";
    try {
      testSettings({ deliveries: [{ source: "build.example.com/app:1.4.2", build: "App", version: "latest", kinds: ["acr"] }], enabledKinds: ["ghcr"] });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/registry-intake:deliveries\.0\.source: "build\.example\.com\/app:1\.4\.2" must be pinned by digest/);
    expect(message).toMatch(/registry-intake:deliveries\.0\.build: "App" must be a repository name/);
    expect(message).toMatch(/registry-intake:deliveries\.0\.version: "latest" must name a version/);
    expect(message).toMatch(/registry-intake:deliveries\.0\.kinds: acr is not in enabledKinds/);
    await expect(
      planOf([customer("acme", "enterprise")], { deliveries: [{ source: SRC, build: "app", version: "1", customers: ["acme", "nobody"] }] }),
    ).rejects.toThrow(/registry-intake:deliveries\[0\]\.customers: nobody not in roster\.yaml/);
  });
});
