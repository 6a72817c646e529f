// The program on the real Pulumi engine: `pulumi preview` / `pulumi up` of the dev and prod
// stacks with the policy pack, a planted violation, the audit of a real stack export, and the
// offline plan's fidelity to what the engine previews.
import { readFileSync, writeFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineProject, engineUnavailable, ok } from "../../testing/engine";
import { kubeUnavailable, projectOnCluster } from "../../testing/kube";

const unavailable = engineUnavailable();
if (unavailable) console.log(`skipping the real-engine tests: ${unavailable}`);
const noKube = unavailable ? undefined : kubeUnavailable();
if (noKube) console.log(`the stack tests run Kubernetes on the local stand-in: ${noKube}`);

/** A scratch project on a local cluster of its own (real API server and provider), for a describe block. */
function onCluster(): { get p(): EngineProject } {
  let at: Awaited<ReturnType<typeof projectOnCluster>> | undefined;
  beforeAll(async () => {
    at = await projectOnCluster();
  }, 300_000);
  afterAll(async () => at?.stop(), 60_000);
  return {
    get p() {
      return at!.p;
    },
  };
}

/** Resources of a `pulumi preview --json`: URN → step. */
function previewSteps(json: string): Map<string, { op: string; type: string; parent?: string; inputs: Record<string, unknown> }> {
  const doc = JSON.parse(json) as { steps?: { op: string; urn: string; newState?: { type: string; parent?: string; inputs?: Record<string, unknown> } }[] };
  return new Map(
    (doc.steps ?? []).map((s) => [
      s.urn,
      { op: s.op, type: s.newState?.type ?? "", parent: s.newState?.parent || undefined, inputs: s.newState?.inputs ?? {} },
    ]),
  );
}

/** Mandatory policy violations in the engine's output ("mandatory" lines of the Policies section). */
function mandatory(out: string): string[] {
  return out.split("\n").filter((l) => /\[mandatory\]/.test(l));
}

describe.skipIf(!!unavailable).each(["dev", "prod"])("the %s stack on the real engine", (stack) => {
  const at = onCluster();
  let p: EngineProject;
  beforeAll(async () => {
    p = at.p;
    await p.initStack(stack);
  }, 120_000);

  it("previews and applies with the policy pack and no violation; a second preview changes nothing", async () => {
    const preview = ok(await p.pulumi(["preview", "--policy-pack", "policy", "--stack", stack]), "pulumi preview");
    expect(preview.stdout).toMatch(/Loading policy packs/);
    expect(mandatory(preview.stdout)).toEqual([]);
    expect(preview.stdout).toMatch(/\+ \d+ to create/);
    const up = ok(await p.pulumi(["up", "--yes", "--policy-pack", "policy", "--stack", stack]), "pulumi up");
    expect(up.stdout).toMatch(/\+ \d+ created/);
    expect(up.stdout).not.toMatch(/Undefined value/);
    ok(await p.pulumi(["preview", "--expect-no-changes", "--policy-pack", "policy", "--stack", stack]), "pulumi preview --expect-no-changes");
  }, 300_000);

  it("its stack export passes `intake policy audit`; a foreign ARN planted in it is caught", async () => {
    const exported = ok(await p.pulumi(["stack", "export", "--stack", stack, "--file", p.file("export.json")]), "pulumi stack export");
    expect(exported.code).toBe(0);
    const clean = await p.intake(["policy", "audit", "--project", p.dir, "--stack-export", p.file("export.json")]);
    expect(clean.stderr).toBe("");
    expect(clean.code).toBe(0);
    const doc = JSON.parse(readFileSync(p.file("export.json"), "utf8"));
    const policy = doc.deployment.resources.find((r: { type: string; urn: string }) => r.type === "aws:iam/userPolicy:UserPolicy" && r.urn.includes("acme"));
    // acme's user policy now also reaches globex's repository.
    expect(policy.inputs.policy).toContain(":repository/intake/acme/*");
    policy.inputs.policy = policy.inputs.policy.replace(":repository/intake/acme/*", ":repository/intake/globex/*");
    writeFileSync(p.file("export-planted.json"), JSON.stringify(doc));
    const caught = await p.intake(["policy", "audit", "--project", p.dir, "--stack-export", p.file("export-planted.json")]);
    expect(caught.code).toBe(1);
    expect(caught.stdout).toMatch(/grants-confined-to-customer/);
  }, 120_000);
});

describe.skipIf(!!unavailable)("the committed stack files on a new stack", () => {
  it.each(["dev", "prod"])(
    "%s: `pulumi stack init` with a passphrase, then every config value reads (nothing a new secrets provider cannot decrypt)",
    async (stack) => {
      const p = new EngineProject();
      try {
        ok(await p.pulumi(["stack", "init", stack]), "pulumi stack init");
        const r = await p.pulumi(["config", "--show-secrets", "--json", "--stack", stack]);
        expect(r.stderr).not.toMatch(/decrypt/);
        expect(r.code).toBe(0);
        expect(Object.keys(JSON.parse(r.stdout))).toContain("registry-intake:environment");
      } finally {
        p.remove();
      }
    },
    60_000,
  );
});

