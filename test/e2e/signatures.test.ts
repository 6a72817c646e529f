import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { main } from "../../cli/main";
import { runUnderMocks } from "../../planning/engine";
import { parseRoster } from "../../customers/roster";
import { program } from "../../program";
import { TokenBroker } from "../../runtime/broker/broker";
import { loadSigningKey } from "../../runtime/broker/keys";
import type { TargetResult } from "../../runtime/delivery/deliver";
import { RegistryClient } from "../../runtime/registry/client";
import { parseReference } from "../../core/reference";
import { ACCOUNT, customer, REGION, testSettings, unwrap } from "../../testing/helpers";
import { e2eUnavailable, makeKeyPair, skopeo, startRegistry, type RunningRegistry } from "../../testing/e2e";
import { writeMultiArchImage } from "../../testing/oci";
import { attachSbom, cosignAttest, cosignSign, makeCosignKey, opensslVerify, pushManifest } from "../../testing/cosign";
import { RegistryProxy } from "../../testing/proxy";
import { tempDir } from "../../testing/tmp";

const unavailable = e2eUnavailable();
if (unavailable) console.log(`skipping the signature delivery tests: ${unavailable}`);

const SERVICE = "registry-intake";
const ISSUER = "registry-intake-broker";
const TODAY = "2026-11-22";
const CUSTOMERS = [
  customer("acme", "enterprise", { license: { expires: "2099-12-31" } }),
  customer("acme-eu", "enterprise", { license: { expires: "2099-12-31" } }),
  customer("wayne", "enterprise", { license: { expires: "2099-12-31" } }),
];
const THREE = ["acme", "acme-eu", "wayne"];

