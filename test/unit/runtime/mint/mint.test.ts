import { ContainerRegistryManagementClient } from "@azure/arm-containerregistry";
import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { createHttpHeaders, type HttpClient, type PipelineRequest } from "@azure/core-rest-pipeline";
import { mockClient } from "aws-sdk-client-mock";
import { describe, expect, it } from "vitest";
import { ECR_PULL_ACTIONS, ECR_PUSH_ACTIONS } from "../../../../core/iam";
import { mintAcr } from "../../../../kinds/acr/mint";
import { CredentialCache } from "../../../../runtime/mint/cache";
import { ecrSessionPolicy, ecrTagDigests, mintEcr, SESSION_POLICY_LIMIT } from "../../../../kinds/ecr/mint";
import { stackDelivery } from "../../../../runtime/delivery/stack";
import type { CredentialGroup } from "../../../../runtime/delivery/deliver";
import { customer, testRoster, testSettings } from "../../../../testing/helpers";
import { GAR_SCOPE, mintGar } from "../../../../kinds/gar/mint";
import { ghcrCredential } from "../../../../kinds/ghcr/mint";
import type { MintedCredential } from "../../../../runtime/mint/types";

describe("ecr: AssumeRole with the customer's session policy, then GetAuthorizationToken", () => {
  const opts = {
    customerId: "acme",
    repoPrefix: "intake",
    accountId: "111122223333",
    region: "eu-west-1",
    pushRoleArn: "arn:aws:iam::111122223333:role/intake/intake-ecr-push",
  };

  it("sends the exact request and reports the earlier of the two expiries", async () => {
    const sts = mockClient(STSClient);
    const sessionEnd = new Date(Date.now() + 3600_000);
    sts.on(AssumeRoleCommand).resolves({ Credentials: { AccessKeyId: "ASIAX", SecretAccessKey: "s", SessionToken: "t", Expiration: sessionEnd } });
    const ecr = mockClient(ECRClient);
    ecr.on(GetAuthorizationTokenCommand).resolves({
      authorizationData: [
        {
          authorizationToken: Buffer.from("AWS:ecr-password").toString("base64"),
          expiresAt: new Date(Date.now() + 12 * 3600_000),
          proxyEndpoint: "https://111122223333.dkr.ecr.eu-west-1.amazonaws.com",
        },
      ],
    });
    const cred = await mintEcr({
      ...opts,
      sts: new STSClient({ region: "eu-west-1" }),
      ecrClient: (c) => new ECRClient({ region: "eu-west-1", credentials: c }),
    });

    const call = sts.commandCalls(AssumeRoleCommand)[0].args[0].input;
    expect(call).toMatchObject({
      RoleArn: opts.pushRoleArn,
      RoleSessionName: "intake-acme",
      DurationSeconds: 3600,
      Tags: [{ Key: "intake-customer", Value: "acme" }],
    });
    const policy = JSON.parse(call.Policy!);
    expect(policy.Statement).toEqual([
      { Sid: "Auth", Effect: "Allow", Action: ["ecr:GetAuthorizationToken"], Resource: "*" },
      {
        Sid: "CustomerPrefix",
        Effect: "Allow",
        Action: [...ECR_PULL_ACTIONS, ...ECR_PUSH_ACTIONS],
        Resource: ["arn:aws:ecr:eu-west-1:111122223333:repository/intake/acme/*"],
      },
    ]);
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(1);
    expect(cred).toMatchObject({
      kind: "ecr",
      registry: "111122223333.dkr.ecr.eu-west-1.amazonaws.com",
      namespace: "111122223333.dkr.ecr.eu-west-1.amazonaws.com/intake/acme/",
      username: "AWS",
      password: "ecr-password",
    });
    expect(cred.expiresAt!.getTime()).toBe(sessionEnd.getTime()); // 1 h session, not the token's 12 h
    sts.restore();
    ecr.restore();
  });

  it("the session policy stays under 2,048 characters for the longest id", () => {
    const policy = ecrSessionPolicy({ ...opts, customerId: "a".repeat(24), repoPrefix: "a".repeat(16) });
    expect(policy.length).toBeLessThan(SESSION_POLICY_LIMIT);
  });
});

describe("gar: generateAccessToken impersonating the customer's service account", () => {
  it("asks for exactly that account, 1 h, cloud-platform scope", async () => {
    const calls: unknown[] = [];
    const client = {
      request: async <T>(req: { url: string; method: "POST"; data: unknown }) => {
        calls.push(req);
        return { data: { accessToken: "ya29.token", expireTime: "2026-11-22T13:00:00Z" } as T };
      },
    };
    const cred = await mintGar({ customerId: "acme", repoPrefix: "intake", project: "intake-dev-381204", location: "europe-west1", client });
    expect(calls).toEqual([
      {
        url: "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/intake-acme%40intake-dev-381204.iam.gserviceaccount.com:generateAccessToken",
        method: "POST",
        data: { scope: [GAR_SCOPE], lifetime: "3600s" },
      },
    ]);
    expect(cred).toMatchObject({
      username: "oauth2accesstoken",
      password: "ya29.token",
      registry: "europe-west1-docker.pkg.dev",
      namespace: "europe-west1-docker.pkg.dev/intake-dev-381204/intake-acme/",
    });
    expect(cred.expiresAt!.toISOString()).toBe("2026-11-22T13:00:00.000Z");
  });
});

