// Pull secrets that keep working: per kind, the way that keeps the customer's own scope.
import { describe, expect, it } from "vitest";
import { evaluate, policyContext } from "../../../policy/evaluate";
import { fromRecorded } from "../../../planning/plan";
import type { RecordedResource } from "../../../planning/engine";
import { runUnderMocks } from "../../../planning/engine";
import { program } from "../../../program";
import { ACCOUNT, customer, planOf, REGION, testRoster, testSettings } from "../../../testing/helpers";

const GKE = { projectId: "intake-gke-123", location: "europe-west1", name: "apps" };
const REFRESHER = { namespace: "intake-system", serviceAccount: "intake-refresher", image: "registry.example.com/intake:1.0.0" };
const ESO = { pullSecrets: { mode: "eso", gke: GKE, refresher: REFRESHER } };
const ACME = customer("acme", "enterprise", { kubernetes: { namespace: "acme-apps" } });
const GLOBEX = customer("globex", "enterprise", { kubernetes: { namespace: "globex-apps" } });

const meta = (r: RecordedResource) => r.inputs.metadata as { name: string; namespace: string; annotations?: Record<string, string> };
const named = (rs: RecordedResource[], type: string, name: string) => rs.filter((r) => r.type === type && meta(r).name === name);
const K = {
  secret: "kubernetes:core/v1:Secret",
  sa: "kubernetes:core/v1:ServiceAccount",
  role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
  binding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
  cron: "kubernetes:batch/v1:CronJob",
  external: "kubernetes:external-secrets.io/v1:ExternalSecret",
  ecrGen: "kubernetes:generators.external-secrets.io/v1alpha1:ECRAuthorizationToken",
  gcrGen: "kubernetes:generators.external-secrets.io/v1alpha1:GCRAccessToken",
};