describe.skipIf(!!unavailable)("intake deliver carries signatures, attestations and SBOMs (real Distribution, openssl-made cosign artifacts)", () => {
  let dir: string;
  let project: string;
  let broker: TokenBroker;
  let source: RunningRegistry;
  let registry: RunningRegistry;
  let deliveryPassword: string;
  let host: string;
  let src: string;
  let signer: { key: string; pub: string };
  let stranger: { key: string; pub: string };
  const out: string[] = [];
  const err: string[] = [];

  /** A new multi-arch image pushed to the source as builds/app:<version>. */
  async function build(version: string) {
    const img = writeMultiArchImage(path.join(dir, `image-${version}`), version, { layers: 1, layerBytes: 64 * 1024 });
    const r = await skopeo(
      ["copy", "--all", "--preserve-digests", "--dest-tls-verify=false", `oci:${img.layout}:${version}`, `docker://${src}/builds/app:${version}`],
      dir,
    );
    expect(r.ok, r.stderr).toBe(true);
    return img;
  }
  const cli = (args: string[]) => {
    out.length = 0;
    err.length = 0;
    return main(
      [
        "deliver",
        ...args,
        "--build",
        "app",
        "--customer",
        THREE.join(","),
        "--stack",
        "e2e",
        "--project",
        project,
        "--roster",
        path.join(project, "roster.yaml"),
        "--tool",
        "skopeo",
      ],
      {
        out: (s) => out.push(s),
        err: (s) => err.push(s),
      },
    );
  };
  const direct = () => new RegistryClient({ username: "intake-delivery", password: deliveryPassword });
  const manifestAt = async (repo: string, ref: string) => {
    try {
      return await direct().getManifest(host, repo, ref);
    } catch {
      return undefined;
    }
  };
  const blobAt = async (repo: string, digest: string) => Buffer.from(await (await direct().getBlob(host, repo, digest)).arrayBuffer());

  beforeAll(async () => {
    dir = tempDir("intake-signatures-");
    const pair = makeKeyPair(dir);
    const roster = parseRoster(stringify({ customers: CUSTOMERS }), "roster.yaml");
    const { result } = await runUnderMocks(() => program(testSettings(), roster), {
      project: "p",
      stack: "e2e",
      cloud: { accountId: ACCOUNT, region: REGION },
    });
    writeFileSync(path.join(dir, "acl.json"), await unwrap(result.distribution!.acl));
    deliveryPassword = await unwrap(result.distribution!.deliveryPassword!);
    writeFileSync(path.join(dir, "roster.yaml"), stringify({ customers: CUSTOMERS }));
    broker = new TokenBroker({
      aclFile: path.join(dir, "acl.json"),
      rosterFile: path.join(dir, "roster.yaml"),
      key: loadSigningKey(pair.key, pair.cert),
      service: SERVICE,
      issuer: ISSUER,
      today: () => TODAY,
      logger: pino({ level: "silent" }),
    });
    const brokerPort = await broker.listen("127.0.0.1", 0);
    mkdirSync(path.join(dir, "source"));
    mkdirSync(path.join(dir, "target"));
    source = await startRegistry(path.join(dir, "source"));
    registry = await startRegistry(path.join(dir, "target"), {
      realm: `http://127.0.0.1:${brokerPort}/token`,
      service: SERVICE,
      issuer: ISSUER,
      rootcertbundle: pair.cert,
    });
    host = `127.0.0.1:${registry.port}`;
    src = `127.0.0.1:${source.port}`;
    signer = makeCosignKey(dir, "cosign");
    stranger = makeCosignKey(dir, "stranger");
    project = path.join(dir, "project");
    mkdirSync(project);
    copyFileSync(path.resolve(__dirname, "..", "..", "Pulumi.yaml"), path.join(project, "Pulumi.yaml"));
    writeFileSync(path.join(project, "roster.yaml"), stringify({ customers: CUSTOMERS }));
    writeFileSync(
      path.join(project, "Pulumi.e2e.yaml"),
      stringify({
        config: { "registry-intake:environment": "dev", "registry-intake:enabledKinds": ["distribution"], "registry-intake:distribution": { host } },
      }),
    );
    process.env.INTAKE_DELIVERY_PASSWORD = deliveryPassword;
  }, 60_000);

  afterAll(async () => {
    delete process.env.INTAKE_DELIVERY_PASSWORD;
    await registry?.stop();
    await source?.stop();
    await broker?.close();
  });

  it("a signed, attested image with an SBOM referrer arrives in three namespaces with all three, and the signature verifies there", async () => {
    const img = await build("1.0.0");
    const sig = await cosignSign(dir, src, "builds/app", img.digest, signer.key);
    const att = await cosignAttest(dir, src, "builds/app", img.digest, signer.key);
    const index = await direct().getManifest(src, "builds/app", img.digest);
    const sbom = await attachSbom(src, "builds/app", { mediaType: index.mediaType, digest: img.digest, size: index.bytes.length });
    const json = path.join(dir, "signed.json");

    const code = await cli(["--source", `${src}/builds/app:1.0.0`, "--version", "1.0.0", "--require-signature", signer.pub, "--json", json]);
    expect(code, err.join("\n")).toBe(0);
    expect(err.join("\n")).toMatch(
      new RegExp(`^source ${img.digest} .*carries 3 signature/attestation/SBOM artifacts; signature by .*cosign\\.pub verified`, "m"),
    );
    const results = (JSON.parse(readFileSync(json, "utf8")) as { results: TargetResult[] }).results;
    expect(results.map((r) => [r.customer, r.status])).toEqual(THREE.map((id) => [id, "delivered"]));
    const hex = img.digest.slice(7);
    for (const r of results) {
      expect(r.attached).toEqual([
        { kind: "signature", digest: sig.digest, subject: img.digest, tag: `sha256-${hex}.sig`, how: "copied" },
        { kind: "attestation", digest: att.digest, subject: img.digest, tag: `sha256-${hex}.att`, how: "copied" },
        { kind: "referrer", digest: sbom.digest, subject: img.digest, how: "copied" },
      ]);
      const repo = `intake/${r.customer}/app`;
      // What a customer's verifier does: the delivered digest, its .sig, the payload and its signature, checked with openssl.
      const delivered = (await direct().headManifest(parseReference(`${host}/${repo}:1.0.0`))).digest!;
      expect(delivered).toBe(img.digest);
      const sigManifest = (await manifestAt(repo, `sha256-${delivered.slice(7)}.sig`))!;
      expect(sigManifest.digest).toBe(sig.digest);
      const layer = (JSON.parse(sigManifest.bytes.toString()) as { layers: { digest: string; annotations: Record<string, string> }[] }).layers[0];
      const payload = await blobAt(repo, layer.digest);
      expect(JSON.parse(payload.toString()).critical.image["docker-manifest-digest"]).toBe(delivered);
      const signature = Buffer.from(layer.annotations["dev.cosignproject.cosign/signature"], "base64");
      expect(opensslVerify(dir, signer.pub, payload, signature)).toBe(true);
      expect(opensslVerify(dir, stranger.pub, payload, signature)).toBe(false);
      expect((await manifestAt(repo, `sha256-${hex}.att`))!.digest).toBe(att.digest);
      // The SBOM by digest, its bytes, and (Distribution 2.8 has no referrers API) listed in the target's sha256-<hex> index.
      const sbomManifest = (await manifestAt(repo, sbom.digest))!;
      const sbomLayer = (JSON.parse(sbomManifest.bytes.toString()) as { layers: { digest: string }[] }).layers[0];
      expect(await blobAt(repo, sbomLayer.digest)).toEqual(sbom.sbom);
      const referrers = JSON.parse((await manifestAt(repo, `sha256-${hex}`))!.bytes.toString()) as { manifests: { digest: string; artifactType: string }[] };
      expect(referrers.manifests).toEqual([expect.objectContaining({ digest: sbom.digest, artifactType: "application/spdx+json" })]);
    }
    expect(out.join("\n")).toMatch(/^delivered +distribution +acme .*signature, attestation, referrer/m);

    // Again: everything is there; nothing is written.
    expect(await cli(["--source", `${src}/builds/app:1.0.0`, "--version", "1.0.0", "--require-signature", signer.pub, "--json", json])).toBe(0);
    const again = (JSON.parse(readFileSync(json, "utf8")) as { results: TargetResult[] }).results;
    expect(again.map((r) => [r.status, r.bytes, r.attached?.map((a) => a.how)])).toEqual(THREE.map(() => ["cached", 0, ["present", "present", "present"]]));
  }, 120_000);

  it("an image signed later gets its signature on the next run, before latest is moved", async () => {
    const img = await build("1.1.0");
    expect(await cli(["--source", `${src}/builds/app:1.1.0`, "--version", "1.1.0", "--no-latest"])).toBe(0);
    expect(await manifestAt("intake/acme/app", `sha256-${img.digest.slice(7)}.sig`)).toBeUndefined();
    const sig = await cosignSign(dir, src, "builds/app", img.digest, signer.key);
    expect(await cli(["--source", `${src}/builds/app:1.1.0`, "--version", "1.1.0", "--require-signature", signer.pub])).toBe(0);
    for (const id of THREE) {
      expect((await manifestAt(`intake/${id}/app`, `sha256-${img.digest.slice(7)}.sig`))?.digest).toBe(sig.digest);
      expect((await direct().headManifest(parseReference(`${host}/intake/${id}/app:latest`))).digest).toBe(img.digest);
    }
    expect(out.join("\n")).toMatch(/^cached +distribution +acme .*signature\)/m);
  }, 120_000);

  it("--no-attached leaves them behind", async () => {
    const img = await build("1.2.0");
    await cosignSign(dir, src, "builds/app", img.digest, signer.key);
    expect(await cli(["--source", `${src}/builds/app:1.2.0`, "--version", "1.2.0", "--no-attached"])).toBe(0);
    expect((await direct().headManifest(parseReference(`${host}/intake/acme/app:1.2.0`))).digest).toBe(img.digest);
    expect(await manifestAt("intake/acme/app", `sha256-${img.digest.slice(7)}.sig`)).toBeUndefined();
  }, 120_000);

  it("where registries have the referrers API (OCI 1.1), the SBOM is read from it and written without the sha256-<hex> index", async () => {
    const img = await build("3.0.0");
    const index = await direct().getManifest(src, "builds/app", img.digest);
    // Pushed by digest only: without the API there would be no way to find it.
    const sbom = await attachSbom(src, "builds/app", { mediaType: index.mediaType, digest: img.digest, size: index.bytes.length }, { indexTag: false });
    const referrersPath = `/v2/builds/app/referrers/${img.digest}`;
    const listing = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.index.v1+json",
      manifests: [{ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: sbom.digest, size: sbom.size, artifactType: "application/spdx+json" }],
    };
    const sourceProxy = new RegistryProxy(source.port);
    const targetProxy = new RegistryProxy(registry.port);
    const asked: string[] = [];
    const sourceGets: string[] = [];
    sourceProxy.hooks.before = (req) => (req.method === "GET" && sourceGets.push(req.url!), "pass");
    sourceProxy.hooks.respond = (req) =>
      req.method === "GET" && req.url === referrersPath
        ? { status: 200, headers: { "content-type": "application/vnd.oci.image.index.v1+json" }, body: JSON.stringify(listing) }
        : undefined;
    // The target's API answers as a registry that indexes what it is given (here: nothing yet, which is enough to say it has the API).
    targetProxy.hooks.respond = (req) => {
      if (req.method !== "GET" || !/\/referrers\//.test(req.url ?? "")) return undefined;
      asked.push(req.url!);
      return {
        status: 200,
        headers: { "content-type": "application/vnd.oci.image.index.v1+json" },
        body: JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [] }),
      };
    };
    const file = path.join(project, "Pulumi.e2e.yaml");
    const before = readFileSync(file, "utf8");
    try {
      const viaSource = `127.0.0.1:${await sourceProxy.listen()}`;
      const viaTarget = `127.0.0.1:${await targetProxy.listen()}`;
      writeFileSync(
        file,
        stringify({
          config: {
            "registry-intake:environment": "dev",
            "registry-intake:enabledKinds": ["distribution"],
            "registry-intake:distribution": { host: viaTarget },
          },
        }),
      );
      const json = path.join(dir, "api.json");
      expect(await cli(["--source", `${viaSource}/builds/app:3.0.0`, "--version", "3.0.0", "--json", json]), err.join("\n")).toBe(0);
      const results = (JSON.parse(readFileSync(json, "utf8")) as { results: TargetResult[] }).results;
      expect(results.map((r) => r.attached)).toEqual(THREE.map(() => [{ kind: "referrer", digest: sbom.digest, subject: img.digest, how: "copied" }]));
      // The SBOM's bytes left the source once: the other two namespaces mounted them from the first.
      const layer = `sha256:${createHash("sha256").update(sbom.sbom).digest("hex")}`;
      expect(sourceGets.filter((u) => u === `/v2/builds/app/blobs/${layer}`)).toHaveLength(1);
      for (const id of THREE) {
        expect((await manifestAt(`intake/${id}/app`, sbom.digest))?.digest).toBe(sbom.digest);
        expect(await manifestAt(`intake/${id}/app`, `sha256-${img.digest.slice(7)}`)).toBeUndefined();
        expect(asked).toContain(`/v2/intake/${id}/app/referrers/${img.digest}`);
      }
    } finally {
      writeFileSync(file, before);
      await sourceProxy.close();
      await targetProxy.close();
    }
  }, 120_000);

  it("refuses, with exit 4 and nothing delivered, an unsigned source, one signed by another key, and a signature copied from another image", async () => {
    const unsigned = await build("2.0.0");
    const foreign = await build("2.1.0");
    await cosignSign(dir, src, "builds/app", foreign.digest, stranger.key);
    const copied = await build("2.2.0");
    // A valid signature by the right key, but over 1.0.0's digest, stored as 2.2.0's .sig.
    const signed = (await direct().headManifest(parseReference(`${host}/intake/acme/app:1.0.0`))).digest!;
    await cosignSign(dir, src, "builds/app", copied.digest, signer.key, signed);
    const cases: [string, RegExp][] = [
      ["2.0.0", /carries no cosign signature \(no sha256-[0-9a-f]{64}\.sig tag\): nothing delivered/],
      ["2.1.0", /has no cosign signature valid for that key \(1 signature, none valid: made by another key/],
      ["2.2.0", new RegExp(`it signs ${signed}, not sha256:`)],
    ];
    for (const [version, why] of cases) {
      expect(await cli(["--source", `${src}/builds/app:${version}`, "--version", version, "--require-signature", signer.pub]), version).toBe(4);
      expect(err).toHaveLength(1);
      expect(err[0]).toMatch(/^error: signature required \(.*cosign\.pub\): 127\.0\.0\.1:\d+\/builds\/app@sha256:/);
      expect(err[0]).toMatch(why);
      for (const id of THREE) expect(await manifestAt(`intake/${id}/app`, version), `${id} ${version}`).toBeUndefined();
    }
    void unsigned;
  }, 120_000);

  it("a signature layer that names a blob larger than it declares is refused after the declared bytes, not read whole", async () => {
    const img = await build("2.3.0");
    // A .sig whose one layer says 100 bytes and names a 20 MiB blob.
    const big = Buffer.alloc(20 * 1024 * 1024, 7);
    const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
    const config = Buffer.from(JSON.stringify({ architecture: "", os: "", rootfs: { type: "layers", diff_ids: [sha(big)] }, config: {} }));
    await pushManifest(
      src,
      "builds/app",
      `${img.digest.replace(":", "-")}.sig`,
      {
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: { mediaType: "application/vnd.oci.image.config.v1+json", size: config.length, digest: sha(config) },
        layers: [
          {
            mediaType: "application/vnd.dev.cosign.simplesigning.v1+json",
            size: 100,
            digest: sha(big),
            annotations: { "dev.cosignproject.cosign/signature": "MEUCIQ==" },
          },
        ],
      },
      [config, big],
    );
    expect(await cli(["--source", `${src}/builds/app:2.3.0`, "--version", "2.3.0", "--require-signature", signer.pub])).toBe(4);
    expect(err).toHaveLength(1);
    expect(err[0]).toMatch(/1 signature, none valid: its payload is larger than the 100 bytes its layer declares\): nothing delivered/);
    for (const id of THREE) expect(await manifestAt(`intake/${id}/app`, "2.3.0")).toBeUndefined();
  }, 60_000);

  it("the stack's requireSignature setting holds every delivery to it; a bad key file is bad input", async () => {
    const file = path.join(project, "Pulumi.e2e.yaml");
    const before = readFileSync(file, "utf8");
    copyFileSync(signer.pub, path.join(project, "cosign.pub"));
    try {
      writeFileSync(
        file,
        stringify({
          config: {
            "registry-intake:environment": "dev",
            "registry-intake:enabledKinds": ["distribution"],
            "registry-intake:distribution": { host },
            "registry-intake:requireSignature": "cosign.pub",
          },
        }),
      );
      expect(await cli(["--source", `${src}/builds/app:2.0.0`, "--version", "2.0.0"])).toBe(4);
      expect(err[0]).toMatch(/signature required \(.*project\/cosign\.pub\).*carries no cosign signature/);
      expect(await manifestAt("intake/acme/app", "2.0.0")).toBeUndefined();

      expect(await cli(["--source", `${src}/builds/app:2.0.0`, "--version", "2.0.0", "--require-signature", path.join(dir, "nope.pub")])).toBe(2);
      expect(err).toEqual([expect.stringMatching(/^error: --require-signature .*nope\.pub: cannot be read \(ENOENT\): give the PEM public key/)]);
      expect(await cli(["--source", `${src}/builds/app:2.0.0`, "--version", "2.0.0", "--require-signature", signer.key])).toBe(2);
      expect(err).toEqual([expect.stringMatching(/^error: --require-signature .*cosign\.key: not a PEM public key: give the public half/)]);
      expect(err[0]).not.toContain("PRIVATE KEY");
    } finally {
      writeFileSync(file, before);
    }
  }, 60_000);
});
