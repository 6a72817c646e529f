// What `npm run docs` writes (scripts/docs.ts): the JSON Schemas editors read and the reference
// pages in docs/reference/. Each committed file must be what the code generates now, so a changed
// flag, setting, roster field, exit code, environment variable or metric shows in review.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { drifted, generatedFiles } from "../../scripts/docs";
import { ENVIRONMENT } from "../../core/environment";
import { EXIT } from "../../core/errors";

const ROOT = path.resolve(__dirname, "../..");
const read = (file: string) => readFileSync(path.join(ROOT, file), "utf8");

describe("generated documentation", () => {
  const files = generatedFiles();

  it("every generated file is committed as the code generates it; a planted difference is caught", () => {
    expect(drifted()).toEqual([]);
    const planted = "docs/reference/settings.md";
    expect(drifted((f) => (f === planted ? read(f).replace("| `repoPrefix` |", "| `repo_prefix` |") : read(f)))).toEqual([planted]);
    expect(drifted((f) => (f === "core/settings.schema.json" ? undefined : read(f)))).toEqual(["core/settings.schema.json"]);
  });

  it("is tracked by git and generated the same twice", () => {
    const tracked = execFileSync("git", ["ls-files", ...Object.keys(files)], { cwd: ROOT, encoding: "utf8" })
      .split("\n")
      .filter(Boolean);
    expect(tracked.sort()).toEqual(Object.keys(files).sort());
    expect(generatedFiles()).toEqual(files);
  });

  it("the CLI page holds every command and option commander knows, the exit codes and the environment", () => {
    const cli = files["docs/reference/cli.md"];
    for (const command of ["plan", "policy audit", "broker", "usage", "token", "deliver", "shards", "onboard", "offboard", "verify", "rotate", "serve"])
      expect(cli).toContain(`## \`intake ${command}\``);
    for (const flag of ["--base", "--kept", "--metrics-listen", "--caller-tokens"]) expect(cli).toContain(flag);
    expect(cli).toContain("## `docker-credential-intake`");
    // Required options say so, as `--help` prints them.
    expect(cli).toMatch(/--acl <path>[^\n]*\n?[^\n]*\(required\)/);
    for (const code of Object.values(EXIT)) expect(files["docs/reference/exit-codes.md"]).toMatch(new RegExp(`^\\| ${code} \\|`, "m"));
    for (const v of ENVIRONMENT) expect(files["docs/reference/environment.md"]).toContain(`| \`${v.name}\` |`);
  });

  it("the field pages hold every setting and roster field, with its default and description", () => {
    const settings = files["docs/reference/settings.md"];
    expect(settings).toMatch(/^\| `ecr\.keepImages` \| integer 1–10000 \| {2}\| `500` \| At most this many images/m);
    expect(settings).toMatch(/^\| `retained` \|.*Deprecated\./m);
    expect(settings).toMatch(/^\| `ghcr\.machineUserTokens` \| map of name → string \|/m);
    const roster = files["docs/reference/roster.md"];
    expect(roster).toMatch(/^\| `customers\[\]\.tier` \| `"enterprise"` \\\| `"professional"` \\\| `"standard"` \| yes \|/m);
    expect(roster).toMatch(/^\| `customers\[\]\.entitlements\[\]\.channel` \| string \| {2}\| `"stable"` \|/m);
  });

  it("every relative link in the README, CONTRIBUTING, CHANGELOG and docs/ reaches a file", () => {
    const pages = execFileSync("git", ["ls-files", "README.md", "CONTRIBUTING.md", "CHANGELOG.md", "docs"], { cwd: ROOT, encoding: "utf8" })
      .split("\n")
      .filter((f) => f.endsWith(".md"));
    expect(pages.length).toBeGreaterThan(20);
    const broken: string[] = [];
    let links = 0;
    for (const page of pages) {
      const text = read(page).replace(/```[\s\S]*?```/g, "");
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1].split("#")[0];
        if (!target || /^[a-z]+:/.test(target)) continue;
        links++;
        if (!existsSync(path.resolve(ROOT, path.dirname(page), target))) broken.push(`${page}: ${m[1]}`);
      }
    }
    expect(links).toBeGreaterThan(100);
    expect(broken).toEqual([]);
  });

  it("the README stays a front page: at most 250 lines, a Quick start of two commands", () => {
    const readme = read("README.md");
    expect(readme.split("\n").length).toBeLessThanOrEqual(250);
    const quick = /## Quick start\n[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)![1];
    expect(
      quick
        .trim()
        .split("\n")
        .map((l) => l.replace(/\s+#.*$/, "")),
    ).toEqual(["npm ci && npx intake plan", "npm test"]);
  });

  it("the metrics page lists the broker's and the service's metrics with their labels", () => {
    const metrics = files["docs/reference/metrics.md"];
    expect(metrics).toMatch(/^\| `intake_broker_tokens_denied_total` \| counter \| `customer`, `endpoint`, `reason` \|/m);
    expect(metrics).toMatch(/^\| `intake_jobs` \| gauge \| `state`, `action` \|/m);
    expect(metrics).toMatch(/^\| `intake_broker_password_checks_pending` \| gauge \|/m);
  });
});