describe.skipIf(!!unavailable)("the policy pack as the engine runs it", () => {
  const at = onCluster();
  let p: EngineProject;
  beforeAll(async () => {
    p = at.p;
    await p.initStack("dev");
  }, 120_000);

  it("a resource that breaks a tier fails the preview with the rule's name", async () => {
    // A program variant: one more repository, labelled for initech, whose tier (standard) has no ECR.
    const index = readFileSync(p.file("index.ts"), "utf8");
    p.write(
      "index.ts",
      `${index}\nimport * as aws from "@pulumi/aws";\nnew aws.ecr.Repository("planted", { name: "intake/initech/planted", tags: { "intake-customer": "initech", "intake-tier": "standard", "managed-by": "registry-intake" } });\n`,
    );
    const r = await p.pulumi(["preview", "--policy-pack", "policy", "--stack", "dev"]);
    expect(r.code).not.toBe(0);
    expect(r.stdout).toMatch(/tier-allows-kind/);
    expect(mandatory(r.stdout).join("\n")).toMatch(/tier-allows-kind/);
    p.write("index.ts", index);
  }, 300_000);

  it("the offline plan declares exactly what the engine previews: URNs, types, parents and inputs", async () => {
    /** The engine's stand-in for a value not known at preview. */
    const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    /** `v` with the engine's unknowns in place, wherever `e` (the engine's view) holds one, nested too. */
    const unknownWhere = (e: unknown, v: unknown): unknown => {
      if (e === UNKNOWN) return UNKNOWN;
      if (Array.isArray(e) && Array.isArray(v)) return v.map((x, i) => unknownWhere(e[i], x));
      if (e && v && typeof e === "object" && typeof v === "object")
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unknownWhere((e as Record<string, unknown>)[k], x)]));
      return v;
    };
    const preview = ok(await p.pulumi(["preview", "--json", "--stack", "dev"]), "pulumi preview --json");
    const steps = previewSteps(preview.stdout);
    const planFile = p.file("plan.json");
    ok(await p.intake(["plan", "--project", p.dir, "--stack", "dev", "--json", planFile]), "intake plan");
    const plan = JSON.parse(readFileSync(planFile, "utf8")) as { resources: { urn: string; type: string; parent?: string; inputs: Record<string, unknown> }[] };
    // Providers, the stack and reads (the stack's StackReference to its own kept list) are not resources the plan lists.
    const engineUrns = [...steps.keys()]
      .filter(
        (u) =>
          !u.includes("::pulumi:providers:") && !u.endsWith("::pulumi:pulumi:Stack::registry-intake-dev") && !u.includes("::pulumi:pulumi:StackReference::"),
      )
      .sort();
    const planUrns = plan.resources.map((r) => r.urn).sort();
    expect(planUrns).toEqual(engineUrns);
    for (const r of plan.resources) {
      const s = steps.get(r.urn)!;
      expect(s.type, r.urn).toBe(r.type);
      if (r.parent) expect(s.parent, r.urn).toBe(r.parent);
      // The inputs the plan shows: every plain (known, not secret) value the engine saw too.
      for (const [k, v] of Object.entries(r.inputs)) {
        if (v === "[secret]" || v === undefined || JSON.stringify(v).includes("[secret]")) continue;
        const e = s.inputs[k];
        if (e === UNKNOWN) continue; // unknown at preview
        expect({ [k]: normal(e) }, r.urn).toEqual({ [k]: normal(unknownWhere(e, v)) });
      }
    }
  }, 300_000);

  it("with a product catalogue: the engine previews the repositories the plan declares, and a planted repository of a product not entitled fails with entitled-products-only", async () => {
    const files = ["index.ts", "Pulumi.dev.yaml", "customers/roster.yaml"].map((f) => [f, readFileSync(p.file(f), "utf8")] as const);
    try {
      const doc = parse(files[1][1]) as { config: Record<string, unknown> };
      doc.config["registry-intake:products"] = { app: { repositories: ["app", "cli"] }, tools: { repositories: ["tools"] } };
      p.write("Pulumi.dev.yaml", stringify(doc));
      p.write(
        "customers/roster.yaml",
        stringify({
          customers: [
            {
              id: "acme",
              name: "Acme",
              tier: "enterprise",
              license: { expires: "2099-12-31" },
              entitlements: [{ product: "app" }],
              kubernetes: { namespace: "acme-apps" },
            },
          ],
        }),
      );
      const preview = ok(await p.pulumi(["preview", "--json", "--policy-pack", "policy", "--stack", "dev"]), "pulumi preview --json with a catalogue");
      const repos = (steps: Map<string, { type: string; inputs: Record<string, unknown> }>) =>
        [...steps.values()]
          .filter((s) => s.type === "aws:ecr/repository:Repository")
          .map((s) => s.inputs.name)
          .sort();
      const planFile = p.file("plan-products.json");
      ok(await p.intake(["plan", "--project", p.dir, "--stack", "dev", "--json", planFile]), "intake plan with a catalogue");
      const plan = JSON.parse(readFileSync(planFile, "utf8")) as { resources: { type: string; inputs: Record<string, unknown> }[]; violations: unknown[] };
      expect(repos(previewSteps(preview.stdout))).toEqual(["intake/acme/app/app", "intake/acme/app/cli"]);
      expect(
        plan.resources
          .filter((r) => r.type === "aws:ecr/repository:Repository")
          .map((r) => r.inputs.name)
          .sort(),
      ).toEqual(["intake/acme/app/app", "intake/acme/app/cli"]);
      expect(plan.violations).toEqual([]);
      p.write(
        "index.ts",
        `${files[0][1]}\nimport * as aws from "@pulumi/aws";\nnew aws.ecr.Repository("planted", { name: "intake/acme/tools/tools", imageScanningConfiguration: { scanOnPush: true }, tags: { "intake-customer": "acme", "intake-tier": "enterprise", "managed-by": "registry-intake" } }, { retainOnDelete: true });\n`,
      );
      const r = await p.pulumi(["preview", "--policy-pack", "policy", "--stack", "dev"]);
      expect(r.code).not.toBe(0);
      expect(mandatory(r.stdout).join("\n")).toMatch(/entitled-products-only/);
      expect(r.stdout).toMatch(/product tools, which customer acme is not entitled to \(entitled: app\)/);
    } finally {
      for (const [f, text] of files) p.write(f, text);
    }
  }, 300_000);
});

