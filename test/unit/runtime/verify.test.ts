// intake verify's parts that need no registry: Basic-challenge registries (ECR), refusals at the token endpoint.
import { describe, expect, it } from "vitest";
import { main } from "../../../cli/main";
import { RegistryClient } from "../../../runtime/registry/client";
import { loadStackContext } from "../../../core/stack";
import * as path from "node:path";
import { writeFileSync, readFileSync, copyFileSync } from "node:fs";
import { stringify } from "yaml";
import { tempDir } from "../../../testing/tmp";
import { customer, testSettings } from "../../../testing/helpers";
import { generateKeyPairSync } from "node:crypto";
import { loadPrivateSigningKey } from "../../../runtime/broker/keys";
import { parseRoster } from "../../../customers/roster";
import { renderVerifyText, verify } from "../../../runtime/verify";

describe("the registry client answers a Basic challenge with the credential (ECR)", () => {
  it("retries once with Basic, and does not loop when the credential is refused", async () => {
    const seen: (string | null)[] = [];
    const fake = (ok: boolean): typeof fetch =>
      (async (_url: string | URL | Request, init?: RequestInit) => {
        const auth = new Headers(init?.headers).get("authorization");
        seen.push(auth);
        if (auth === `Basic ${Buffer.from("AWS:token").toString("base64")}` && ok) return new Response("{}", { status: 200 });
        return new Response("", {
          status: 401,
          headers: { "www-authenticate": 'Basic realm="https://111122223333.dkr.ecr.eu-west-1.amazonaws.com/",service="ecr.amazonaws.com"' },
        });
      }) as typeof fetch;
    const good = await new RegistryClient({ username: "AWS", password: "token" }, fake(true)).request(
      "111122223333.dkr.ecr.eu-west-1.amazonaws.com",
      "/v2/intake/acme/app/tags/list",
      { method: "GET", repository: "intake/acme/app", actions: "pull" },
    );
    expect(good.status).toBe(200);
    expect(seen).toEqual([null, `Basic ${Buffer.from("AWS:token").toString("base64")}`]);
    seen.length = 0;
    const refused = await new RegistryClient({ username: "AWS", password: "token" }, fake(false)).request("h.example.com", "/v2/x/tags/list", {
      method: "GET",
      repository: "x",
      actions: "pull",
    });
    expect(refused.status).toBe(401);
    expect(seen).toHaveLength(2);
  });
});

