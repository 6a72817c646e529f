// Sharded stacks on the real engine: the platform stack and two shard stacks written by
// `intake shards --init`, each shard reading the platform through a StackReference on the file
// backend, the broker's access-list parts merged.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { readAclSource } from "../../runtime/broker/store";
import { customer } from "../../testing/helpers";
import { EngineProject, engineUnavailable, ok } from "../../testing/engine";
import { projectOnCluster } from "../../testing/kube";

const unavailable = engineUnavailable();
if (unavailable) console.log(`skipping the real-engine shard test: ${unavailable}`);

const IDS = ["acme", "globex", "hooli", "initech", "umbrella", "wayne"];

describe.skipIf(!!unavailable)("a platform stack and two shard stacks", () => {
  let p: EngineProject;
  let at: Awaited<ReturnType<typeof projectOnCluster>> | undefined;
  const stateOf = async (stack: string) =>
    (
      JSON.parse(ok(await p.pulumi(["stack", "export", "--stack", stack]), "pulumi stack export").stdout).deployment.resources as {
        urn: string;
        type: string;
      }[]
    ).map((r) => r.urn);

  beforeAll(async () => {
    at = await projectOnCluster();
    p = at.p;
    const far = { license: { expires: "2099-12-31" } };
    p.write("customers/roster.yaml", stringify({ customers: IDS.map((id) => customer(id, "enterprise", { ...far, registries: ["ghcr", "distribution"] })) }));
    const doc = parse(readFileSync(p.file("Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
    Object.assign(doc.config, { "registry-intake:shard": { count: 2 }, "registry-intake:enabledKinds": ["ghcr", "distribution"] });
    p.write("Pulumi.dev.yaml", stringify(doc));
    const init = await p.intake(["shards", "--stack", "dev", "--init", "--platform-stack", "organization/registry-intake/dev", "--project", p.dir]);
    expect(init.code, init.stderr).toBe(0);
    for (const stack of ["dev", "dev-shard-00", "dev-shard-01"]) await p.initStack(stack);
  }, 300_000);
  afterAll(async () => at?.stop(), 60_000);

  it("up of the platform then each shard; every customer in exactly one shard; the parts merge for the broker; then no changes", async () => {
    ok(await p.pulumi(["up", "--yes", "--policy-pack", "policy", "--stack", "dev"]), "pulumi up dev (platform)");
    const platform = await stateOf("dev");
    expect(platform.filter((u) => u.includes("CustomerRegistries"))).toEqual([]);
    const held: Record<string, string[]> = {};
    for (const stack of ["dev-shard-00", "dev-shard-01"]) {
      ok(await p.pulumi(["up", "--yes", "--policy-pack", "policy", "--stack", stack]), `pulumi up ${stack}`);
      const urns = await stateOf(stack);
      expect(urns.some((u) => u.includes("pulumi:pulumi:StackReference"))).toBe(true);
      held[stack] = IDS.filter((id) => urns.some((u) => u.endsWith(`::registry-intake:index:CustomerRegistries::${id}`)));
    }
    expect([...held["dev-shard-00"], ...held["dev-shard-01"]].sort()).toEqual(IDS);
    expect(held["dev-shard-00"].length).toBeGreaterThan(0);
    expect(held["dev-shard-01"].length).toBeGreaterThan(0);

    // The broker's parts: the platform's (the delivery robot) and one per shard, merged.
    const parts = p.file("acl-parts");
    mkdirSync(parts);
    for (const stack of ["dev", "dev-shard-00", "dev-shard-01"]) {
      const out = ok(await p.pulumi(["stack", "output", "distributionAcl", "--show-secrets", "--stack", stack]), `acl of ${stack}`);
      writeFileSync(`${parts}/${stack}.json`, out.stdout.trim());
    }
    const acl = readAclSource(parts);
    expect(acl.delivery?.username).toBe("intake-delivery");
    expect(acl.entries.map((e) => e.customer).sort()).toEqual(IDS);

    for (const stack of ["dev", "dev-shard-00", "dev-shard-01"])
      ok(await p.pulumi(["preview", "--expect-no-changes", "--stack", stack]), `pulumi preview --expect-no-changes ${stack}`);
  }, 600_000);
});