describe("pull secrets with External Secrets Operator (pullSecrets.mode eso)", () => {
  it("ECR: a generator that authenticates as the customer's own IAM user, and an ExternalSecret rendering the dockerconfigjson", async () => {
    const { recorded } = await planOf([ACME, GLOBEX], ESO);
    const [auth] = named(recorded, K.secret, "intake-acme-ecr-auth");
    expect(meta(auth).namespace).toBe("acme-apps");
    expect(auth.secretInputs).toContain("stringData");
    expect(auth.inputs.stringData).toBe("[secret]"); // never in the plan
    // ...and it is the customer's own access key, not another's or the platform's.
    const settings = testSettings(ESO);
    const { resources } = await runUnderMocks(() => program(settings, testRoster([ACME, GLOBEX], settings)), {
      project: "p",
      stack: "s",
      cloud: { accountId: ACCOUNT, region: REGION },
    });
    const key = resources.find((r) => r.type === "aws:iam/accessKey:AccessKey" && r.inputs.user === "intake-customer-acme")!;
    const held = resources.find((r) => r.type === K.secret && (r.state.metadata as { name: string }).name === "intake-acme-ecr-auth")!;
    expect(held.state.stringData).toEqual({ "access-key-id": key.id, "secret-access-key": key.state.secret });
    expect(String(key.state.secret)).not.toBe("");
    const [gen] = named(recorded, K.ecrGen, "intake-acme-ecr");
    expect(gen.inputs.spec).toEqual({
      region: "eu-west-1",
      auth: {
        secretRef: {
          accessKeyIDSecretRef: { name: "intake-acme-ecr-auth", key: "access-key-id" },
          secretAccessKeySecretRef: { name: "intake-acme-ecr-auth", key: "secret-access-key" },
        },
      },
    });
    expect(gen.inputs.spec).not.toHaveProperty("role"); // never the platform's push role: that reaches every customer
    const [ext] = named(recorded, K.external, "intake-acme-ecr");
    const spec = ext.inputs.spec as {
      refreshInterval: string;
      target: { name: string; creationPolicy: string; template: { type: string; data: Record<string, string> } };
      dataFrom: unknown[];
    };
    expect(spec.refreshInterval).toBe("6h");
    expect(spec.target).toMatchObject({ name: "intake-acme-ecr", creationPolicy: "Merge", template: { type: "kubernetes.io/dockerconfigjson" } });
    expect(spec.target.template.data[".dockerconfigjson"]).toBe(
      '{"auths":{"111122223333.dkr.ecr.eu-west-1.amazonaws.com":{"username":"{{ .username }}","password":"{{ .password }}","auth":"{{ printf "%s:%s" .username .password | b64enc }}"}}}',
    );
    expect(spec.dataFrom).toEqual([
      { sourceRef: { generatorRef: { apiVersion: "generators.external-secrets.io/v1alpha1", kind: "ECRAuthorizationToken", name: "intake-acme-ecr" } } },
    ]);
    // The program declares the pull secret (empty, its data left to ESO, forced over another writer's
    // fields); ESO merges the token into it and never owns it, so a change of mode never deletes it.
    const [pull] = named(recorded, K.secret, "intake-acme-ecr");
    expect(pull.inputs.type).toBe("kubernetes.io/dockerconfigjson");
    expect(meta(pull).annotations).toMatchObject({ "pulumi.com/patchForce": "true", "registry-intake/written-by": "ExternalSecret intake-acme-ecr" });
    expect(pull.ignoreChanges).toEqual(["stringData", "data"]);
  });

  it("Artifact Registry: a service account in the customer's namespace, allowed by workload identity to act as the customer's own", async () => {
    const { recorded } = await planOf([ACME, GLOBEX], ESO);
    for (const id of ["acme", "globex"]) {
      const [ksa] = named(recorded, K.sa, `intake-${id}-gar-puller`);
      expect(meta(ksa).namespace).toBe(`${id}-apps`);
      const sa = recorded.find((r) => r.type === "gcp:serviceaccount/account:Account" && r.inputs.accountId === `intake-${id}`)!;
      expect(meta(ksa).annotations).toEqual({ "iam.gke.io/gcp-service-account": sa.state.email });
      const wi = recorded.filter((r) => r.type === "gcp:serviceaccount/iAMMember:IAMMember" && r.inputs.role === "roles/iam.workloadIdentityUser");
      const mine = wi.filter((r) => r.inputs.serviceAccountId === sa.state.name);
      expect(mine.map((r) => r.inputs.member)).toEqual([`serviceAccount:intake-gke-123.svc.id.goog[${id}-apps/intake-${id}-gar-puller]`]);
      const [gen] = named(recorded, K.gcrGen, `intake-${id}-gar`);
      expect(gen.inputs.spec).toEqual({
        projectID: "intake-test-123",
        auth: {
          workloadIdentity: {
            serviceAccountRef: { name: `intake-${id}-gar-puller` },
            clusterLocation: "europe-west1",
            clusterName: "apps",
            clusterProjectID: "intake-gke-123",
          },
        },
      });
      expect((named(recorded, K.external, `intake-${id}-gar`)[0].inputs.spec as { refreshInterval: string }).refreshInterval).toBe("20m");
    }
  });

  it("ACR: no generator keeps a token's scope map, so the refresher: a CronJob in the platform's namespace, allowed to patch that one Secret", async () => {
    const { recorded } = await planOf([ACME], ESO);
    expect(recorded.filter((r) => r.type.includes("ACRAccessToken"))).toEqual([]);
    const [secret] = named(recorded, K.secret, "intake-acme-acr");
    expect(secret.ignoreChanges.sort()).toEqual(["data", "stringData"]);
    const [role] = named(recorded, K.role, "intake-acme-acr-refresh");
    expect(meta(role).namespace).toBe("acme-apps");
    expect(role.inputs.rules).toEqual([{ apiGroups: [""], resources: ["secrets"], resourceNames: ["intake-acme-acr"], verbs: ["get", "patch"] }]);
    const [binding] = named(recorded, K.binding, "intake-acme-acr-refresh");
    expect(binding.inputs.subjects).toEqual([{ kind: "ServiceAccount", name: "intake-refresher", namespace: "intake-system" }]);
    const [cron] = named(recorded, K.cron, "intake-acme-acr-refresh");
    expect(meta(cron).namespace).toBe("intake-system"); // never in the customer's namespace
    const job = cron.inputs.spec as {
      schedule: string;
      jobTemplate: { spec: { template: { spec: { serviceAccountName: string; containers: { image: string; command: string[] }[] } } } };
    };
    expect(job.schedule).toBe("*/20 * * * *");
    const pod = job.jobTemplate.spec.template.spec;
    expect(pod.serviceAccountName).toBe("intake-refresher");
    expect(pod.containers[0].image).toBe(REFRESHER.image);
    expect(pod.containers[0].command[2]).toContain("intake token --customer acme --kind acr --format docker-config --stack test");
    expect(pod.containers[0].command[2]).toContain("kubectl -n acme-apps patch secret intake-acme-acr");
  });

  it("a suspended customer's service account loses the workload identity grant with its others", async () => {
    const { recorded } = await planOf([customer("acme", "enterprise", { status: "suspended", kubernetes: { namespace: "acme-apps" } })], ESO);
    expect(recorded.filter((r) => r.inputs.role === "roles/iam.workloadIdentityUser")).toEqual([]);
  });

  it("the policy pack refuses a workload identity grant to another customer's puller", async () => {
    const { plan, roster, settings } = await planOf([ACME, GLOBEX], ESO);
    expect(plan.violations).toEqual([]);
    const wi = plan.recorded.find((r) => r.inputs.role === "roles/iam.workloadIdentityUser" && String(r.inputs.member).includes("acme-apps"))!;
    const planted = plan.recorded.map((r) =>
      r === wi ? { ...r, inputs: { ...r.inputs, member: "serviceAccount:intake-gke-123.svc.id.goog[globex-apps/intake-globex-gar-puller]" } } : r,
    );
    const found = evaluate(fromRecorded(planted), policyContext(roster, settings)).filter((v) => v.policy !== "labels-present");
    expect(found.map((v) => v.message)).toContainEqual(
      expect.stringMatching(/Kubernetes service account intake-globex-gar-puller act as customer acme's service account/),
    );
  });
});

describe("pull secrets by the refresher (pullSecrets.mode refresher)", () => {
  it("every short-lived kind gets its CronJob; long-lived ones are written as before", async () => {
    const { recorded } = await planOf([ACME], { pullSecrets: { mode: "refresher", refresher: REFRESHER } });
    expect(
      recorded
        .filter((r) => r.type === K.cron)
        .map((r) => meta(r).name)
        .sort(),
    ).toEqual(["intake-acme-acr-refresh", "intake-acme-ecr-refresh", "intake-acme-gar-refresh"]);
    // Every minted credential lives 1 h (ECR's stops with its push-role session): refreshed every 20 min.
    for (const kind of ["ecr", "acr", "gar"])
      expect((named(recorded, K.cron, `intake-acme-${kind}-refresh`)[0].inputs.spec as { schedule: string }).schedule).toBe("*/20 * * * *");
    expect(recorded.filter((r) => r.type === K.external || r.type === K.sa)).toEqual([]);
    expect(named(recorded, K.secret, "intake-acme-distribution")[0].ignoreChanges).toEqual([]);
  });
});

describe("pull-secret settings", () => {
  it("without them, intake plan warns that short-lived kinds' pull secrets stay empty", async () => {
    const { plan } = await planOf([ACME, GLOBEX, customer("initech", "standard", { kubernetes: { namespace: "initech-apps" } })]);
    expect(plan.warnings).toContainEqual(
      "2 customer(s) with a Kubernetes namespace get empty pull secrets for short-lived kinds: acme (ecr, acr, gar), globex (ecr, acr, gar); set registry-intake:pullSecrets (mode eso or refresher) to keep them filled, or run the command each Secret's registry-intake/refresh annotation names",
    );
    const set = await planOf([ACME], ESO);
    expect(set.plan.warnings.filter((w) => w.includes("empty pull secrets"))).toEqual([]);
  });

  it("name what each mode needs, in one line each", () => {
    expect(() => testSettings({ pullSecrets: { mode: "eso", refresher: REFRESHER } })).toThrow(
      /registry-intake:pullSecrets\.gke: is required for gar with mode eso/,
    );
    expect(() => testSettings({ pullSecrets: { mode: "eso", gke: GKE } })).toThrow(
      /registry-intake:pullSecrets\.refresher: is required for acr \(no External Secrets Operator generator keeps those customers' scope\)/,
    );
    expect(() => testSettings({ pullSecrets: { mode: "refresher" } })).toThrow(/registry-intake:pullSecrets\.refresher: is required for ecr, acr, gar/);
    expect(() => testSettings({ pullSecrets: { mode: "sometimes" } })).toThrow(/registry-intake:pullSecrets\.mode: "sometimes" must be eso or refresher/);
    // ESO with only ECR enabled needs neither.
    expect(testSettings({ enabledKinds: ["ecr", "ghcr"], pullSecrets: { mode: "eso" } }).pullSecrets).toEqual({ mode: "eso" });
  });
});