describe("namespaces are the customers' own", () => {
  it("a Kubernetes namespace named by two customers, or by the platform, is refused naming the entry", () => {
    const dir = tempDir("ns-");
    copyFileSync(path.resolve(__dirname, "../../..", "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    writeFileSync(path.join(dir, "Pulumi.dev.yaml"), readFileSync(path.resolve(__dirname, "../../..", "Pulumi.dev.yaml")));
    const roster = path.join(dir, "roster.yaml");
    writeFileSync(
      roster,
      stringify({
        customers: [
          customer("acme", "enterprise", { kubernetes: { namespace: "apps" } }),
          customer("globex", "enterprise", { kubernetes: { namespace: "apps" } }),
        ],
      }),
    );
    expect(() => loadStackContext({ projectDir: dir, stack: "dev", rosterPath: roster })).toThrow(
      /customer globex field kubernetes\.namespace: "apps" is already customer acme's/,
    );
    writeFileSync(roster, stringify({ customers: [customer("acme", "enterprise", { kubernetes: { namespace: "kube-system" } })] }));
    expect(() => loadStackContext({ projectDir: dir, stack: "dev", rosterPath: roster })).toThrow(
      /field kubernetes\.namespace: "kube-system" is a namespace of the cluster itself \(default, kube-\*\): give the customer its own/,
    );
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
    copyFileSync(path.resolve(__dirname, "../../..", "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    writeFileSync(
      path.join(dir, "Pulumi.t.yaml"),
      stringify({
        config: {
          "registry-intake:environment": "dev",
          "registry-intake:enabledKinds": ["distribution"],
          "registry-intake:distribution": { host: `127.0.0.1:${port}` },
        },
      }),
    );
    const roster = path.join(dir, "roster.yaml");
    writeFileSync(
      roster,
      stringify({
        customers: [
          customer("acme", "enterprise", { license: { expires: "2099-12-31" } }),
          customer("globex", "enterprise", { license: { expires: "2099-12-31" } }),
        ],
      }),
    );
    const out: string[] = [];
    const err: string[] = [];
    const json = path.join(dir, "evidence.json");
    const code = await main(["verify", "--all", "--stack", "t", "--project", dir, "--roster", roster, "--key", key, "--json", json], {
      out: (s) => out.push(s),
      err: (s) => err.push(s),
    });
    expect(code).toBe(4);
    expect(err).toEqual([]);
    const report = JSON.parse(readFileSync(json, "utf8"));
    expect(report.unreachable).toBe(true);
    expect(report.results[0].probes[0]).toMatchObject({ what: "list own", status: 0, ok: false, note: "unreachable: ECONNREFUSED" });
    expect(out.join("\n")).toContain(`FAIL acme distribution at 127.0.0.1:${port} (127.0.0.1:${port} is out of reach: nothing proven)`);
  });
});

/** A broker signing key (EC P-256, PEM) in a temp folder of its own. */
function brokerKeyFile(): string {
  const keyFile = path.join(tempDir("verify-key-"), "broker.key");
  writeFileSync(keyFile, generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }));
  return keyFile;
}

describe("intake verify over customers and kinds that cannot all be verified", () => {
  const settings = () =>
    testSettings({
      enabledKinds: ["ghcr", "distribution"],
      ghcr: { owner: "example-org" },
      distribution: { host: "127.0.0.1:5999", service: "svc", issuer: "iss" },
    });
  const rosterOf = (s: ReturnType<typeof settings>) =>
    parseRoster(
      stringify({
        customers: [
          customer("acme", "enterprise", { license: { expires: "2099-12-31" }, github: { machineUser: "acme-ci-bot" } }),
          customer("northwind", "enterprise", { license: { expires: "2099-12-31" } }),
        ],
      }),
      "roster.yaml",
      { tierTable: s.tierTable },
    );
  /** A registry that answers each request as `answer` says, logging them. */
  const registry = (answer: (method: string, path: string) => Response, log: string[]): typeof fetch =>
    (async (input: string | URL | Request, init?: RequestInit) => {
      const u = new URL(String(input instanceof Request ? input.url : input));
      log.push(`${init?.method ?? "GET"} ${u.pathname}`);
      return answer(init?.method ?? "GET", u.pathname);
    }) as typeof fetch;

  it("reports a pair it cannot check as skipped with the reason, and checks the others", async () => {
    const keyFile = brokerKeyFile();
    const s = settings();
    const log: string[] = [];
    const fetchImpl = registry(
      (_m, p) => new Response(null, { status: p.includes("/northwind/") && p.startsWith("/v2/intake/northwind/app") ? 401 : p.includes("/acme/") ? 404 : 401 }),
      log,
    );
    const report = await verify({
      settings: s,
      roster: rosterOf(s),
      customers: ["acme", "northwind"],
      mint: () => ({ signingKey: loadPrivateSigningKey(keyFile) }),
      fetchImpl,
    });
    const pairs = report.results.map((r) => [r.customer, r.kind, r.skipped ? "skipped" : r.ok ? "ok" : "FAIL"]);
    expect(pairs).toEqual([
      ["acme", "ghcr", "skipped"],
      ["acme", "distribution", "ok"],
      ["northwind", "ghcr", "skipped"],
      ["northwind", "distribution", expect.any(String)],
    ]);
    expect(report.results[0].reason).toMatch(/no PAT for acme-ci-bot in INTAKE_GHCR_TOKEN_ACME/);
    expect(report.results[2].reason).toMatch(/customer northwind has no github\.machineUser/);
    expect(report.skipped).toBe(2);
    const text = renderVerifyText(report);
    expect(text).toMatch(/^skip northwind ghcr: ghcr: customer northwind has no github\.machineUser/m);
    expect(text).toMatch(
      /customer-kind pair\(s\) (checked|FAILED): 2 probed at their registry, 0 refused a credential as their license says; 2 skipped \(no credential to test with\)\.$/,
    );
    expect(log.some((l) => l.includes("/v2/intake/acme/app/tags/list"))).toBe(true);
  });

  it("--write: a Distribution robot's delete must be refused; one the registry lets through fails the check", async () => {
    const keyFile = brokerKeyFile();
    const s = testSettings({ enabledKinds: ["distribution"], distribution: { host: "127.0.0.1:5999", service: "svc", issuer: "iss" } });
    const roster = parseRoster(
      stringify({
        customers: [
          customer("acme", "enterprise", { license: { expires: "2099-12-31" } }),
          customer("globex", "enterprise", { license: { expires: "2099-12-31" } }),
        ],
      }),
      "roster.yaml",
      { tierTable: s.tierTable },
    );
    const run = (deleteStatus: number) =>
      verify({
        settings: s,
        roster,
        customers: ["acme"],
        write: true,
        mint: () => ({ signingKey: loadPrivateSigningKey(keyFile) }),
        fetchImpl: registry((m, p) => {
          if (p.includes("/globex/")) return new Response(null, { status: 401 });
          if (m === "POST") return new Response(null, { status: 202, headers: { location: "/v2/intake/acme/intake-verify-probe/blobs/uploads/u1" } });
          if (m === "PUT") return new Response(null, { status: 201 });
          if (m === "DELETE") return new Response(null, { status: deleteStatus });
          return new Response(null, { status: 404 });
        }, []),
      });
    const kept = await run(401);
    expect(kept.results[0].probes.at(-1)).toMatchObject({ what: "delete probe", status: 401, expected: "refused", ok: true });
    expect(renderVerifyText(kept)).toMatch(
      /ok {3}delete probe intake\/acme\/intake-verify-probe: 401, must be refused .*: the broker grants robots pull and push only; the probe stays, tagged verify-\d{14}/,
    );
    const deleted = await run(202);
    expect(deleted.ok).toBe(false);
    expect(renderVerifyText(deleted)).toMatch(
      /FAIL delete probe intake\/acme\/intake-verify-probe: 202, must be refused .*: deleted, though the broker grants robots pull and push only/,
    );
    const untested = await run(405);
    expect(untested.results[0].probes.at(-1)).toMatchObject({ ok: true, note: expect.stringMatching(/^the registry deletes no manifests: not tested/) });
  });

  it("every pair skipped is nothing verified: one line, exit 2", async () => {
    const dir = tempDir("verify-none-");
    copyFileSync(path.resolve(__dirname, "../../..", "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    writeFileSync(
      path.join(dir, "Pulumi.t.yaml"),
      stringify({
        config: { "registry-intake:environment": "dev", "registry-intake:enabledKinds": ["ghcr"], "registry-intake:ghcr": { owner: "example-org" } },
      }),
    );
    const roster = path.join(dir, "roster.yaml");
    writeFileSync(roster, stringify({ customers: [customer("northwind", "enterprise", { license: { expires: "2099-12-31" } })] }));
    const out: string[] = [];
    const err: string[] = [];
    const code = await main(["verify", "--all", "--stack", "t", "--project", dir, "--roster", roster], { out: (s) => out.push(s), err: (s) => err.push(s) });
    expect(code).toBe(2);
    expect(err).toEqual([
      expect.stringMatching(
        /^error: nothing could be verified at a registry: 1 licensed pair\(s\) skipped: ghcr: customer northwind has no github\.machineUser/,
      ),
    ]);
  });
});
