// The local provider plugins' fake cloud, called as the engine calls them (no engine here).
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { FakeCloudStore, LocalProvider, requestOldInputs } from "../../../tools/providers/local-provider";
import { tempDir } from "../../../testing/tmp";

const urn = (type: string, name: string) => `urn:pulumi:dev::registry-intake::${type}::${name}`;

describe("the local aws plugin's fake cloud", () => {
  it("refuses a second repository of the same name, as ECR does, but takes a second account setting (a put)", async () => {
    const aws = new LocalProvider("aws", new FakeCloudStore(path.join(tempDir("fake-cloud-"), "cloud.json")), "0.0.0");
    const repo = { name: "intake/acme/app", imageTagMutability: "MUTABLE" };
    expect((await aws.create(urn("aws:ecr/repository:Repository", "acme-ecr-app"), repo)).id).toBe("intake/acme/app");
    await expect(aws.create(urn("aws:ecr/repository:Repository", "acme-ecr-app-again"), repo)).rejects.toThrow(
      /^AlreadyExists: aws:ecr\/repository:Repository intake\/acme\/app exists in the cloud/,
    );
    const setting = { name: "BLOB_MOUNTING", value: "ENABLED" };
    await aws.create(urn("aws:ecr/accountSetting:AccountSetting", "platform-ecr-blob-mounting"), setting);
    expect((await aws.create(urn("aws:ecr/accountSetting:AccountSetting", "other-stack-blob-mounting"), setting)).id).toBe("BLOB_MOUNTING");
  });

  it("a KMS key left in the cloud is no clash: the cloud picks the next key another id, as KMS does", async () => {
    const aws = new LocalProvider("aws", new FakeCloudStore(path.join(tempDir("fake-cloud-"), "cloud.json")), "0.0.0");
    const key = { description: "registry-intake ECR", enableKeyRotation: true };
    const first = await aws.create(urn("aws:kms/key:Key", "platform-ecr-key"), key);
    // retainOnDelete: the engine drops it from state and never calls delete; the same URN creates again.
    await expect(aws.check(urn("aws:kms/key:Key", "platform-ecr-key"), {}, key)).resolves.toBeDefined();
    const second = await aws.create(urn("aws:kms/key:Key", "platform-ecr-key"), key);
    expect(second.id).not.toBe(first.id);
    expect(second.outs.arn).toMatch(new RegExp(`:key/${second.id}$`));
  });
});

describe("the local github plugin's fake cloud", () => {
  const REPO = "github:index/repository:Repository";
  const inputs = {
    name: "intake-acme",
    visibility: "private",
    archiveOnDestroy: true,
    archived: false,
    vulnerabilityAlerts: true,
    topics: ["registry-intake"],
  };

  it("refuses to create a repository archived, archives on delete, refuses edits while archived, and unarchives", async () => {
    const store = new FakeCloudStore(path.join(tempDir("fake-cloud-"), "cloud.json"));
    const gh = new LocalProvider("github", store, "0.0.0");
    await expect(gh.create(urn(REPO, "acme-repo"), { ...inputs, archived: true })).rejects.toThrow(/^403 Repository was archived so is read-only: intake-acme/);
    const { id } = await gh.create(urn(REPO, "acme-repo"), inputs);
    await gh.delete(id, urn(REPO, "acme-repo"));
    // Archived, not deleted: a create under the same name is refused, a read (an import) finds it archived.
    expect(store.read().resources[`${REPO}|intake-acme`].outputs.archived).toBe(true);
    await expect(gh.create(urn(REPO, "acme-repo"), inputs)).rejects.toThrow(/^AlreadyExists/);
    const read = await gh.read(id, urn(REPO, "acme-repo"));
    expect(read.inputs).toMatchObject({ archived: true, name: "intake-acme" });
    await expect(gh.update(id, urn(REPO, "acme-repo"), read.props, { ...inputs, archived: true, topics: ["other"] })).rejects.toThrow(
      /archived so is read-only.*changing topics/,
    );
    const { outs } = await gh.update(id, urn(REPO, "acme-repo"), read.props, inputs);
    expect(outs).toMatchObject({ archived: false });
    // Archiving in an update: the general edit may change the description with it, but not topics
    // or visibility, which the provider writes afterwards in calls of their own.
    await expect(gh.update(id, urn(REPO, "acme-repo"), outs, { ...inputs, archived: true, topics: ["x"] })).rejects.toThrow(
      /changing topics on an archived repository/,
    );
    expect((await gh.update(id, urn(REPO, "acme-repo"), outs, { ...inputs, archived: true, description: "orphaned" })).outs).toMatchObject({ archived: true });
  });
});

