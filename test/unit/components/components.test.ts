// Components on their own, without the whole program: what each declares for its arguments.
import { describe, expect, it } from "vitest";
import { runUnderMocks } from "../../../planning/engine";
import { EcrNamespace } from "../../../kinds/ecr/component";
import { GhcrNamespace } from "../../../kinds/ghcr/component";
import { KeptResources } from "../../../components/kept";

const cloud = { accountId: "111122223333", region: "eu-west-1", githubOwner: "example-org" };
/** `held`: kept resources the stack's state holds (the fake cloud updates them rather than creating). */
const run = <T>(fn: () => T, held: string[] = []) =>
  runUnderMocks(fn, { project: "registry-intake", stack: "unit", cloud: { ...cloud, existing: new Set(held) } });

const ecrArgs = (over: Partial<ConstructorParameters<typeof EcrNamespace>[1]> = {}) => ({
  repositoryPrefix: "intake/acme/",
  repositories: ["app", "worker"],
  userName: "intake-customer-acme",
  userPath: "/intake/",
  status: "active" as const,
  immutableTags: true,
  scanOnPush: true,
  untaggedExpiryDays: 7,
  keepImages: 100,
  tags: { "intake-customer": "acme" },
  ...over,
});

describe("EcrNamespace alone", () => {
  it("one repository and lifecycle policy per name, kept on delete, encryption never replaced; a user and key while not offboarded", async () => {
    const { resources } = await run(() => new EcrNamespace("acme-ecr", ecrArgs()));
    const repos = resources.filter((r) => r.type === "aws:ecr/repository:Repository");
    expect(repos.map((r) => [r.inputs.name, r.retainOnDelete, r.ignoreChanges])).toEqual([
      ["intake/acme/app", true, ["encryptionConfigurations"]],
      ["intake/acme/worker", true, ["encryptionConfigurations"]],
    ]);
    expect(resources.filter((r) => r.type === "aws:ecr/lifecyclePolicy:LifecyclePolicy")).toHaveLength(2);
    expect(resources.filter((r) => r.type === "aws:iam/accessKey:AccessKey").map((r) => r.inputs.status)).toEqual(["Active"]);
  });

  it("with a kept list: a kept repository is imported under its id; offboarded, only what the stack holds is declared, and no user", async () => {
    const keptList = new KeptResources({ declared: ["ecr:intake/acme/worker"], kept: ["ecr:intake/acme/app"] });
    const { resources } = await run(() => new EcrNamespace("acme-ecr", ecrArgs({ keptList })));
    expect(resources.filter((r) => r.type === "aws:ecr/repository:Repository").map((r) => [r.inputs.name, r.importId])).toEqual([
      ["intake/acme/app", "intake/acme/app"],
      ["intake/acme/worker", undefined],
    ]);
    const gone = await run(
      () => new EcrNamespace("acme-ecr", ecrArgs({ status: "offboarded", keptList: new KeptResources({ declared: ["ecr:intake/acme/worker"] }) })),
    );
    expect(gone.resources.filter((r) => r.type === "aws:ecr/repository:Repository").map((r) => r.inputs.name)).toEqual(["intake/acme/worker"]);
    expect(gone.resources.filter((r) => r.type.startsWith("aws:iam/"))).toEqual([]);
  });
});

describe("GhcrNamespace alone", () => {
  const args = {
    owner: "Example-Org",
    repositoryName: "intake-acme",
    teamName: "intake-acme",
    displayName: "Acme",
    members: ["wile"],
    topics: ["registry-intake"],
    description: "Acme",
  };

  it("active: a private repository, never created archived, a team with read; the namespace is lower-case", async () => {
    const { result, resources } = await run(() => new GhcrNamespace("acme-ghcr", { ...args, status: "active" }));
    expect(result.namespace).toBe("ghcr.io/example-org/intake-acme/");
    expect(
      resources
        .filter((r) => r.custom)
        .map((r) => r.type)
        .sort(),
    ).toEqual([
      "github:index/repository:Repository",
      "github:index/team:Team",
      "github:index/teamMembership:TeamMembership",
      "github:index/teamRepository:TeamRepository",
    ]);
    expect(resources.find((r) => r.type === "github:index/repository:Repository")!.inputs).toMatchObject({
      archived: false,
      archiveOnDestroy: true,
      visibility: "private",
    });
  });

  it("offboarded: nothing new to the stack; the repository the stack holds is archived, without a team", async () => {
    expect((await run(() => new GhcrNamespace("acme-ghcr", { ...args, status: "offboarded" }))).resources.filter((r) => r.custom)).toEqual([]);
    const held = await run(
      () => new GhcrNamespace("acme-ghcr", { ...args, status: "offboarded", keptList: new KeptResources({ declared: ["github:intake-acme"] }) }),
      ["github:intake-acme"],
    );
    expect(held.resources.filter((r) => r.custom).map((r) => [r.type, r.inputs.archived])).toEqual([["github:index/repository:Repository", true]]);
  });
});