/** Inputs compared as the engine serialises them: no undefined members, secrets unwrapped. */
function normal(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normal);
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    if (o["4dabf18193072939515e22adb298388d"] === "1b47061264138c4ac30d75fd1eb44270") return "[secret]";
    return Object.fromEntries(
      Object.entries(o)
        .filter(([, x]) => x !== undefined)
        .map(([k, x]) => [k, normal(x)]),
    );
  }
  return v;
}

describe.skipIf(!!unavailable)("a second stack copied from dev, in the same account", () => {
  const at = onCluster();
  let p: EngineProject;
  beforeAll(async () => {
    p = at.p;
    await p.initStack("dev");
    ok(await p.pulumi(["up", "--yes", "--stack", "dev"]), "pulumi up dev");
    p.write("Pulumi.staging.yaml", readFileSync(p.file("Pulumi.dev.yaml"), "utf8"));
    await p.initStack("staging");
  }, 300_000);

  it("its preview refuses the names dev holds, as its up would, and names the fix; its own repoPrefix and registry name preview clean", async () => {
    const refused = await p.pulumi(["preview", "--stack", "staging"]);
    expect(refused.code).not.toBe(0);
    const out = refused.stdout + refused.stderr;
    expect(out).toMatch(
      /AlreadyExists: \S+ \S+ exists in the cloud \(kept, or another stack's in this account: give each stack its own repoPrefix and registry names\)/,
    );
    // Nothing was made: an up refuses the same way.
    const up = await p.pulumi(["up", "--yes", "--stack", "staging"]);
    expect(up.code).not.toBe(0);
    expect(up.stdout + up.stderr).toMatch(/AlreadyExists/);
    ok(await p.pulumi(["config", "set", "registry-intake:repoPrefix", "staging", "--stack", "staging"]), "pulumi config set");
    // ACR names are global: the registry is named in the stack's settings, not by the prefix.
    ok(await p.pulumi(["config", "set", "--path", "registry-intake:acr.registryName", "intakestagingregistry", "--stack", "staging"]), "pulumi config set");
    const own = ok(await p.pulumi(["preview", "--stack", "staging"]), "pulumi preview with its own repoPrefix");
    expect(own.stdout).toMatch(/\+ \d+ to create/);
  }, 300_000);

  it("a bad setting is the CLI's one line under the engine: no unhandled exception, no stack trace", async () => {
    ok(await p.pulumi(["config", "set", "registry-intake:repoPrefix", "Bad Prefix!", "--stack", "staging"]), "pulumi config set");
    const r = await p.pulumi(["preview", "--stack", "staging"]);
    expect(r.code).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/error: .*repoPrefix.*"Bad Prefix!"/);
    expect(out).not.toMatch(/unhandled exception|SettingsError|\n\s+at /);
  }, 120_000);
});
