import { spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { main } from "../../../cli/main";
import { customer, rosterYaml, withStackSecrets } from "../../../testing/helpers";
import { tempDir } from "../../../testing/tmp";

const ROOT = path.resolve(__dirname, "../../..");

async function run(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

function tmp(): string {
  return tempDir("intake-cli-");
}

/** A copy of the project's stack files in a scratch folder, to edit. */
function scratchProject(): string {
  const dir = tmp();
  cpSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
  for (const f of ["Pulumi.dev.yaml", "Pulumi.prod.yaml"]) writeFileSync(path.join(dir, f), withStackSecrets(readFileSync(path.join(ROOT, f), "utf8")));
  cpSync(path.join(ROOT, "customers", "roster.yaml"), path.join(dir, "customers", "roster.yaml"));
  return dir;
}

describe("intake plan", () => {
  it("plans the dev stack and the default roster with no flags, every customer listed", async () => {
    const r = await run(["plan", "--project", ROOT]);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Plan for stack dev \(roster customers\/roster\.yaml; licenses judged as of \d{4}-\d{2}-\d{2}\)/);
    for (const id of ["acme", "globex", "initech", "umbrella", "hooli", "soylent"]) expect(r.out).toMatch(new RegExp(`^${id}  `, "m"));
    expect(r.out).toMatch(/aws:ecr\/Repository\s+3\s+intake\/acme\/app, \+2 more {2}\[all kept on delete\]/);
    // Every line but the warnings fits 120 columns; what does not fit is counted.
    expect(r.out.split("\n").filter((l) => !l.startsWith("warning:") && l.length > 120)).toEqual([]);
    expect(r.out).toContain("intake-customer-umbrella (Inactive)");
    expect(r.out).toContain("Policy: no violations.");
  });

  it("--json writes the documented shape; --markdown a PR summary", async () => {
    const dir = tmp();
    const json = path.join(dir, "plan.json");
    const mdFile = path.join(dir, "sub", "plan.md");
    const r = await run(["plan", "--project", ROOT, "--stack", "prod", "--json", json, "--markdown", mdFile]);
    expect(r.code).toBe(0);
    const plan = JSON.parse(readFileSync(json, "utf8"));
    expect(Object.keys(plan)).toEqual(expect.arrayContaining(["stack", "customers", "resources", "violations"]));
    expect(plan.stack).toBe("prod");
    expect(plan.violations).toEqual([]);
    expect(plan.customers.find((c: { id: string }) => c.id === "acme")).toMatchObject({
      id: "acme",
      tier: "enterprise",
      status: "active",
      registries: ["ghcr", "ecr", "acr", "gar", "distribution"],
    });
    expect(plan.customers.find((c: { id: string }) => c.id === "hooli")).toMatchObject({ status: "suspended", reason: "license expired on 2026-01-31" });
    for (const res of plan.resources) expect(Object.keys(res)).toEqual(expect.arrayContaining(["urn", "type", "name", "parent", "customer", "inputs"]));
    const repo = plan.resources.find((r: { inputs: { name?: string } }) => r.inputs.name === "intake/acme/app");
    expect(repo).toMatchObject({ type: "aws:ecr/repository:Repository", customer: "acme" });
    expect(repo.inputs.imageTagMutability).toBe("IMMUTABLE_WITH_EXCLUSION"); // prod: all but latest and sha256-*
    expect(repo.urn).toMatch(/^urn:pulumi:prod::registry-intake::/);
    const md = readFileSync(mdFile, "utf8");
    expect(md).toContain("### registry-intake plan: stack `prod`");
    expect(md).toMatch(/\| `hooli` \| enterprise \| suspended: license expired on 2026-01-31 \|/);
  });

  it("a bad roster exits 2 naming file, customer and field, and writes nothing", async () => {
    const dir = tmp();
    const roster = path.join(dir, "bad.yaml");
    writeFileSync(roster, rosterYaml([customer("initech", "standard", { registries: ["ecr"] })]));
    const json = path.join(dir, "plan.json");
    const r = await run(["plan", "--project", ROOT, "--roster", roster, "--json", json]);
    expect(r.code).toBe(2);
    expect(r.out).toBe("");
    expect(r.err).toMatch(/bad\.yaml:\d+:\d+: customer initech field registries\.0: "ecr" is outside tier standard, which allows only ghcr/);
    expect(existsSync(json)).toBe(false);
  });

  it("an unknown stack exits 2 and lists the stacks there are", async () => {
    const r = await run(["plan", "--project", ROOT, "--stack", "staging"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("Pulumi.staging.yaml: no such stack file");
    expect(r.err).toContain("no such stack file (stacks here: dev, prod)");
  });

  it("bad flags exit 2 with the flag named", async () => {
    const a = await run(["plan", "--bogus"]);
    expect(a.code).toBe(2);
    expect(a.err).toContain("unknown option '--bogus'");
    const b = await run(["plan", "--stack", "../etc"]);
    expect(b.code).toBe(2);
    expect(b.err).toContain("a stack name holds only letters, digits");
  });

  it("refuses a stack file that holds a credential in plain text, and one with a misspelt setting", async () => {
    const dir = scratchProject();
    const file = path.join(dir, "Pulumi.dev.yaml");
    const original = readFileSync(file, "utf8");
    writeFileSync(file, original.replace(/github:token:\n\s+secure: \S+/, "github:token: ghp_plaintexttoken"));
    const a = await run(["plan", "--project", dir]);
    expect(a.code).toBe(2);
    expect(a.err).toContain("github:token: holds a credential in plain text; set it with `pulumi config set --secret github:token`");
    expect(a.err).not.toContain("ghp_plaintexttoken");
    writeFileSync(file, original.replace("registry-intake:repoPrefix: intake", "registry-intake:repoPrefx: intake"));
    const b = await run(["plan", "--project", dir]);
    expect(b.code).toBe(2);
    // Each problem names its line in the stack file.
    const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;
    expect(b.err).toMatch(
      new RegExp(
        `Pulumi\\.dev\\.yaml:${lineOf(original, "registry-intake:repoPrefix")}:\\d+: registry-intake:repoPrefx: unknown setting \\(did you mean registry-intake:repoPrefix\\?\\)`,
      ),
    );
    writeFileSync(file, original.replace(/acme:\n\s+secure: \S+/, "acme: ghp_plainpat"));
    const d = await run(["plan", "--project", dir]);
    expect(d.code).toBe(2);
    expect(d.err).toContain("registry-intake:ghcr.machineUserTokens: holds credentials in plain text");
    expect(d.err).not.toContain("ghp_plainpat");
    writeFileSync(file, original.replace('accountId: "111122223333"', "accountId: 1111"));
    const c = await run(["plan", "--project", dir]);
    expect(c.code).toBe(2);
    expect(c.err).toContain(`Pulumi.dev.yaml:${lineOf(original, "accountId:")}:`);
    expect(c.err).toContain("registry-intake:aws.accountId: must be a string, got number 1111");
    // A YAML syntax error: its line and column, and no dangling "at line ..." of the library's own.
    writeFileSync(file, original.replace("registry-intake:repoPrefix: intake", "registry-intake:repoPrefix: [intake"));
    const e = await run(["plan", "--project", dir]);
    expect(e.code).toBe(2);
    expect(e.err.split("\n")).toHaveLength(1);
    expect(e.err).toMatch(new RegExp(`Pulumi\\.dev\\.yaml:${lineOf(original, "registry-intake:repoPrefix")}:\\d+: YAML syntax: `));
    expect(e.err).not.toMatch(/at line \d+, column \d+/);
  });

  it("never prints a secure: value of the stack file", async () => {
    const project = scratchProject();
    const stackFile = readFileSync(path.join(project, "Pulumi.dev.yaml"), "utf8");
    const cipher = /secure: (\S+)/.exec(stackFile)![1];
    const dir = tmp();
    const r = await run(["plan", "--project", project, "--json", path.join(dir, "p.json"), "--markdown", path.join(dir, "p.md")]);
    expect(r.code).toBe(0);
    for (const text of [r.out, readFileSync(path.join(dir, "p.json"), "utf8"), readFileSync(path.join(dir, "p.md"), "utf8")])
      expect(text).not.toContain(cipher);
  });

  it("the installed `intake` command runs end to end from the project folder", () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "cli", "bin", "intake.js"), "plan", "--stack", "prod"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Plan for stack prod");
  });

  it("a missing Google credential is one line: no MetadataLookupWarning from the credential discovery on stderr", () => {
    const home = tmp();
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    delete env.GOOGLE_APPLICATION_CREDENTIALS;
    delete env.CLOUDSDK_CONFIG;
    // Every kind of the dev stack, none with a credential here: no registry asked, so nothing is
    // proven (exit 2), in one line on stderr, with no warning beside it.
    const r = spawnSync(process.execPath, [path.join(ROOT, "cli", "bin", "intake.js"), "verify", "--all"], {
      cwd: ROOT,
      encoding: "utf8",
      timeout: 60_000,
      env,
    });
    expect(r.stderr.trimEnd().split("\n")).toEqual([
      expect.stringMatching(
        /^error: nothing could be verified at a registry: 8 licensed pair\(s\) skipped: .*gar: no Google credentials found|^error: nothing could be verified at a registry: 8 licensed pair\(s\) skipped: /,
      ),
    ]);
    expect(r.stderr).not.toMatch(/MetadataLookupWarning/);
    expect(r.status).toBe(2);
  });

  it("the credential helper and the CLI's entry load neither the Pulumi SDK nor the program until a command needs them", () => {
    // docker runs the credential helper for every pull and push; `intake token` and `intake
    // deliver` are called from scripts. Only plan, audit, onboard and offboard load the SDK.
    const script = `import("tsx").then(() => {
      require("./cli/credential-helper.ts");
      require("./cli/main.ts");
      const files = Object.keys(require.cache);
      console.log(JSON.stringify({
        heavy: files.filter((f) => /node_modules[\\/]@pulumi[\\/]/.test(f) || /[\\/](program|automation[\\/]onboard)\\.ts$/.test(f)),
        ours: files.filter((f) => /[\\/]cli[\\/]options\\.ts$|disk-cache\\.ts$/.test(f)).length,
      }));
    });`;
    const r = spawnSync(process.execPath, ["-e", script], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.stderr).toBe("");
    const loaded = JSON.parse(r.stdout) as { heavy: string[]; ours: number };
    expect(loaded.ours).toBe(2); // the probe does see the project's own modules
    expect(loaded.heavy).toEqual([]);
  });
});

describe("a broken stack file", () => {
  it("is named as the user would type it from where intake runs (relative below it), with line and column", () => {
    const dir = scratchProject();
    writeFileSync(path.join(dir, "Pulumi.dev.yaml"), `${readFileSync(path.join(dir, "Pulumi.dev.yaml"), "utf8")}  registry-intake:repoPrefix: [oops\n`);
    const r = spawnSync(process.execPath, [path.join(ROOT, "cli", "bin", "intake.js"), "plan", "--stack", "dev"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: Pulumi\.dev\.yaml:\d+:\d+: YAML syntax: /);
    expect(r.stderr).not.toContain(dir);
  });
});

describe("a mistyped option", () => {
  it("is named, with the option meant, before any complaint about a required one; exit 2", async () => {
    const err: string[] = [];
    const io = { out: () => {}, err: (s: string) => err.push(s) };
    expect(await main(["deliver", "--sorce", "ghcr.io/a/b:1", "--build", "app", "--version", "1.0.0"], io)).toBe(2);
    expect(err.join("\n")).toMatch(/^error: unknown option '--sorce'\n\(Did you mean --source\?\)/);
    expect(err.join("\n")).not.toMatch(/not specified/);
    err.length = 0;
    expect(await main(["policy", "audit", "--stak=dev"], io)).toBe(2);
    expect(err.join("\n")).toMatch(/unknown option '--stak'\n\(Did you mean --stack\?\)/);
  });
});

describe("intake --version and --help", () => {
  it("prints the package version, and the exit codes and environment variables after the help", async () => {
    const out: string[] = [];
    const io = { out: (s: string) => out.push(s), err: (s: string) => out.push(s) };
    expect(await main(["--version"], io)).toBe(0);
    expect(out).toEqual([JSON.parse(readFileSync(path.join(__dirname, "../../..", "package.json"), "utf8")).version]);
    out.length = 0;
    expect(await main(["--help"], io)).toBe(0);
    const help = out.join("\n");
    expect(help).toMatch(/Exit codes \(every command\):\n\s+0\s+done[\s\S]*\n\s+2\s+invalid input/);
    expect(help).toMatch(/INTAKE_GHCR_TOKEN_<ID>[\s\S]*INTAKE_DELIVERY_PASSWORD/);
  });

  it("a command's --help marks the options it cannot run without, and only those", async () => {
    const out: string[] = [];
    expect(await main(["deliver", "--help"], { out: (s: string) => out.push(s), err: (s: string) => out.push(s) })).toBe(0);
    const options = out
      .join("\n")
      .split(/\n(?= {2}-)/)
      .filter((o) => o.startsWith("  -"));
    const required = options.filter((o) => /\(required\)\s*$/.test(o)).map((o) => o.trim().split(/[ ,]/)[0]);
    // --build and --customer are required only without --product (their help says so).
    expect(required).toEqual(["--source", "--version"]);
  });

  it("names every INTAKE_ and REGISTRY_ variable the intake commands read (the credential helper's own are in its --help)", async () => {
    const out: string[] = [];
    expect(await main(["--help"], { out: (s: string) => out.push(s), err: (s: string) => out.push(s) })).toBe(0);
    const help = out.join("\n");
    const root = path.join(__dirname, "../../..");
    const helperOnly = new Set(["INTAKE_CUSTOMER", "INTAKE_STACK", "INTAKE_PROJECT"]);
    const read = new Set<string>();
    for (const dir of ["cli", "runtime", "core", "kinds", "components"]) {
      for (const f of readdirSync(path.join(root, dir), { recursive: true }) as string[]) {
        if (!f.endsWith(".ts") || f.includes("credential-helper")) continue;
        const text = readFileSync(path.join(root, dir, f), "utf8");
        for (const m of text.matchAll(/env(?:\.|\[")(INTAKE_[A-Z_]+)/g)) if (!helperOnly.has(m[1])) read.add(m[1]);
        if (/`REGISTRY_\$\{/.test(text)) read.add("REGISTRY_<HOST>_USERNAME");
      }
    }
    expect(read.size).toBeGreaterThan(4);
    expect([...read].filter((v) => !help.includes(v)).sort()).toEqual([]);
  });
});
