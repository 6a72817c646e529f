// intake verify's parts that need no registry: Basic-challenge registries (ECR), refusals at the token endpoint.
import { describe, expect, it } from "vitest";
import { main } from "../cli/main";
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
    writeFileSync(roster, stringify({ customers: [customer("acme", "enterprise", { kubernetes: { namespace: "kube-system" } })] }));
    expect(() => loadStackContext({ projectDir: dir, stack: "dev", rosterPath: roster })).toThrow(/field kubernetes\.namespace: "kube-system" is a namespace of the cluster itself \(default, kube-\*\): give the customer its own/);
    writeFileSync(roster, stringify({ customers: [customer("acme", "enterprise", { kubernetes: { namespace: "intake-system" } })] }));
    expect(() => loadStackContext({ projectDir: dir, stack: "dev", rosterPath: roster })).toThrow(
      /customer acme field kubernetes\.namespace: "intake-system" is the platform's \(registry-intake:pullSecrets\.refresher\.namespace of stack dev\); give the customer a namespace of its own/,
    );
  });
});

describe("intake verify against a registry out of reach", () => {
  it("records it, writes the report, and exits 4 (failed part-way), in lines without a trace", async () => {
    const { generateKeyPairSync } = await import("node:crypto");
    const { createServer } = await import("node:net");
    const dir = tempDir("verify-down-");
    const key = path.join(dir, "broker.key");
    writeFileSync(key, generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }));
    // A port that was free a moment ago: nothing listens there.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    copyFileSync(path.resolve(__dirname, "..", "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    writeFileSync(path.join(dir, "Pulumi.t.yaml"), stringify({ config: { "registry-intake:environment": "dev", "registry-intake:enabledKinds": ["distribution"], "registry-intake:distribution": { host: `127.0.0.1:${port}` } } }));
    const roster = path.join(dir, "roster.yaml");
    writeFileSync(roster, stringify({ customers: [customer("acme", "enterprise", { license: { expires: "2099-12-31" } }), customer("globex", "enterprise", { license: { expires: "2099-12-31" } })] }));
    const out: string[] = [];
    const err: string[] = [];
    const json = path.join(dir, "evidence.json");
    const code = await main(["verify", "--all", "--stack", "t", "--project", dir, "--roster", roster, "--key", key, "--json", json], { out: (s) => out.push(s), err: (s) => err.push(s) });
    expect(code).toBe(4);
    expect(err).toEqual([]);
    const report = JSON.parse(readFileSync(json, "utf8"));
    expect(report.unreachable).toBe(true);
    expect(report.results[0].probes[0]).toMatchObject({ what: "list own", status: 0, ok: false, note: "unreachable: ECONNREFUSED" });
    expect(out.join("\n")).toContain(`FAIL acme distribution at 127.0.0.1:${port} (127.0.0.1:${port} is out of reach: nothing proven)`);
  });
});