describe("the local kubernetes plugin replaces what the real provider replaces (its diff.go, with the project's mutable Secrets and ConfigMaps)", () => {
  const diff = (type: string, olds: Record<string, unknown>, news: Record<string, unknown>) =>
    requestOldInputs.run(olds, () =>
      new LocalProvider("kubernetes", new FakeCloudStore(path.join(tempDir("fake-cloud-"), "cloud.json")), "0.0.0").diff("id", urn(type, "x"), olds, news),
    );
  const secret = { metadata: { name: "intake-broker-acl", namespace: "registry-intake" }, type: "Opaque", stringData: { "acl.json": "{}" } };

  it("a Secret's or ConfigMap's data: in place; its type, name or namespace: replaced", async () => {
    expect(await diff("kubernetes:core/v1:Secret", secret, { ...secret, stringData: { "acl.json": '{"entries":[]}' } })).toEqual({
      changes: true,
      replaces: [],
    });
    expect(await diff("kubernetes:core/v1:Secret", secret, { ...secret, type: "kubernetes.io/dockerconfigjson" })).toEqual({
      changes: true,
      replaces: ["type"],
    });
    expect(await diff("kubernetes:core/v1:Secret", secret, { ...secret, metadata: { ...secret.metadata, namespace: "other" } })).toEqual({
      changes: true,
      replaces: ["metadata"],
    });
    const map = { metadata: { name: "intake-broker-roster" }, data: { "roster.yaml": "customers: []\n" } };
    expect(await diff("kubernetes:core/v1:ConfigMap", map, { ...map, data: { "roster.yaml": "customers: [a]\n" } })).toEqual({ changes: true, replaces: [] });
    // Labels change in place.
    expect(await diff("kubernetes:core/v1:Secret", secret, { ...secret, metadata: { ...secret.metadata, labels: { "intake-status": "suspended" } } })).toEqual({
      changes: true,
      replaces: [],
    });
  });

  it("a claim's storage class, a Deployment's selector, a RoleBinding's role: replaced; a Deployment's pod template: in place", async () => {
    const pvc = { metadata: { name: "intake-registry-data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "100Gi" } } } };
    expect(await diff("kubernetes:core/v1:PersistentVolumeClaim", pvc, { ...pvc, spec: { ...pvc.spec, storageClassName: "fast" } })).toEqual({
      changes: true,
      replaces: ["spec"],
    });
    const deployment = {
      metadata: {},
      spec: { selector: { matchLabels: { a: "1" } }, template: { metadata: { annotations: { "registry-intake/config-sha256": "1" } } } },
    };
    expect(
      await diff("kubernetes:apps/v1:Deployment", deployment, {
        ...deployment,
        spec: { ...deployment.spec, template: { metadata: { annotations: { "registry-intake/config-sha256": "2" } } } },
      }),
    ).toEqual({ changes: true, replaces: [] });
    expect(
      await diff("kubernetes:apps/v1:Deployment", deployment, { ...deployment, spec: { ...deployment.spec, selector: { matchLabels: { a: "2" } } } }),
    ).toEqual({ changes: true, replaces: ["spec"] });
    const binding = { metadata: { name: "r" }, roleRef: { kind: "Role", name: "a" } };
    expect(await diff("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", binding, { ...binding, roleRef: { kind: "Role", name: "b" } })).toEqual({
      changes: true,
      replaces: ["roleRef"],
    });
  });
});
