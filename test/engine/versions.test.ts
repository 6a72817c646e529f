// The engine and the SDK move together: the Pulumi CLI that scripts/engine.sh builds (`npm run
// engine`) and the @pulumi/pulumi the lockfile holds are of one minor release, so a program is
// proved on the engine users run beside the SDK they install.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { engineBinDir, engineUnavailable, ROOT } from "../../testing/engine";

/** "3.276" of "v3.276.0" or "3.276.0". */
const minor = (v: string) => v.replace(/^v/, "").split(".").slice(0, 2).join(".");

function lockedSdk(): string {
  const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
  return lock.packages["node_modules/@pulumi/pulumi"].version!;
}

function engineModule(): string {
  const gomod = readFileSync(path.join(ROOT, "tools/engine/go.mod"), "utf8");
  const pkg = /^\s*github\.com\/pulumi\/pulumi\/pkg\/v3 (v\S+)/m.exec(gomod)?.[1];
  const sdk = /^\s*github\.com\/pulumi\/pulumi\/sdk\/v3 (v\S+)/m.exec(gomod)?.[1];
  expect(sdk, "tools/engine/go.mod requires pkg/v3 and sdk/v3 at one version").toBe(pkg);
  return pkg!;
}

describe("the Pulumi engine and SDK versions", () => {
  it("tools/engine/go.mod builds the minor release of the locked @pulumi/pulumi, which node_modules holds", () => {
    expect(minor(engineModule())).toBe(minor(lockedSdk()));
    expect((require("@pulumi/pulumi/package.json") as { version: string }).version).toBe(lockedSdk());
  });

  const unavailable = engineUnavailable();
  if (unavailable) console.log(`skipping the built engine's version check: ${unavailable}`);
  it.skipIf(!!unavailable)("the built CLI reports that release", () => {
    const r = spawnSync(path.join(engineBinDir(), "pulumi"), ["version"], { encoding: "utf8", env: { ...process.env, PULUMI_SKIP_UPDATE_CHECK: "true" } });
    expect(r.status, r.stderr).toBe(0);
    expect(minor(r.stdout.trim())).toBe(minor(lockedSdk()));
  });
});

describe("the Pulumi Kubernetes SDK and provider versions", () => {
  it("the locked @pulumi/kubernetes is the provider release scripts/kube.sh builds: the engine is asked for the provider it runs", () => {
    const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string }> };
    const built = /^provider_version=(\S+)$/m.exec(readFileSync(path.join(ROOT, "scripts/kube.sh"), "utf8"))?.[1];
    expect(built).toMatch(/^\d+\.\d+\.\d+$/);
    expect(lock.packages["node_modules/@pulumi/kubernetes"].version).toBe(built);
    expect(
      (JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies["@pulumi/kubernetes"],
    ).toBe(built);
  });
});