describe("acr: generateCredentials for the customer's token with a 1 h expiry", () => {
  it("posts the token id, password1 and the expiry through the SDK's HTTP pipeline", async () => {
    const requests: PipelineRequest[] = [];
    const httpClient: HttpClient = {
      sendRequest: async (request) => {
        requests.push(request);
        return {
          request,
          status: 200,
          headers: createHttpHeaders({ "content-type": "application/json" }),
          bodyAsText: JSON.stringify({ username: "intake-acme", passwords: [{ name: "password1", value: "acr-password", expiry: "2026-11-22T13:00:00Z" }] }),
        };
      },
    };
    const credential = { getToken: async () => ({ token: "arm-token", expiresOnTimestamp: Date.now() + 3600_000 }) };
    const client = new ContainerRegistryManagementClient(credential, "00000000-0000-4000-a000-000000000000", { httpClient });
    const now = new Date("2026-11-22T12:00:00Z");
    const cred = await mintAcr({
      customerId: "acme",
      repoPrefix: "intake",
      subscriptionId: "00000000-0000-4000-a000-000000000000",
      resourceGroupName: "rg-intake",
      registryName: "intakedev",
      client,
      now,
    });
    const post = requests.find((r) => r.method === "POST")!;
    expect(post.url).toMatch(
      /^https:\/\/management\.azure\.com\/subscriptions\/00000000-0000-4000-a000-000000000000\/resourceGroups\/rg-intake\/providers\/Microsoft\.ContainerRegistry\/registries\/intakedev\/generateCredentials\?api-version=/,
    );
    expect(JSON.parse(String(post.body))).toEqual({
      tokenId:
        "/subscriptions/00000000-0000-4000-a000-000000000000/resourceGroups/rg-intake/providers/Microsoft.ContainerRegistry/registries/intakedev/tokens/intake-acme",
      expiry: "2026-11-22T13:00:00.000Z",
      name: "password1",
    });
    expect(post.headers.get("authorization")).toBe("Bearer arm-token");
    expect(cred).toMatchObject({
      username: "intake-acme",
      password: "acr-password",
      registry: "intakedev.azurecr.io",
      namespace: "intakedev.azurecr.io/intake/acme/",
    });
    expect(cred.expiresAt!.toISOString()).toBe("2026-11-22T13:00:00.000Z");
  });
});

describe("ghcr: nothing to mint", () => {
  it("returns the stored PAT flagged long-lived, or refuses with the reason", () => {
    const c = ghcrCredential({ customerId: "acme", repoPrefix: "intake", owner: "Example-Org", machineUser: "acme-bot", token: "ghp_x" });
    expect(c).toMatchObject({ username: "acme-bot", password: "ghp_x", expiresAt: null, longLived: true, namespace: "ghcr.io/example-org/intake-acme/" });
    expect(() => ghcrCredential({ customerId: "acme", repoPrefix: "intake", owner: "o" })).toThrow(/has no github.machineUser/);
    expect(() => ghcrCredential({ customerId: "acme", repoPrefix: "intake", owner: "o", machineUser: "acme-bot" })).toThrow(
      `ghcr: no PAT for acme-bot in INTAKE_GHCR_TOKEN_ACME: export INTAKE_GHCR_TOKEN_ACME="$(pulumi config get --path 'registry-intake:ghcr.machineUserTokens.acme')"`,
    );
  });
});

describe("credential cache", () => {
  const cred = (expiresAt: Date | null, password: string): MintedCredential => ({
    kind: "ecr",
    registry: "r",
    namespace: "r/x/",
    username: "u",
    password,
    expiresAt,
    scope: {},
  });

  it("reuses a credential until shortly before it expires, and shares one mint between concurrent asks", async () => {
    let now = 0;
    let mints = 0;
    const cache = new CredentialCache(300, () => now);
    const mint = async () => cred(new Date(3600_000), `p${++mints}`);
    const [a, b] = await Promise.all([cache.get({ customer: "acme", kind: "ecr" }, mint), cache.get({ customer: "acme", kind: "ecr" }, mint)]);
    expect([a.password, b.password, mints]).toEqual(["p1", "p1", 1]);
    now = 3600_000 - 301_000;
    expect((await cache.get({ customer: "acme", kind: "ecr" }, mint)).password).toBe("p1");
    now = 3600_000 - 299_000;
    expect((await cache.get({ customer: "acme", kind: "ecr" }, mint)).password).toBe("p2");
    expect((await cache.get({ customer: "globex", kind: "ecr" }, mint)).password).toBe("p3");
  });

  it("does not keep a failed mint", async () => {
    const cache = new CredentialCache();
    await expect(cache.get({ customer: "a", kind: "ecr" }, async () => Promise.reject(new Error("throttled")))).rejects.toThrow("throttled");
    expect((await cache.get({ customer: "a", kind: "ecr" }, async () => cred(null, "ok"))).password).toBe("ok");
  });
});

