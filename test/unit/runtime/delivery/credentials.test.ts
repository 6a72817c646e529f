import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { discoverCredential, envPrefix } from "../../../../runtime/delivery/credentials";
import { tempDir } from "../../../../testing/tmp";

function sandbox() {
  const dir = tempDir("creds-");
  const docker = path.join(dir, "docker");
  const bin = path.join(dir, "bin");
  mkdirSync(docker);
  mkdirSync(bin);
  // A credential helper that knows one registry, as docker-credential-* helpers do.
  writeFileSync(
    path.join(bin, "docker-credential-fake"),
    '#!/bin/sh\nread host\nif [ "$host" = "helper.example.com" ]; then echo \'{"ServerURL":"helper.example.com","Username":"h-user","Secret":"h-secret"}\'; else echo "credentials not found in native keychain"; exit 1; fi\n',
  );
  chmodSync(path.join(bin, "docker-credential-fake"), 0o755);
  const env = { PATH: `${bin}:${process.env.PATH}`, DOCKER_CONFIG: docker, HOME: dir };
  const config = (c: unknown) => writeFileSync(path.join(docker, "config.json"), JSON.stringify(c));
  return { dir, env, config };
}

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("source credential discovery", () => {
  it("reads docker config auths, including Docker Hub's v1 key", async () => {
    const s = sandbox();
    s.config({ auths: { "ghcr.io": { auth: b64("octo:ghp_x") }, "https://index.docker.io/v1/": { auth: b64("hubuser:hubpass") } } });
    expect(await discoverCredential("ghcr.io", { env: s.env })).toMatchObject({
      username: "octo",
      password: "ghp_x",
      source: expect.stringContaining("docker config"),
    });
    expect(await discoverCredential("docker.io", { env: s.env })).toMatchObject({ username: "hubuser", password: "hubpass" });
    expect(await discoverCredential("quay.io", { env: s.env })).toBeUndefined();
  });

  it("asks a credHelpers helper, and credsStore last", async () => {
    const s = sandbox();
    s.config({ credHelpers: { "helper.example.com": "fake" }, auths: { "helper.example.com": { auth: b64("stale:stale") } } });
    expect(await discoverCredential("helper.example.com", { env: s.env })).toEqual({
      username: "h-user",
      password: "h-secret",
      source: "credential helper fake",
    });
    s.config({ credsStore: "fake" });
    expect(await discoverCredential("helper.example.com", { env: s.env })).toMatchObject({ username: "h-user", source: "credential store fake" });
    expect(await discoverCredential("other.example.com", { env: s.env })).toBeUndefined();
  });

  it("environment variables first, then a mounted dockerconfigjson", async () => {
    const s = sandbox();
    s.config({ auths: { "127.0.0.1:5000": { auth: b64("cfg:cfg") } } });
    const mounted = path.join(s.dir, ".dockerconfigjson");
    writeFileSync(mounted, JSON.stringify({ auths: { "127.0.0.1:5000": { username: "k8s", password: "k8s-secret" } } }));
    expect(envPrefix("127.0.0.1:5000")).toBe("REGISTRY_127_0_0_1_5000");
    const env = { ...s.env, REGISTRY_127_0_0_1_5000_USERNAME: "env", REGISTRY_127_0_0_1_5000_PASSWORD: "env-secret" };
    expect(await discoverCredential("127.0.0.1:5000", { env, dockerConfigJsonFile: mounted })).toMatchObject({
      username: "env",
      source: "env REGISTRY_127_0_0_1_5000_USERNAME/_PASSWORD",
    });
    expect(await discoverCredential("127.0.0.1:5000", { env: s.env, dockerConfigJsonFile: mounted })).toMatchObject({
      username: "k8s",
      password: "k8s-secret",
    });
    expect(await discoverCredential("127.0.0.1:5000", { env: s.env })).toMatchObject({ username: "cfg" });
  });

  it("a broken docker config is an error naming the file", async () => {
    const s = sandbox();
    writeFileSync(path.join(s.env.DOCKER_CONFIG, "config.json"), "{not json");
    await expect(discoverCredential("ghcr.io", { env: s.env })).rejects.toThrow(/config\.json: not a docker config/);
  });
});
