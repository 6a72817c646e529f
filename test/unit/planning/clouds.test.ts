// What the clouds would refuse or silently get wrong: the fake cloud's rules, and the program
// that now keeps within them (each of these failed on the program before its fix).
import { describe, expect, it } from "vitest";
import { registryHost } from "../../../kinds";
import { cloudRefusal } from "../../../planning/fake-cloud";
import { customer, owned, planOf, T } from "../../../testing/helpers";

describe("the fake cloud refuses what the clouds refuse", () => {
  it("a creation template with tags or KMS and no customRoleArn", () => {
    const base = { prefix: "intake", appliedFors: ["CREATE_ON_PUSH"], encryptionConfigurations: [{ encryptionType: "AES256" }] };
    expect(cloudRefusal(T.template, base)).toBeUndefined();
    expect(cloudRefusal(T.template, { ...base, resourceTags: { a: "b" } })).toMatch(/^InvalidParameterException: .*customRoleArn is required/);
    expect(cloudRefusal(T.template, { ...base, encryptionConfigurations: [{ encryptionType: "KMS", kmsKey: "arn:k" }] })).toMatch(/customRoleArn is required/);
    expect(cloudRefusal(T.template, { ...base, resourceTags: { a: "b" }, customRoleArn: "arn:aws:iam::1:role/r" })).toBeUndefined();
  });

  it("an inline user policy over 2,048 characters (whitespace not counted)", () => {
    const policy = (n: number) =>
      JSON.stringify({
        Version: "2012-10-17",
        Statement: [
          {
            Effect: "Allow",
            Action: ["ecr:BatchGetImage"],
            Resource: Array.from({ length: n }, (_, i) => `arn:aws:ecr:eu-west-1:111122223333:repository/intake/acme/repo-${i}`),
          },
        ],
      });
    expect(cloudRefusal(T.userPolicy, { user: "u", policy: policy(10) })).toBeUndefined();
    expect(cloudRefusal(T.userPolicy, { user: "u", policy: policy(40) })).toMatch(/^LimitExceeded: Maximum policy size of 2048 bytes exceeded for user u/);
    expect(cloudRefusal(T.userPolicy, { user: "u", policy: JSON.stringify(JSON.parse(policy(10)), null, 8) })).toBeUndefined();
  });
});

describe("the program keeps within them", () => {
  it("a customer with 40 ECR repositories gets one user policy on its namespace, far under 2,048 characters", async () => {
    const repositories = Array.from({ length: 40 }, (_, i) => `service-${i}`);
    const { plan, recorded, settings } = await planOf([customer("acme", "enterprise", { ecr: { repositories } })]);
    expect(owned(plan, recorded, "acme", T.repo)).toHaveLength(41);
    const [policy] = owned(plan, recorded, "acme", T.userPolicy);
    const doc = JSON.parse(String(policy.inputs.policy));
    expect(doc.Statement[1].Resource).toEqual([`arn:aws:ecr:${settings.aws!.region}:${settings.aws!.accountId}:repository/intake/acme/*`]);
    expect(String(policy.inputs.policy).length).toBeLessThan(1024);
    // The policy pack takes a customer's own namespace as the one allowed wildcard.
    expect(plan.violations.filter((v) => v.enforcement === "mandatory")).toEqual([]);
  });

  it("the creation template names a role ECR can assume, allowed to create, tag and use the key under the prefix only", async () => {
    const { recorded } = await planOf([customer("acme", "enterprise")], { ecr: { kms: true, replicationRegions: ["us-west-2"] } });
    const template = recorded.find((r) => r.type === T.template)!;
    const role = recorded.find((r) => r.type === T.role && r.name.endsWith("-ecr-template-role"))!;
    expect(template.inputs.customRoleArn).toBe(role.state.arn);
    expect(JSON.parse(String(role.inputs.assumeRolePolicy)).Statement[0].Principal).toEqual({ Service: "ecr.amazonaws.com" });
    const policy = JSON.parse(String(recorded.find((r) => r.type === T.rolePolicy && r.name.endsWith("-ecr-template-policy"))!.inputs.policy));
    expect(policy.Statement.map((s: { Sid: string }) => s.Sid)).toEqual(["CreateUnderPrefix", "UseTheKey"]);
    expect(policy.Statement[0].Resource[0]).toMatch(/:repository\/intake\/\*$/);
    // A KMS key is regional: replication into us-west-2 uses that region's templates, not this one.
    expect(template.inputs.appliedFors).toEqual(["CREATE_ON_PUSH"]);
  });

  it("a customer first declared while suspended gets a service account that holds nothing (GCP ignores disabled on create)", async () => {
    const { plan, recorded } = await planOf([customer("acme", "enterprise", { status: "suspended" }), customer("globex", "enterprise")], {
      gar: {
        project: "intake-test-123",
        location: "europe-west1",
        runtimeMember: "serviceAccount:rt@intake-test-123.iam.gserviceaccount.com",
        serviceAccountKeys: true,
      },
    });
    const [sa] = owned(plan, recorded, "acme", T.sa);
    expect(sa.state.disabled).toBe(false); // as the cloud leaves it
    for (const t of [T.garMember, T.saMember, T.saKey]) expect(owned(plan, recorded, "acme", t), t).toEqual([]);
    for (const t of [T.garMember, T.saMember, T.saKey]) expect(owned(plan, recorded, "globex", t), t).toHaveLength(1);
  });
});

describe("AWS partitions", () => {
  it.each([
    ["us-gov-west-1", "aws-us-gov", "amazonaws.com"],
    ["cn-north-1", "aws-cn", "amazonaws.com.cn"],
  ])("a stack in %s names every ARN in partition %s and the registry under %s", async (region, partition, suffix) => {
    const { recorded, settings } = await planOf([customer("acme", "enterprise")], { aws: { accountId: "111122223333", region }, ecr: { kms: true } });
    const text = JSON.stringify(recorded.map((r) => [r.inputs, r.state]));
    const arns = [...text.matchAll(/arn:([a-z-]+):/g)].map((m) => m[1]);
    expect(arns.length).toBeGreaterThan(5);
    expect(new Set(arns)).toEqual(new Set([partition]));
    expect(registryHost("ecr", settings)).toBe(`111122223333.dkr.ecr.${region}.${suffix}`);
  });
});