describe("ecr delivery: one session over a batch of customers, and DescribeImages for the cache check", () => {
  it("mints one session per batch whose policy names each customer's prefix, with a tag lookup of that session", async () => {
    const sts = mockClient(STSClient);
    sts
      .on(AssumeRoleCommand)
      .resolves({ Credentials: { AccessKeyId: "ASIAX", SecretAccessKey: "s", SessionToken: "t", Expiration: new Date(Date.now() + 3600_000) } });
    const ecr = mockClient(ECRClient);
    ecr
      .on(GetAuthorizationTokenCommand)
      .resolves({ authorizationData: [{ authorizationToken: Buffer.from("AWS:pw").toString("base64"), expiresAt: new Date(Date.now() + 3600_000) }] });
    ecr
      .on(DescribeImagesCommand, { repositoryName: "intake/acme/app" })
      .resolvesOnce({ imageDetails: [{ imageDigest: "sha256:aa", imageTags: ["1.0.0", "latest"] }], nextToken: "p2" })
      .resolvesOnce({ imageDetails: [{ imageDigest: "sha256:bb", imageTags: ["0.9.0"] }, { imageDigest: "sha256:cc" }] });
    const notFound = Object.assign(new Error("The repository with name 'intake/globex/app' does not exist"), { name: "RepositoryNotFoundException" });
    ecr.on(DescribeImagesCommand, { repositoryName: "intake/globex/app" }).rejects(notFound);
    const settings = testSettings();
    const roster = testRoster([customer("acme", "enterprise"), customer("globex", "professional")], settings);
    const d = stackDelivery({
      settings,
      roster,
      mint: {},
      today: "2026-11-22",
      ecr: { sts: new STSClient({ region: "eu-west-1" }), ecrClient: (c) => new ECRClient({ region: "eu-west-1", credentials: c }) },
    });
    const answer = await d.credentials("ecr", ["acme", "globex"]);
    const groups = answer.filter((g): g is CredentialGroup => !("reason" in g));
    expect(groups).toHaveLength(answer.length);
    expect(groups.map((g) => [g.registry, g.customers, g.credential])).toEqual([
      ["111122223333.dkr.ecr.eu-west-1.amazonaws.com", ["acme", "globex"], { username: "AWS", password: "pw" }],
    ]);
    const call = sts.commandCalls(AssumeRoleCommand)[0].args[0].input;
    expect(call).toMatchObject({ RoleSessionName: "intake-delivery-2", Tags: [{ Key: "intake-role", Value: "delivery" }] });
    expect(JSON.parse(call.Policy!).Statement[1].Resource).toEqual([
      "arn:aws:ecr:eu-west-1:111122223333:repository/intake/acme/*",
      "arn:aws:ecr:eu-west-1:111122223333:repository/intake/globex/*",
    ]);
    // Every tag of a repository in one paged listing; a repository not there yet holds nothing.
    expect(Object.fromEntries(await groups[0].tagLookup!("intake/acme/app"))).toEqual({ "1.0.0": "sha256:aa", latest: "sha256:aa", "0.9.0": "sha256:bb" });
    expect(ecr.commandCalls(DescribeImagesCommand)[1].args[0].input).toMatchObject({ nextToken: "p2", filter: { tagStatus: "TAGGED" } });
    expect((await ecrTagDigests(new ECRClient({ region: "eu-west-1" }), "intake/globex/app")).size).toBe(0);
    ecr
      .on(DescribeImagesCommand, { repositoryName: "intake/acme/denied" })
      .rejects(Object.assign(new Error("not authorized"), { name: "AccessDeniedException" }));
    await expect(groups[0].tagLookup!("intake/acme/denied")).rejects.toThrow(/not authorized/);
    sts.restore();
    ecr.restore();
  });
});

describe("delivery credentials per customer", () => {
  it("a customer whose credential cannot be minted fails alone, with its own reason", async () => {
    const settings = testSettings();
    const roster = testRoster(
      [
        customer("acme", "enterprise", { github: { members: [], machineUser: "acme-bot" } }),
        customer("globex", "enterprise", { github: { members: [], machineUser: "globex-bot" } }),
        customer("initech", "enterprise"),
      ],
      settings,
    );
    const d = stackDelivery({ settings, roster, mint: {}, today: "2026-11-22", ghcrToken: (id) => (id === "acme" ? "ghp_acme" : undefined) });
    const answer = await d.credentials("ghcr", ["acme", "globex", "initech"]);
    expect(answer.map((g) => ("reason" in g ? [g.customers, g.reason] : [g.customers, g.credential?.username]))).toEqual([
      [["acme"], "acme-bot"],
      [
        ["globex"],
        `ghcr: no PAT for globex-bot in INTAKE_GHCR_TOKEN_GLOBEX: export INTAKE_GHCR_TOKEN_GLOBEX="$(pulumi config get --path 'registry-intake:ghcr.machineUserTokens.globex' --stack test)"`,
      ],
      [["initech"], expect.stringMatching(/^ghcr: customer initech has no github.machineUser/)],
    ]);
  });
});
