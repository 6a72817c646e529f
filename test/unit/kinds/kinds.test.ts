import { parse } from "yaml";
import { parseRoster } from "../../../customers/roster";
import { describe, expect, it } from "vitest";
import bcrypt from "bcryptjs";
import { GAR_WRITER_ROLE, TOKEN_CREATOR_ROLE } from "../../../kinds/gar/component";
import { namesFor, nameProblems } from "../../../core/naming";
import { aclSchema } from "../../../core/acl";
import { customerFromName, kindOfType } from "../../../kinds";
import { runUnderMocks, type RecordedResource } from "../../../planning/engine";
import { program } from "../../../program";
import { ACCOUNT, customer, owned, planOf, REGION, T, testRoster, testSettings, unwrap } from "../../../testing/helpers";

/** Every pair of customers, in a roster where ids share prefixes on purpose. */
const ROSTER = [
  customer("acme", "enterprise", {
    github: { members: ["wile"], machineUser: "acme-bot" },
    kubernetes: { namespace: "acme-apps" },
    acr: { allowDelete: true },
  }),
  customer("acme-eu", "enterprise", { github: { members: ["road"] }, distribution: { access: "pull" } }),
  customer("globex", "professional", { github: { members: ["hank"] } }),
  customer("initech", "standard", { github: { members: ["peter"] } }),
];
const IDS = ["acme", "acme-eu", "globex", "initech"];
const TOKENS = { ghcr: { owner: "example-org", machineUserTokens: { acme: "ghp_acmemachineuserpat" } } };

const byType = (rs: RecordedResource[], type: string) => rs.filter((r) => r.type === type);

describe("ACR: scope map per customer on its own repository glob, token bound to it", () => {
  it("every action of every scope map is confined to repositories/intake/<own id>/*", async () => {
    const { plan, recorded } = await planOf(ROSTER);
    for (const id of IDS) {
      const maps = owned(plan, recorded, id, T.scopeMap);
      const tokens = owned(plan, recorded, id, T.token);
      if (id === "initech") {
        expect(maps).toEqual([]); // standard tier: no ACR
        continue;
      }
      expect(maps).toHaveLength(1);
      const actions = maps[0].inputs.actions as string[];
      for (const a of actions) {
        const m = /^repositories\/([^*]+)\*\/(content|metadata)\/(read|write|delete)$/.exec(a);
        expect(m, a).not.toBeNull();
        expect(m![1]).toBe(`intake/${id}/`);
      }
      const verbs = actions.map((a) => a.split("/*/")[1]).sort();
      expect(verbs).toEqual(
        id === "acme"
          ? ["content/delete", "content/read", "content/write", "metadata/read", "metadata/write"]
          : ["content/read", "content/write", "metadata/read"],
      );
      expect(maps[0].inputs).toMatchObject({ scopeMapName: namesFor(id).acrScopeMapName, registryName: "intaketest", resourceGroupName: "rg-intake" });
      expect(tokens).toHaveLength(1);
      expect(tokens[0].inputs).toMatchObject({ tokenName: namesFor(id).acrTokenName, scopeMapId: maps[0].id, status: "enabled" });
      expect(maps[0].id).toMatch(new RegExp(`/registries/intaketest/scopeMaps/${namesFor(id).acrScopeMapName}$`));
      expect(tokens[0].inputs).not.toHaveProperty("credentials"); // no password in state
      expect(maps[0].inputs.description).toContain(`intake-customer=${id}`);
    }
  });

  it("token disabled while suspended; token and scope map gone when offboarded", async () => {
    const { plan, recorded } = await planOf([
      customer("umbrella", "professional", { status: "suspended" }),
      customer("soylent", "professional", { status: "offboarded" }),
    ]);
    expect(owned(plan, recorded, "umbrella", T.token)[0].inputs.status).toBe("disabled");
    expect(owned(plan, recorded, "umbrella", T.scopeMap)).toHaveLength(1);
    expect(owned(plan, recorded, "soylent").filter((r) => r.type.startsWith("azure-native:"))).toEqual([]);
  });

  it("the shared registry: Premium gets retention and geo-replicas; Standard neither", async () => {
    const premium = await planOf([], {
      acr: {
        resourceGroupName: "rg",
        registryName: "intakeprem",
        location: "eastus",
        sku: "Premium",
        replicaLocations: ["westeurope", "northeurope"],
        untaggedRetentionDays: 5,
      },
    });
    const [reg] = byType(premium.recorded, T.acrRegistry);
    expect(reg.inputs).toMatchObject({
      sku: { name: "Premium" },
      adminUserEnabled: false,
      anonymousPullEnabled: false,
      policies: { retentionPolicy: { status: "enabled", days: 5 } },
    });
    expect(reg.retainOnDelete).toBe(true);
    expect(byType(premium.recorded, T.acrReplica).map((r) => r.inputs.location)).toEqual(["westeurope", "northeurope"]);
    const standard = await planOf([], { acr: { resourceGroupName: "rg", registryName: "intakestd", location: "eastus", sku: "Standard" } });
    expect(byType(standard.recorded, T.acrRegistry)[0].inputs.policies).toBeUndefined();
    expect(() =>
      testSettings({ acr: { resourceGroupName: "rg", registryName: "intakestd", location: "eastus", sku: "Standard", replicaLocations: ["westeurope"] } }),
    ).toThrow(/registry-intake:acr.replicaLocations: geo-replication needs the Premium SKU, not Standard/);
  });
});

