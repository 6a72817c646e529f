// Every mistake a user can make on the command line: one line naming the input and the fix, the
// exit code of the shared table (2: invalid input), no stack trace, and nothing changed.
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT, main } from "../../../cli/main";
import { tempDir } from "../../../testing/tmp";

const ROOT = path.resolve(__dirname, "../../..");

async function run(args: string[], env: Record<string, string | undefined> = {}) {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  for (const [k, v] of Object.entries(env))
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  const out: string[] = [];
  const err: string[] = [];
  try {
    const code = await main(args, { out: (s) => out.push(s), err: (s) => err.push(s) });
    return { code, out: out.join("\n"), err: err.join("\n") };
  } finally {
    for (const [k, v] of Object.entries(saved))
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
  }
}

describe("bad input on every command: exit 2, one line naming the input, no trace", () => {
  const dir = tempDir("errors-");
  const notJson = path.join(dir, "acl.json");
  writeFileSync(notJson, "{ not json");
  const badPolicy = path.join(dir, "policy.json");
  writeFileSync(badPolicy, JSON.stringify({ "no-such-rule": "mandatory" }));
  const customerFile = path.join(dir, "acme.yaml");
  writeFileSync(customerFile, "id: acme\nname: Acme again\ntier: standard\nlicense: { expires: '2099-12-31' }\n");
  const key = path.join(dir, "missing.pem");
  const roster = path.join(ROOT, "customers", "roster.yaml");
  const broker = (extra: string[]) => [
    "broker",
    "--roster",
    roster,
    "--listen",
    "127.0.0.1:0",
    "--key",
    key,
    "--cert",
    key,
    "--service",
    "s",
    "--issuer",
    "i",
    ...extra,
  ];

  const cases: [string, string[], RegExp, Record<string, string | undefined>?][] = [
    ["plan: unknown stack", ["plan", "--stack", "nope"], /Pulumi\.nope\.yaml: no such stack file \(stacks here: dev, prod\)/],
    ["plan: project without Pulumi.yaml", ["plan", "--project", dir], /is not a Pulumi project folder \(no Pulumi\.yaml\)/],
    ["plan: bad policy config", ["plan", "--policy-config", badPolicy], /no-such-rule/],
    ["plan: --base not a commit", ["plan", "--base", "no-such-ref-anywhere"], /^error: --base no-such-ref-anywhere: not a commit of the git repository/],
    ["shards: --base not a commit", ["shards", "--stack", "prod", "--base", "no-such-ref-anywhere"], /^error: --base no-such-ref-anywhere: not a commit/],
    ["plan: --policy-config not JSON", ["plan", "--policy-config", notJson], /acl\.json: not valid JSON at line 1, column 3$/],
    ["plan: --kept missing", ["plan", "--kept", path.join(dir, "none.json")], /--kept .*cannot read it \(ENOENT\)/],
    ["token: unknown customer", ["token", "--customer", "nosuch", "--kind", "ecr"], /--customer: nosuch is not in/],
    ["token: unknown kind", ["token", "--customer", "acme", "--kind", "quay"], /--kind.*must be one of ghcr, ecr, acr, gar, distribution/],
    [
      "token: GHCR without its token variable",
      ["token", "--customer", "acme", "--kind", "ghcr"],
      /INTAKE_GHCR_TOKEN_ACME/,
      { INTAKE_GHCR_TOKEN_ACME: undefined },
    ],
    // No cloud credentials anywhere (and no metadata server asked: nothing leaves loopback).
    [
      "token: ECR without AWS credentials",
      ["token", "--customer", "acme", "--kind", "ecr"],
      /^error: ecr: no AWS credentials found: set AWS_PROFILE/,
      {
        HOME: dir,
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_PROFILE: undefined,
        AWS_ACCESS_KEY_ID: undefined,
        AWS_SECRET_ACCESS_KEY: undefined,
        AWS_SESSION_TOKEN: undefined,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: undefined,
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: undefined,
        AWS_WEB_IDENTITY_TOKEN_FILE: undefined,
        AWS_SHARED_CREDENTIALS_FILE: undefined,
        AWS_CONFIG_FILE: undefined,
      },
    ],
    [
      "token: Artifact Registry without Google credentials",
      ["token", "--customer", "acme", "--kind", "gar"],
      /^error: gar: no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS/,
      { HOME: dir, METADATA_SERVER_DETECTION: "none", GOOGLE_APPLICATION_CREDENTIALS: undefined, CLOUDSDK_CONFIG: dir },
    ],
    [
      "deliver: unknown customer",
      ["deliver", "--source", `reg.example.com/app@sha256:${"a".repeat(64)}`, "--build", "app", "--version", "1.0.0", "--customer", "nosuch"],
      /--customer: nosuch is not in/,
    ],
    ["deliver: bad source", ["deliver", "--source", "not a ref", "--build", "app", "--version", "1.0.0", "--customer", "acme"], /--source: /],
    [
      "deliver: distribution without the robot's password",
      [
        "deliver",
        "--source",
        `reg.example.com/app@sha256:${"a".repeat(64)}`,
        "--build",
        "app",
        "--version",
        "1.0.0",
        "--customer",
        "acme",
        "--kind",
        "distribution",
        "--tool",
        "skopeo",
      ],
      /INTAKE_DELIVERY_PASSWORD .*or pass --key/,
      { INTAKE_DELIVERY_PASSWORD: undefined },
    ],
    ["broker: missing key file", broker(["--acl", notJson]), /missing\.pem/],
    ["broker: bad ttl", broker(["--acl", notJson, "--ttl", "5"]), /--ttl.*from 60 to 3600/],
    ["shards: --init without --platform-stack", ["shards", "--stack", "prod", "--init"], /--init needs --platform-stack/],
    ["shards: --check with --init", ["shards", "--stack", "prod", "--check", "--init"], /--check goes alone/],
    ["audit: missing export", ["policy", "audit", "--stack-export", path.join(dir, "none.json")], /none\.json.*cannot read/],
    [
      "onboard: an id already in the roster (before any Pulumi CLI check)",
      ["onboard", "--file", customerFile, "--stack", "dev"],
      /customer acme is already in the roster/,
      { PATH: "/nonexistent" },
    ],
    ["onboard: unknown stack", ["onboard", "--file", customerFile, "--stack", "nope"], /no such stack file/, { PATH: "/nonexistent" }],
    ["offboard: unknown customer", ["offboard", "--customer", "nosuch", "--stack", "dev"], /customer nosuch is not in/, { PATH: "/nonexistent" }],
    ["verify: no customers named", ["verify", "--stack", "dev"], /name the customers: --customer ID\[,ID\.\.\.\] or --all/],
    ["verify: both --customer and --all", ["verify", "--customer", "acme", "--all"], /--customer and --all: use one, not both/],
    [
      "verify: a customer without the kind (nothing would be checked)",
      ["verify", "--customer", "initech", "--kind", "ecr"],
      /--customer: initech holds no ecr on stack dev; nothing to verify/,
    ],
    ["verify: unknown customer", ["verify", "--customer", "nosuch"], /--customer: nosuch is not in/],
    ["verify: bad kind", ["verify", "--customer", "acme", "--kind", "quay"], /must be one of ghcr, ecr, acr, gar, distribution/],
  ];

  it.each(cases)("%s", async (_what, args, message, env) => {
    const before = readFileSync(roster, "utf8");
    const r = await run(args, env);
    expect(r.code, `${r.err}\n${r.out}`).toBe(EXIT.invalidInput);
    const lines = r.err.split("\n").filter((l) => l.trim() && !/^(Usage|Run|\(add --help|intake )/.test(l));
    expect(lines[0]).toMatch(message);
    expect(r.err).not.toMatch(/\n\s+at .+\(.+:\d+:\d+\)/);
    expect(readFileSync(roster, "utf8")).toBe(before);
  });
});

describe("a delivery the license refuses", () => {
  it("exits 3 with the reason, needs no robot password and reads nothing from the source", async () => {
    const r = await run(
      [
        "deliver",
        "--source",
        `reg.example.com/app@sha256:${"a".repeat(64)}`,
        "--build",
        "app",
        "--version",
        "1.0.0",
        "--customer",
        "initech",
        "--kind",
        "distribution",
        "--tool",
        "skopeo",
      ],
      { INTAKE_DELIVERY_PASSWORD: undefined },
    );
    expect(r.code, r.err).toBe(EXIT.denied);
    expect(r.out).toMatch(/^denied\s+distribution initech\s+\S+\n\s+customer initech is on tier standard/m);
    expect(r.err).not.toMatch(/could not be read|INTAKE_DELIVERY_PASSWORD/);
  });
});
