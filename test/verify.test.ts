// intake verify's parts that need no registry: Basic-challenge registries (ECR), refusals at the token endpoint.
import { describe, expect, it } from "vitest";
import { RegistryClient } from "../runtime/delivery/manifest";
import { loadStackContext } from "../core/stack";
import * as path from "node:path";
import { writeFileSync, readFileSync, copyFileSync } from "node:fs";
import { stringify } from "yaml";
import { tempDir } from "./tmp";
import { customer } from "./helpers";

describe("the registry client answers a Basic challenge with the credential (ECR)", () => {
  it("retries once with Basic, and does not loop when the credential is refused", async () => {
    const seen: (string | null)[] = [];
    const fake = (ok: boolean): typeof fetch =>
      (async (_url: string | URL | Request, init?: RequestInit) => {
        const auth = new Headers(init?.headers).get("authorization");
        seen.push(auth);
        if (auth === `Basic ${Buffer.from("AWS:token").toString("base64")}` && ok) return new Response("{}", { status: 200 });
        return new Response("", { status: 401, headers: { "www-authenticate": 'Basic realm="https://111122223333.dkr.ecr.eu-west-1.amazonaws.com/",service="ecr.amazonaws.com"' } });
      }) as typeof fetch;
    const good = await new RegistryClient({ username: "AWS", password: "token" }, fake(true)).request("111122223333.dkr.ecr.eu-west-1.amazonaws.com", "/v2/intake/acme/app/tags/list", { method: "GET", repository: "intake/acme/app", actions: "pull" });
    expect(good.status).toBe(200);
    expect(seen).toEqual([null, `Basic ${Buffer.from("AWS:token").toString("base64")}`]);
    seen.length = 0;
    const refused = await new RegistryClient({ username: "AWS", password: "token" }, fake(false)).request("h.example.com", "/v2/x/tags/list", { method: "GET", repository: "x", actions: "pull" });
    expect(refused.status).toBe(401);
    expect(seen).toHaveLength(2);
  });
});

describe("namespaces are the customers' own", () => {
  it("a Kubernetes namespace named by two customers, or by the platform, is refused naming the entry", () => {
    const dir = tempDir("ns-");
    copyFileSync(path.resolve(__dirname, "..", "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    writeFileSync(path.join(dir, "Pulumi.dev.yaml"), readFileSync(path.resolve(__dirname, "..", "Pulumi.dev.yaml")));
    const roster = path.join(dir, "roster.yaml");
    writeFileSync(roster, stringify({ customers: [customer("acme", "enterprise", { kubernetes: { namespace: "apps" } }), customer("globex", "enterprise", { kubernetes: { namespace: "apps" } })] }));
    expect(() => loadStackContext({ projectDir: dir, stack: "dev", rosterPath: roster })).toThrow(/customer globex field kubernetes\.namespace: "apps" is already customer acme's/);
    writeFileSync(roster, stringify({ customers: [customer("acme", "enterprise", { kubernetes: { namespace: "intake-system" } })] }));
    expect(() => loadStackContext({ projectDir: dir, stack: "dev", rosterPath: roster })).toThrow(
      /customer acme field kubernetes\.namespace: "intake-system" is the platform's \(registry-intake:pullSecrets\.refresher\.namespace of stack dev\); give the customer a namespace of its own/,
    );
  });
});
