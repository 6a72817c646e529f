import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { parseSettings, SettingsError } from "../../../core/settings";
import { engineConfig } from "../../../components/stack-settings";
import { DEFAULT_TIER_TABLE } from "../../../core/tiers";
import { currentStackSettings, readStackConfig, stackSettings } from "../../../core/stack";
import { BASE_SETTINGS, TODAY, withStackSecrets } from "../../../testing/helpers";
import { tempDir } from "../../../testing/tmp";

const ROOT = path.resolve(__dirname, "../../..");
const base = BASE_SETTINGS;

function problems(raw: Record<string, unknown>): string[] {
  try {
    parseSettings(raw, "dev", "Pulumi.dev.yaml", TODAY);
  } catch (e) {
    expect(e).toBeInstanceOf(SettingsError);
    return (e as SettingsError).problems;
  }
  throw new Error("expected the settings to be refused");
}

describe("stack settings", () => {
  it("applies defaults: every kind, prefix intake, mutable tags outside prod, today's date", () => {
    const s = parseSettings(base, "dev", "x", TODAY);
    expect(s).toMatchObject({
      repoPrefix: "intake",
      enabledKinds: ["ghcr", "ecr", "acr", "gar", "distribution"],
      tierTable: DEFAULT_TIER_TABLE,
      asOf: "2026-11-22",
      roster: "customers/roster.yaml",
      ecr: {
        immutableTags: false,
        scanOnPush: true,
        untaggedExpiryDays: 14,
        keepImages: 500,
        replicationRegions: [],
        kms: false,
        creationTemplate: true,
        blobMounting: true,
      },
    });
    expect(parseSettings({ ...base, environment: "prod" }, "prod", "x", TODAY).ecr.immutableTags).toBe(true);
  });

  it("names the key and the rule for each bad value, all at once", () => {
    expect(
      problems({
        environment: "qa",
        repoPrefix: "Intake/",
        enabledKinds: ["ecr", "quay"],
        aws: { accountId: "12345", region: "mars-1" },
        ecr: { keepImages: 0 },
        tags: { "aws:owner": "x" },
      }),
    ).toEqual([
      'registry-intake:environment: "qa" must be dev, staging or prod',
      "registry-intake:repoPrefix: \"Intake/\" must be a slug of [a-z0-9] runs joined by single '-', starting with a letter, e.g. 'intake'",
      'registry-intake:enabledKinds.1: "quay" must be one of ghcr, ecr, acr, gar, distribution',
      "registry-intake:tags.aws:owner: key \"aws:owner\": tag keys may not start with 'aws:'",
      'registry-intake:aws.accountId: "12345" must be a 12-digit AWS account id (quote it in YAML)',
      'registry-intake:aws.region: "mars-1" must be an AWS region such as eu-west-1',
      "registry-intake:ecr.keepImages: 0 is below the minimum of 1",
    ]);
  });

  it("unknown settings and a missing aws block are errors", () => {
    // A typo is told the setting it is near; anything else lists what there is.
    expect(problems({ ...base, repoPrefx: "x" })).toEqual(["registry-intake:repoPrefx: unknown setting (did you mean registry-intake:repoPrefix?)"]);
    expect(problems({ ...base, colour: "x" })).toEqual([
      "registry-intake:colour: unknown setting (known: environment, repoPrefix, enabledKinds, tags, tiers, aws, ecr, acr, gar, ghcr, distribution, deliveries, products, tierEntitlements, shard, prices, kept, pullSecrets, onboarding, asOf, roster, requireSignature)",
    ]);
    expect(problems({ ...base, ecr: { keep: 3 } })).toEqual([
      expect.stringMatching(/^registry-intake:ecr\.keep: unknown setting \(known: immutableTags, .*keepImages/),
    ]);
    expect(problems({ ...base, tierEntitlements: { platinum: [] } })).toEqual([
      "registry-intake:tierEntitlements.platinum: unknown setting (known: enterprise, professional, standard)",
    ]);
    expect(problems({ ...base, ecr: { keepImage: 3 } })).toEqual([
      "registry-intake:ecr.keepImage: unknown setting (did you mean registry-intake:ecr.keepImages?)",
    ]);
    expect(problems({ ...base, aws: undefined })).toEqual(["registry-intake:aws: is required while ecr is in enabledKinds (accountId, region)"]);
    expect(problems({ environment: "dev" })).toEqual([
      "registry-intake:aws: is required while ecr is in enabledKinds (accountId, region)",
      "registry-intake:acr: is required while acr is in enabledKinds (resourceGroupName, registryName, location)",
      "registry-intake:gar: is required while gar is in enabledKinds (project, location)",
      "registry-intake:ghcr: is required while ghcr is in enabledKinds (owner)",
      "registry-intake:distribution: is required while distribution is in enabledKinds (host)",
    ]);
    expect(() => parseSettings({ environment: "dev", enabledKinds: ["ghcr"], ghcr: { owner: "example-org" } }, "dev", "x", TODAY)).not.toThrow();
  });

  it("a tier override must name every tier and only known kinds", () => {
    expect(problems({ ...base, tiers: { enterprise: ["ecr"], standard: ["ghcr", "ftp"] } })).toEqual([
      "registry-intake:tiers.professional: is required (array)",
      'registry-intake:tiers.standard.1: "ftp" must be one of ghcr, ecr, acr, gar, distribution',
    ]);
  });

  it.each(["dev", "prod"])("Pulumi.%s.yaml reaches the program through pulumi.Config and validates, secrets kept secret", (stack) => {
    const dir = tempDir("settings-");
    writeFileSync(path.join(dir, "Pulumi.yaml"), readFileSync(path.join(ROOT, "Pulumi.yaml")));
    writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), withStackSecrets(readFileSync(path.join(ROOT, `Pulumi.${stack}.yaml`), "utf8")));
    const cfg = readStackConfig(dir, stack);
    expect(cfg.secretKeys).toContain("github:token");
    expect(cfg.config["github:token"]).toMatch(/^\[secret github:token from Pulumi\.\w+\.yaml: not decrypted offline\]$/);
    pulumi.runtime.setAllConfig(cfg.config, cfg.secretKeys);
    const s = stackSettings(dir, stack, { engineConfig: engineConfig(), today: TODAY }).settings;
    expect(s.environment).toBe(stack);
    expect(s.aws?.accountId).toMatch(/^\d{12}$/);
    expect(s.ecr.immutableTags).toBe(stack === "prod");
    expect(new pulumi.Config("github").getSecret("token")).toBeDefined();
  });
});

describe("the stack's settings in a long-running process (the broker's minting)", () => {
  it("are read once, and again when a stack file changes or the day does", () => {
    const dir = tempDir("settings-now-");
    writeFileSync(path.join(dir, "Pulumi.yaml"), readFileSync(path.join(ROOT, "Pulumi.yaml")));
    const stackFile = path.join(dir, "Pulumi.dev.yaml");
    const text = withStackSecrets(readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"));
    writeFileSync(stackFile, text);
    let now = new Date("2026-11-22T23:59:00Z");
    const settings = currentStackSettings(dir, "dev", () => now);
    const first = settings();
    expect(settings()).toBe(first);
    expect(first.asOf).toBe("2026-11-22");
    // The stack file edited: the next call has the new settings.
    writeFileSync(stackFile, text.replace(/registry-intake:repoPrefix: \S+/, "registry-intake:repoPrefix: edited"));
    const edited = settings();
    expect(edited).not.toBe(first);
    expect(edited.repoPrefix).toBe("edited");
    expect(settings()).toBe(edited);
    // Past midnight (UTC) licenses are judged as of the new day.
    now = new Date("2026-11-23T00:00:01Z");
    expect(settings().asOf).toBe("2026-11-23");
  });
});
