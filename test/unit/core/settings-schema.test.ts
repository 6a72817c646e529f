// The stack file's JSON Schema for editors (core/settings.schema.json, generated from the settings'
// zod schema and kept in step with it by test/unit/docs.test.ts): every committed stack file names
// it and passes it, secrets written where Pulumi writes them included, and each bad setting is
// marked at the key the loader names.
import { readFileSync } from "node:fs";
import * as path from "node:path";
import Ajv2020 from "ajv/dist/2020";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { CONFIG_NAMESPACE, parseSettings, SettingsError, STACK_FILE_SCHEMA_LINE } from "../../../core/settings";
import { TODAY, withStackSecrets } from "../../../testing/helpers";

const ROOT = path.resolve(__dirname, "../../..");
const FILE = path.join(ROOT, "core", "settings.schema.json");
const validate = new Ajv2020({ allErrors: true, strict: false }).compile(JSON.parse(readFileSync(FILE, "utf8")));
type StackDoc = { config: Record<string, unknown> };

/** The keys the schema marks (`registry-intake:ecr.keepImages`), from the config's own level down. */
function marked(doc: StackDoc): string[] {
  if (validate(doc)) return [];
  const keys = (validate.errors ?? []).map((e) => {
    const at = e.instancePath
      .split("/")
      .slice(2)
      .map((k) => k.replace(/~1/g, "/").replace(/~0/g, "~"));
    if (e.keyword === "additionalProperties") at.push(String(e.params.additionalProperty));
    if (e.keyword === "required") at.push(String(e.params.missingProperty));
    return at.length ? `${at[0]}${at.length > 1 ? `.${at.slice(1).join(".")}` : ""}` : "";
  });
  // A string's anyOf (plain or a secret) reports the string's rule and the secret's: one key, the outer.
  const unique = [...new Set(keys)].filter(Boolean);
  return unique.filter((k) => !unique.some((outer) => k.startsWith(`${outer}.`)));
}

/** A value with each `secure:` secret replaced by a string, as the stack loader hands it on (it cannot decrypt offline). */
const decrypted = (v: unknown): unknown =>
  Array.isArray(v)
    ? v.map(decrypted)
    : v && typeof v === "object"
      ? "secure" in v
        ? "[secret]"
        : Object.fromEntries(Object.entries(v).map(([k, x]) => [k, decrypted(x)]))
      : v;

/** The keys the loader names in its problems. */
function named(doc: StackDoc): string[] {
  const settings = Object.fromEntries(
    Object.entries(doc.config)
      .filter(([k]) => k.startsWith(`${CONFIG_NAMESPACE}:`))
      .map(([k, v]) => [k.slice(CONFIG_NAMESPACE.length + 1), decrypted(v)]),
  );
  try {
    parseSettings(settings, "dev", "Pulumi.dev.yaml", TODAY);
    return [];
  } catch (e) {
    if (!(e instanceof SettingsError)) throw e;
    return e.problems.map((p) => new RegExp(`${CONFIG_NAMESPACE}:[\\w.]+`).exec(p)![0].replace(/\.$/, ""));
  }
}

const devFile = () => parse(withStackSecrets(readFileSync(path.join(ROOT, "Pulumi.dev.yaml"), "utf8"))) as StackDoc;

describe("the stack file's JSON Schema", () => {
  it.each(["Pulumi.dev.yaml", "Pulumi.prod.yaml"])("%s names it on its first line, and it accepts the file with its secrets set", (file) => {
    const text = readFileSync(path.join(ROOT, file), "utf8");
    expect(text.split("\n")[0]).toBe(`# ${STACK_FILE_SCHEMA_LINE}`);
    expect(path.resolve(ROOT, /\$schema=(\S+)/.exec(text)![1])).toBe(FILE);
    expect(marked(parse(withStackSecrets(text)) as StackDoc)).toEqual([]);
  });

  it("accepts a secret wherever Pulumi writes one, and other namespaces' keys as their providers' own", () => {
    const doc = devFile();
    const secret = { secure: "v1:abc" };
    doc.config["github:token"] = secret;
    doc.config[`${CONFIG_NAMESPACE}:ghcr`] = { owner: "example-intake-dev", machineUserTokens: { acme: secret } };
    doc.config[`${CONFIG_NAMESPACE}:requireSignature`] = secret;
    doc.config["kubernetes:enableSecretMutable"] = true;
    expect(marked(doc)).toEqual([]);
    doc.config[`${CONFIG_NAMESPACE}:ghcr`] = { owner: "example-intake-dev", machineUserTokens: { acme: { secure: 1 } } };
    expect(marked(doc)).toEqual([`${CONFIG_NAMESPACE}:ghcr.machineUserTokens.acme`]);
  });

  it("requires environment of every stack file but a shard stack's, which holds its shard alone", () => {
    const doc = devFile();
    delete doc.config[`${CONFIG_NAMESPACE}:environment`];
    expect(marked(doc)).toEqual([`${CONFIG_NAMESPACE}:environment`]);
    const shard: StackDoc = { config: { "aws:region": "eu-west-1", [`${CONFIG_NAMESPACE}:shard`]: { count: 4, index: 1, platformStack: "prod" } } };
    expect(marked(shard)).toEqual([]);
    expect(marked({ config: { [`${CONFIG_NAMESPACE}:shard`]: { count: 4 } } })).toEqual([`${CONFIG_NAMESPACE}:environment`]);
  });

  it.each([
    ["enabledKind", (c: Record<string, unknown>) => (c.enabledKind = ["ecr"])],
    ["environment", (c: Record<string, unknown>) => (c.environment = "production")],
    ["repoPrefix", (c: Record<string, unknown>) => (c.repoPrefix = "Intake_Prefix")],
    ["ecr.keepImages", (c: Record<string, unknown>) => (c.ecr = { keepImages: 0 })],
    ["acr.sku", (c: Record<string, unknown>) => (c.acr = { ...(c.acr as object), sku: "Ultra" })],
    ["aws.accountId", (c: Record<string, unknown>) => (c.aws = { ...(c.aws as object), accountId: "1234" })],
    ["gar.serviceAccountKey", (c: Record<string, unknown>) => (c.gar = { ...(c.gar as object), serviceAccountKey: true })],
    ["pullSecrets.mode", (c: Record<string, unknown>) => (c.pullSecrets = { mode: "sidecar" })],
  ])("a bad %s is marked at the key the loader names", (key, spoil) => {
    const doc = devFile();
    const mine: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(doc.config)) if (k.startsWith(`${CONFIG_NAMESPACE}:`)) mine[k.slice(CONFIG_NAMESPACE.length + 1)] = v;
    spoil(mine);
    for (const k of Object.keys(doc.config)) if (k.startsWith(`${CONFIG_NAMESPACE}:`)) delete doc.config[k];
    for (const [k, v] of Object.entries(mine)) doc.config[`${CONFIG_NAMESPACE}:${k}`] = v;
    expect(named(doc)).toEqual([`${CONFIG_NAMESPACE}:${key}`]);
    expect(marked(doc)).toEqual([`${CONFIG_NAMESPACE}:${key}`]);
  });
});