describe("Artifact Registry: a repository per customer, writer on that repository only", () => {
  it("each customer's service account is writer on its own repository and nothing else", async () => {
    const { plan, recorded } = await planOf(ROSTER, {
      gar: { project: "intake-test-123", location: "europe-west1", runtimeMember: "serviceAccount:rt@intake-test-123.iam.gserviceaccount.com" },
    });
    // Never a project-level grant.
    expect(recorded.filter((r) => /gcp:projects\//.test(r.type))).toEqual([]);
    for (const id of ["acme", "acme-eu"]) {
      const [repo] = owned(plan, recorded, id, T.garRepo);
      const [sa] = owned(plan, recorded, id, T.sa);
      const grants = owned(plan, recorded, id, T.garMember);
      expect(repo.inputs).toMatchObject({ repositoryId: `intake-${id}`, format: "DOCKER", project: "intake-test-123", location: "europe-west1" });
      expect(sa.inputs).toMatchObject({ accountId: `intake-${id}`, disabled: false });
      expect(grants).toHaveLength(1);
      expect(grants[0].inputs).toEqual(
        expect.objectContaining({ role: GAR_WRITER_ROLE, repository: repo.state.name, member: `serviceAccount:${sa.state.email}`, location: "europe-west1" }),
      );
      const creators = owned(plan, recorded, id, T.saMember);
      expect(creators.map((c) => [c.inputs.serviceAccountId, c.inputs.role])).toEqual([[sa.state.name, TOKEN_CREATOR_ROLE]]);
      expect(owned(plan, recorded, id, T.saKey)).toEqual([]); // impersonation, no keys by default
    }
    // Grants name exactly one customer's repository and identity each.
    const all = byType(recorded, T.garMember);
    expect(new Set(all.map((g) => g.inputs.repository)).size).toBe(all.length);
    expect(new Set(all.map((g) => g.inputs.member)).size).toBe(all.length);
  });

  it("cleanup policies within the limit of 10, immutable tags in prod, labels folded to GCP's rules", async () => {
    const { plan, recorded } = await planOf([customer("acme", "enterprise")], { environment: "prod", tags: { "Cost Center": "Platform Eng" } });
    const [repo] = owned(plan, recorded, "acme", T.garRepo);
    const policies = repo.inputs.cleanupPolicies as { id: string; action: string }[];
    expect(policies.length).toBeLessThanOrEqual(10);
    expect(policies.map((p) => [p.id, p.action])).toEqual([
      ["delete-untagged", "DELETE"],
      ["keep-newest", "KEEP"],
    ]);
    expect(repo.inputs.dockerConfig).toEqual({ immutableTags: true });
    expect(repo.inputs.labels).toEqual({
      cost_center: "platform_eng",
      "intake-customer": "acme",
      "intake-tier": "enterprise",
      "intake-status": "active",
      "managed-by": "registry-intake",
    });
    expect(repo.retainOnDelete).toBe(true);
  });

  it("keys only when the stack asks, and then only as secrets; suspended disables; offboarded keeps the repository the stack holds only", async () => {
    const withKeys = await planOf([customer("acme", "enterprise")], {
      gar: { project: "intake-test-123", location: "europe-west1", serviceAccountKeys: true },
    });
    const [key] = owned(withKeys.plan, withKeys.recorded, "acme", T.saKey);
    expect(key.additionalSecretOutputs).toContain("privateKey");
    const held = { declared: ["gar:projects/intake-test-123/locations/europe-west1/repositories/intake-soylent"] };
    const states = await planOf(
      [customer("hooli", "enterprise", { status: "suspended" }), customer("soylent", "enterprise", { status: "offboarded" })],
      {},
      held,
    );
    expect(owned(states.plan, states.recorded, "hooli", T.sa)[0].inputs.disabled).toBe(true);
    expect(
      owned(states.plan, states.recorded, "soylent")
        .filter((r) => r.type.startsWith("gcp:"))
        .map((r) => r.type),
    ).toEqual([T.garRepo]);
    expect((owned(states.plan, states.recorded, "soylent", T.garRepo)[0].inputs.labels as Record<string, string>)["intake-status"]).toBe("orphaned");
  });
});

describe("GHCR: isolation by GitHub identity", () => {
  it("a private repository per customer, archived not deleted, its team reading only it", async () => {
    const { plan, recorded } = await planOf(ROSTER);
    for (const id of IDS) {
      const [repo] = owned(plan, recorded, id, T.ghRepo);
      expect(repo.inputs).toMatchObject({ name: `intake-${id}`, visibility: "private", archiveOnDestroy: true, archived: false });
      expect(repo.inputs.topics).toEqual(["registry-intake", `customer-${id}`, `tier-${ROSTER[IDS.indexOf(id)].tier}`]);
      const [team] = owned(plan, recorded, id, T.team);
      expect(team.inputs).toMatchObject({ name: `intake-${id}`, privacy: "closed" });
      const reads = owned(plan, recorded, id, T.teamRepo);
      expect(team.id).toMatch(/^\d+$/);
      expect(reads.map((r) => [r.inputs.teamId, r.inputs.repository, r.inputs.permission])).toEqual([[team.id, `intake-${id}`, "pull"]]);
    }
    const members = (id: string) =>
      owned(plan, recorded, id, T.teamMember)
        .map((m) => m.inputs.username)
        .sort();
    expect(members("acme")).toEqual(["acme-bot", "wile"]);
    expect(members("globex")).toEqual(["hank"]);
    // No team reaches another customer's repository.
    const teamOfRepo = byType(recorded, T.teamRepo).map((r) => r.inputs.repository);
    expect(new Set(teamOfRepo).size).toBe(teamOfRepo.length);
  });

  it("suspended: the team loses its read, memberships stay; offboarded: nothing on GitHub (the repository leaves the program, archived on delete)", async () => {
    const { plan, recorded } = await planOf([
      customer("umbrella", "professional", { status: "suspended", github: { members: ["albert"] } }),
      customer("soylent", "professional", { status: "offboarded", github: { members: ["sol"] } }),
    ]);
    expect(owned(plan, recorded, "umbrella", T.teamRepo)).toEqual([]);
    expect(owned(plan, recorded, "umbrella", T.teamMember).map((m) => m.inputs.username)).toEqual(["albert"]);
    expect(owned(plan, recorded, "soylent").filter((r) => r.type.startsWith("github:"))).toEqual([]);
    // Never created archived (GitHub refuses the provider's follow-up edit); archived on delete instead.
    expect(owned(plan, recorded, "umbrella", T.ghRepo).map((r) => [r.inputs.archived, r.inputs.archiveOnDestroy])).toEqual([[false, true]]);
  });

  it("one GitHub user cannot be in two customers' teams", () => {
    expect(() =>
      testRoster([customer("acme", "standard", { github: { members: ["Wile"] } }), customer("globex", "standard", { github: { machineUser: "wile" } })]),
    ).toThrow(/customer globex field github\.machineUser: GitHub user "wile" is already listed by customer acme \(github\.members\.0\)/);
  });

  it("the machine user's PAT is returned only as a secret, and only while active", async () => {
    const settings = testSettings(TOKENS);
    const roster = testRoster(ROSTER, settings);
    const { result } = await runUnderMocks(() => program(settings, roster), { project: "p", stack: "s", cloud: { accountId: ACCOUNT, region: REGION } });
    const acme = result.customers.find((c) => c.customerId === "acme")!;
    expect(await unwrap(acme.credentials.ghcr!.secret!)).toBe("ghp_acmemachineuserpat");
    const { isSecret } = await import("@pulumi/pulumi");
    expect(await isSecret(acme.credentials.ghcr!.secret!)).toBe(true);
    expect(result.customers.find((c) => c.customerId === "globex")!.credentials.ghcr).toBeUndefined();
  });
});

describe("Distribution: robot accounts and the broker's access list", () => {
  it("each entry reaches only its customer's paths, with pull or pull+push, and holds a bcrypt hash, never the password", async () => {
    const settings = testSettings();
    const roster = testRoster(
      [...ROSTER, customer("hooli", "enterprise", { license: { expires: "2026-01-31" } }), customer("gone", "enterprise", { status: "offboarded" })],
      settings,
    );
    const { result, resources } = await runUnderMocks(() => program(settings, roster), {
      project: "p",
      stack: "s",
      cloud: { accountId: ACCOUNT, region: REGION },
    });
    const acl = aclSchema.parse(JSON.parse(await unwrap(result.distribution!.acl)));
    expect(acl.entries.map((e) => e.customer).sort()).toEqual(["acme", "acme-eu", "hooli"]); // enterprise only; offboarded gone
    for (const e of acl.entries) {
      expect(e.paths).toEqual([`intake/${e.customer}/*`]);
      expect(e.username).toBe(namesFor(e.customer).distributionRobot);
    }
    const entry = (id: string) => acl.entries.find((e) => e.customer === id)!;
    expect(entry("acme").actions).toEqual(["pull", "push"]);
    expect(entry("acme-eu").actions).toEqual(["pull"]);
    expect(entry("acme").enabled).toBe(true);
    expect(entry("hooli").enabled).toBe(false); // lapsed license
    const acme = result.customers.find((c) => c.customerId === "acme")!;
    const password = await unwrap(acme.credentials.distribution!.secret!);
    expect(bcrypt.compareSync(password!, entry("acme").passwordHash)).toBe(true);
    expect(JSON.stringify(acl)).not.toContain(password);
    const { isSecret } = await import("@pulumi/pulumi");
    expect(await isSecret(result.distribution!.acl)).toBe(true);
    expect(byType(resources, T.robot).every((r) => r.additionalSecretOutputs.includes("result"))).toBe(true);
  });

  it("on Kubernetes: registry with auth.token at the broker, broker with the access list, storage kept", async () => {
    const { recorded } = await planOf([customer("acme", "enterprise")], {
      distribution: {
        host: "registry.example.com",
        kubernetes: { namespace: "registry", brokerImage: "example/intake:1", signingSecretName: "broker-signing" },
      },
    });
    const kinds = recorded
      .filter((r) => r.type.startsWith("kubernetes:") && r.parent?.includes("DistributionService"))
      .map((r) => r.type)
      .sort();
    expect(kinds).toEqual([
      "kubernetes:apps/v1:Deployment",
      "kubernetes:apps/v1:Deployment",
      "kubernetes:core/v1:ConfigMap",
      "kubernetes:core/v1:ConfigMap",
      "kubernetes:core/v1:PersistentVolumeClaim",
      "kubernetes:core/v1:Secret",
      "kubernetes:core/v1:Service",
      "kubernetes:core/v1:Service",
    ]);
    const config = recorded.find((r) => r.name === "distribution-registry-config")!;
    const { parse } = await import("yaml");
    const cfg = parse((config.inputs.data as Record<string, string>)["config.yml"]);
    expect(cfg.auth.token).toEqual({
      realm: "https://registry.example.com/auth/token",
      service: "registry-intake",
      issuer: "registry-intake-broker",
      rootcertbundle: "/etc/registry/auth/tls.crt",
    });
    expect(recorded.find((r) => r.type === "kubernetes:core/v1:PersistentVolumeClaim")!.retainOnDelete).toBe(true);
    const aclSecret = recorded.find((r) => r.name === "distribution-broker-acl")!;
    expect(aclSecret.secretInputs).toContain("stringData");
    const broker = recorded.find((r) => r.name === "distribution-broker" && r.type === "kubernetes:apps/v1:Deployment")!;
    const args = (broker.inputs as any).spec.template.spec.containers[0].args as string[];
    expect(args.slice(0, 5)).toEqual(["broker", "--acl", "/etc/intake/acl", "--roster", "/etc/intake/roster/roster.yaml"]);
    // Metrics on a port of their own, announced to in-cluster scraping, and on no Service (they name customers).
    expect(args.slice(args.indexOf("--metrics-listen"), args.indexOf("--metrics-listen") + 2)).toEqual(["--metrics-listen", "0.0.0.0:9464"]);
    const template = (broker.inputs as any).spec.template;
    expect(template.spec.containers[0].ports).toEqual([
      { containerPort: 5001, name: "http" },
      { containerPort: 9464, name: "metrics" },
    ]);
    expect(template.metadata.annotations).toEqual({ "prometheus.io/scrape": "true", "prometheus.io/port": "9464", "prometheus.io/path": "/metrics" });
    const services = recorded.filter((r) => r.type === "kubernetes:core/v1:Service");
    expect(services.flatMap((r) => (r.inputs as any).spec.ports.map((p: { port: number; targetPort: string }) => `${p.port}->${p.targetPort}`)).sort()).toEqual(
      ["5000->http", "5001->http"],
    );
    // The broker reads the roster it judges licenses by: the entries as written, loadable as a roster.
    const rosterMap = recorded.find((r) => r.name === "distribution-broker-roster")!;
    expect(parseRoster((rosterMap.inputs.data as Record<string, string>)["roster.yaml"], "roster.yaml").customers.map((c) => c.id)).toEqual(["acme"]);
    const volumes = (broker.inputs as any).spec.template.spec.volumes as { name: string; projected?: { sources: unknown[] } }[];
    expect(volumes.find((v) => v.name === "acl")!.projected!.sources).toHaveLength(1);
  });

  it("sharded: each shard stack writes its part of the access list where the platform's broker mounts it", async () => {
    const k8s = { host: "registry.example.com", kubernetes: { namespace: "registry", brokerImage: "example/intake:1", signingSecretName: "broker-signing" } };
    const platform = await planOf([customer("acme", "enterprise")], { distribution: k8s, shard: { count: 3 } });
    const broker = platform.recorded.find((r) => r.name === "distribution-broker" && r.type === "kubernetes:apps/v1:Deployment")!;
    const sources = ((broker.inputs as any).spec.template.spec.volumes as any[]).find((v) => v.name === "acl").projected.sources.map((s: any) => s.secret.name);
    expect(sources).toEqual(["intake-broker-acl", "intake-broker-acl-shard-00", "intake-broker-acl-shard-01", "intake-broker-acl-shard-02"]);
    // The roster too: one part per shard (the whole roster would pass 1 MiB at about 5,000 customers), read as a folder.
    const spec = (broker.inputs as any).spec.template.spec;
    expect(
      spec.volumes.find((v: any) => v.name === "roster").projected.sources.map((s: any) => [s.configMap.name, s.configMap.optional, s.configMap.items[0].path]),
    ).toEqual(["00", "01", "02"].map((i) => [`intake-broker-roster-shard-${i}`, true, `intake-broker-roster-shard-${i}.yaml`]));
    expect(spec.containers[0].args.join(" ")).toContain("--roster /etc/intake/roster ");
    expect(
      platform.recorded.filter((r) => r.type === "kubernetes:core/v1:ConfigMap").map((r) => (r.inputs.metadata as { name?: string }).name ?? r.name),
    ).toEqual(["intake-registry-config"]);
    const roster = [customer("acme", "enterprise"), customer("globex", "enterprise"), customer("initech", "enterprise")];
    const parts = [];
    // One at a time: the mock engine is the process's.
    for (const index of [0, 1, 2]) {
      parts.push(
        await (async () => {
          const shard = await planOf(roster, { distribution: k8s, shard: { count: 3, index, platformStack: "prod" } });
          const objects = shard.recorded.filter((r) => r.type.startsWith("kubernetes:") && r.parent?.includes("DistributionService"));
          expect(objects.map((r) => (r.inputs.metadata as { name?: string }).name).sort()).toEqual([
            `intake-broker-acl-shard-0${index}`,
            `intake-broker-roster-shard-0${index}`,
          ]);
          const doc = (objects.find((r) => r.type === "kubernetes:core/v1:ConfigMap")!.inputs.data as Record<string, string>)["roster.yaml"];
          return { ids: parse(doc).customers.map((c: { id: string }) => c.id) as string[], declared: shard.plan.customers.map((c) => c.id) };
        })(),
      );
    }
    // Each part holds exactly the customers its shard declares, and together the whole roster once.
    for (const p of parts) expect(p.ids).toEqual(p.declared);
    expect(parts.flatMap((p) => p.ids).sort()).toEqual(["acme", "globex", "initech"]);
  });

  it("a roster or access-list part over Kubernetes' 1 MiB is refused with the shard count that fits it", async () => {
    const k8s = { host: "registry.example.com", kubernetes: { namespace: "registry", brokerImage: "example/intake:1", signingSecretName: "broker-signing" } };
    const many = Array.from({ length: 6000 }, (_, i) =>
      customer(`customer-${String(i).padStart(5, "0")}`, "enterprise", {
        registries: ["distribution"],
        github: { members: [`member-${i}-a`, `member-${i}-b`] },
      }),
    );
    await expect(planOf(many, { enabledKinds: ["distribution"], distribution: k8s })).rejects.toThrow(
      /the broker's roster ConfigMap for stack \S+ would be \d+ bytes \(6000 customers\), over Kubernetes' 1 MiB object limit: shard the stack \(registry-intake:shard: \{ count: \d+ \} or more/,
    );
    // Without Kubernetes nothing is mounted: no limit.
    await expect(planOf(many.slice(0, 10), { enabledKinds: ["distribution"], distribution: { host: "registry.example.com" } })).resolves.toBeDefined();
  });
});

describe("Kubernetes pull secrets", () => {
  it("one dockerconfigjson secret per kind in the customer's namespace, secret values only", async () => {
    const { plan, recorded } = await planOf(ROSTER, TOKENS);
    const secrets = owned(plan, recorded, "acme", T.k8sSecret);
    expect(secrets.map((s) => (s.inputs.metadata as { name: string }).name).sort()).toEqual(
      ["intake-acme-acr", "intake-acme-distribution", "intake-acme-ecr", "intake-acme-gar", "intake-acme-ghcr"].sort(),
    );
    for (const s of secrets) {
      expect(s.inputs.type).toBe("kubernetes.io/dockerconfigjson");
      expect((s.inputs.metadata as { namespace: string }).namespace).toBe("acme-apps");
      expect(s.secretInputs).toContain("stringData");
    }
    // Customers without a namespace get none.
    for (const id of ["acme-eu", "globex", "initech"]) expect(owned(plan, recorded, id, T.k8sSecret)).toEqual([]);
  });

  it("long-lived credentials are written; short-lived kinds are left to the refresher and never overwritten", async () => {
    const settings = testSettings(TOKENS);
    const roster = testRoster(ROSTER, settings);
    const { resources } = await runUnderMocks(() => program(settings, roster), { project: "p", stack: "s", cloud: { accountId: ACCOUNT, region: REGION } });
    const secret = (kind: string) => resources.find((r) => r.type === T.k8sSecret && (r.state.metadata as { name: string }).name === `intake-acme-${kind}`)!;
    const config = (kind: string) => JSON.parse((secret(kind).state.stringData as Record<string, string>)[".dockerconfigjson"]);
    expect(config("ghcr").auths["ghcr.io"]).toMatchObject({ username: "acme-bot", password: "ghp_acmemachineuserpat" });
    expect(Buffer.from(config("ghcr").auths["ghcr.io"].auth, "base64").toString()).toBe("acme-bot:ghp_acmemachineuserpat");
    expect(Object.keys(config("distribution").auths)).toEqual(["registry.test.example.com"]);
    expect(config("distribution").auths["registry.test.example.com"].username).toBe("intake-robot-acme");
    for (const kind of ["ecr", "acr", "gar"]) {
      expect(config(kind)).toEqual({ auths: {} });
      expect(secret(kind).ignoreChanges.sort()).toEqual(["data", "stringData"]);
      expect((secret(kind).inputs.metadata as { annotations: Record<string, string> }).annotations["registry-intake/refresh"]).toBe(
        `intake token --customer acme --kind ${kind} --format docker-config`,
      );
    }
    expect(secret("ghcr").ignoreChanges).toEqual([]);
  });
});

describe("names follow every provider's rules", () => {
  it("every name a resource is declared with is the one naming.ts makes, and passes its rule", async () => {
    const { plan, recorded } = await planOf(ROSTER);
    for (const id of IDS) {
      expect(nameProblems(id)).toEqual([]);
      const n = namesFor(id);
      const names = owned(plan, recorded, id)
        .flatMap((r) => [r.inputs.name, r.inputs.scopeMapName, r.inputs.tokenName, r.inputs.repositoryId, r.inputs.accountId])
        .filter((x) => typeof x === "string");
      for (const name of names) {
        expect([
          `${n.ecrRepositoryPrefix}app`,
          n.iamUserName,
          n.acrScopeMapName,
          n.acrTokenName,
          n.garRepositoryId,
          n.gcpServiceAccountId,
          n.githubRepository,
          n.githubTeam,
          "ecr-namespace",
        ]).toContain(name);
      }
    }
  });

  it("names made and parsed agree: every declared resource a kind reads its owner from names the customer that holds it", async () => {
    const { plan, recorded } = await planOf(ROSTER, { gar: { project: "intake-test-123", location: "europe-west1", serviceAccountKeys: true } });
    let parsed = 0;
    for (const id of IDS) {
      for (const r of owned(plan, recorded, id)) {
        const kind = kindOfType(r.type);
        const byName = customerFromName(r.type, { ...r.state, ...r.inputs }, "intake");
        if (byName === undefined) continue;
        parsed++;
        expect(byName, `${r.type} ${r.name}`).toBe(id);
        expect(kind, r.type).toBeDefined();
      }
    }
    // ecr (repository, lifecycle, user, policy, key), acr (2), gar (repository, grant, account, key, IAM member), ghcr (3)
    expect(parsed).toBeGreaterThanOrEqual(IDS.length * 3);
    // and a prefix that is itself a customer-looking word does not confuse the parse
    expect(customerFromName("aws:iam/user:User", { name: "intake-customer-acme-eu" }, "intake")).toBe("acme-eu");
    expect(customerFromName("aws:iam/user:User", { name: "other-customer-acme" }, "intake")).toBeUndefined();
  });
});
