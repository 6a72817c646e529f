// A stack with `deliveries` on the real engine: `pulumi up` runs the `local.Command` (the command
// provider built by scripts/engine.sh), which runs `intake deliver` against a real Distribution
// registry behind the token broker, with the delivery robot's password from the stack.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { TokenBroker } from "../../runtime/broker/broker";
import { loadSigningKey } from "../../runtime/broker/keys";
import { RegistryClient } from "../../runtime/registry/client";
import { parseReference } from "../../core/reference";
import { customer } from "../../testing/helpers";
import { e2eUnavailable, freePort, makeKeyPair, skopeo, startRegistry, type RunningRegistry } from "../../testing/e2e";
import { writeMultiArchImage } from "../../testing/oci";
import { EngineProject, engineUnavailable, ok } from "../../testing/engine";
import { projectOnCluster } from "../../testing/kube";

const unavailable = engineUnavailable() ?? e2eUnavailable();
if (unavailable) console.log(`skipping the real-engine delivery test: ${unavailable}`);

describe.skipIf(!!unavailable)("deliveries under `pulumi up`", () => {
  let p: EngineProject;
  let at: Awaited<ReturnType<typeof projectOnCluster>> | undefined;
  let source: RunningRegistry;
  let target: RunningRegistry;
  let broker: TokenBroker | undefined;
  let brokerPort: number;
  let image: { digest: string };
  const stackFile = () => parse(readFileSync(p.file("Pulumi.dev.yaml"), "utf8")) as { config: Record<string, unknown> };
  const setConfig = (over: Record<string, unknown>) => {
    const doc = stackFile();
    Object.assign(doc.config, over);
    p.write("Pulumi.dev.yaml", stringify(doc));
  };

  beforeAll(async () => {
    at = await projectOnCluster();
    p = at.p;
    const dir = p.file(".e2e");
    mkdirSync(dir);
    const pair = makeKeyPair(dir);
    // The registry first, pointed at the broker's port; the broker starts once the stack has made its access list.
    brokerPort = await freePort();
    mkdirSync(`${dir}/source`);
    mkdirSync(`${dir}/target`);
    source = await startRegistry(`${dir}/source`);
    target = await startRegistry(`${dir}/target`, {
      realm: `http://127.0.0.1:${brokerPort}/token`,
      service: "registry-intake",
      issuer: "registry-intake-broker",
      rootcertbundle: pair.cert,
    });
    const img = writeMultiArchImage(`${dir}/image`, "1.0.0", { layers: 2, layerBytes: 256 * 1024 });
    const pushed = await skopeo(
      ["copy", "--all", "--preserve-digests", "--dest-tls-verify=false", `oci:${img.layout}:1.0.0`, `docker://127.0.0.1:${source.port}/builds/app:1.0.0`],
      dir,
    );
    expect(pushed.ok, pushed.stderr).toBe(true);
    image = img;

    const far = { license: { expires: "2099-12-31" } };
    p.write(
      "customers/roster.yaml",
      stringify({ customers: [customer("acme", "enterprise", far), customer("globex", "enterprise", far), customer("initech", "standard", far)] }),
    );
    setConfig({ "registry-intake:enabledKinds": ["distribution"], "registry-intake:distribution": { host: `127.0.0.1:${target.port}` } });
    await p.initStack("dev");
    ok(await p.pulumi(["up", "--yes", "--stack", "dev"]), "pulumi up (namespaces, robots, the access list)");
    const acl = ok(await p.pulumi(["stack", "output", "distributionAcl", "--show-secrets", "--stack", "dev"]), "pulumi stack output");
    writeFileSync(`${dir}/acl.json`, acl.stdout.trim());
    broker = new TokenBroker({
      aclFile: `${dir}/acl.json`,
      rosterFile: p.file("customers/roster.yaml"),
      key: loadSigningKey(pair.key, pair.cert),
      service: "registry-intake",
      issuer: "registry-intake-broker",
      logger: pino({ level: "silent" }),
    });
    await broker.listen("127.0.0.1", brokerPort);
  }, 300_000);

  afterAll(async () => {
    await broker?.close();
    await source?.stop();
    await target?.stop();
    await at?.stop();
  });

  it("pulumi up runs intake deliver after the namespaces exist; the build is in each customer's namespace, by digest", async () => {
    setConfig({
      "registry-intake:deliveries": [
        {
          source: `127.0.0.1:${source.port}/builds/app@${image.digest}`,
          build: "app",
          version: "1.0.0",
          customers: ["acme", "globex"],
          kinds: ["distribution"],
          tool: "skopeo",
        },
      ],
    });
    const up = ok(await p.pulumi(["up", "--yes", "--stack", "dev"]), "pulumi up (deliveries)");
    expect(up.stdout).toMatch(/command:local:Command/);
    const password = ok(
      await p.pulumi(["stack", "output", "distributionDeliveryPassword", "--show-secrets", "--stack", "dev"]),
      "pulumi stack output",
    ).stdout.trim();
    const client = new RegistryClient({ username: "intake-delivery", password });
    for (const id of ["acme", "globex"]) {
      const head = await client.headManifest(parseReference(`127.0.0.1:${target.port}/intake/${id}/app:1.0.0`));
      expect(head.digest, id).toBe(image.digest);
    }
    // Nothing changes on a second up: the delivery is keyed by the source digest.
    ok(await p.pulumi(["preview", "--expect-no-changes", "--stack", "dev"]), "pulumi preview --expect-no-changes");
  }, 300_000);
});
