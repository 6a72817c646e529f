import * as pulumi from "@pulumi/pulumi";
import { z } from "zod";
import { REPO_PREFIX, REPO_PREFIX_RULE } from "../customers/naming";
import { issueMessage } from "../customers/messages";
import { isoDate } from "../customers/schema";
import { DEFAULT_TIER_TABLE, REGISTRY_KINDS, TIERS, type RegistryKind, type TierTable } from "../customers/tiers";

/** The Pulumi config namespace of this project (the `name` in Pulumi.yaml). */
export const CONFIG_NAMESPACE = "registry-intake";

const kind = z.enum(REGISTRY_KINDS, { message: `must be one of ${REGISTRY_KINDS.join(", ")}` });

// AWS tag rules: keys 1-128, values 0-256, letters, digits, spaces and _ . : / = + - @.
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const tags = z.record(
  z.string().min(1).max(128).regex(TAG_CHARS, { message: "tag keys may hold letters, digits, spaces and _ . : / = + - @" }).refine((k) => !k.startsWith("aws:"), { message: "tag keys may not start with 'aws:'" }),
  z.string().max(256).regex(TAG_CHARS, { message: "tag values may hold letters, digits, spaces and _ . : / = + - @" }),
);

const awsSettings = z.strictObject({
  accountId: z.string().regex(/^\d{12}$/, { message: "must be a 12-digit AWS account id (quote it in YAML)" }),
  region: z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/, { message: "must be an AWS region such as eu-west-1" }),
  /** Principals allowed to assume the ECR controller role (CI deployer roles, the onboarding service). */
  controllerPrincipals: z
    .array(z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:(root|role\/.+|user\/.+)$/, { message: "must be an IAM role, user or account-root ARN" }))
    .default([]),
  /** Longest session the push role grants (the runtime mints 1 h sessions). */
  pushRoleMaxSessionSeconds: z.number().int().min(3600).max(43200).default(3600),
});

const ecrSettings = z.strictObject({
  /** Tags cannot be overwritten. Default: on in prod, off elsewhere. */
  immutableTags: z.boolean().optional(),
  scanOnPush: z.boolean().default(true),
  /** Untagged images expire after this many days. */
  untaggedExpiryDays: z.number().int().min(1).max(3650).default(14),
  /** At most this many images are kept per repository (oldest expire first). */
  keepImages: z.number().int().min(1).max(10000).default(500),
});

const tierOverride = z.strictObject(
  Object.fromEntries(TIERS.map((t) => [t, z.array(kind)])) as Record<(typeof TIERS)[number], z.ZodArray<typeof kind>>,
);

export const settingsInputSchema = z
  .strictObject({
    environment: z.enum(["dev", "staging", "prod"], { message: "must be dev, staging or prod" }),
    repoPrefix: z.string().regex(REPO_PREFIX, { message: `must be ${REPO_PREFIX_RULE}` }).max(16).default("intake"),
    enabledKinds: z.array(kind).default([...REGISTRY_KINDS]),
    tags: tags.default({}),
    tiers: tierOverride.optional(),
    aws: awsSettings.optional(),
    ecr: ecrSettings.default({ scanOnPush: true, untaggedExpiryDays: 14, keepImages: 500 }),
    /** The day license expiry is judged against (YYYY-MM-DD); default today (UTC). */
    asOf: isoDate.optional(),
    /** Roster file, relative to the project; default customers/roster.yaml. */
    roster: z.string().min(1).default("customers/roster.yaml"),
  })
  .superRefine((s, ctx) => {
    if (s.enabledKinds.includes("ecr") && !s.aws) {
      ctx.addIssue({ code: "custom", path: ["aws"], message: "is required while ecr is in enabledKinds (accountId, region)" });
    }
  });

export interface Settings {
  stack: string;
  environment: "dev" | "staging" | "prod";
  repoPrefix: string;
  enabledKinds: RegistryKind[];
  tags: Record<string, string>;
  tierTable: TierTable;
  aws?: z.output<typeof awsSettings>;
  ecr: Required<z.output<typeof ecrSettings>>;
  asOf: string;
  roster: string;
}

/** Keys that hold JSON (structured config); every other key is a plain string. */
const STRUCTURED = new Set(["enabledKinds", "tags", "tiers", "aws", "ecr"]);

export class SettingsError extends Error {
  constructor(readonly source: string, readonly problems: string[]) {
    super(`stack settings in ${source} are invalid:\n${problems.map((p) => `  ${p}`).join("\n")}`);
    this.name = "SettingsError";
  }
}

/**
 * Validate raw settings (config keys without the namespace, structured values already parsed).
 * `source` names the file or stack in messages.
 */
export function parseSettings(raw: Record<string, unknown>, stack: string, source: string, today = new Date()): Settings {
  const r = settingsInputSchema.safeParse(raw, { reportInput: true });
  if (!r.success) {
    throw new SettingsError(
      source,
      r.error.issues.flatMap((i) => {
        const key = (path: PropertyKey[]) => `${CONFIG_NAMESPACE}:${path.map(String).join(".")}`;
        if (i.code === "unrecognized_keys") {
          const known = i.path.length === 0 ? ` (known: ${Object.keys(settingsInputSchema.def.shape).join(", ")})` : "";
          return i.keys.map((k) => `${key([...i.path, k])}: unknown setting${known}`);
        }
        return [`${key(i.path)}: ${issueMessage(i)}`];
      }),
    );
  }
  const s = r.data;
  return {
    stack,
    environment: s.environment,
    repoPrefix: s.repoPrefix,
    enabledKinds: REGISTRY_KINDS.filter((k) => s.enabledKinds.includes(k)),
    tags: s.tags,
    tierTable: s.tiers ?? DEFAULT_TIER_TABLE,
    aws: s.aws,
    ecr: { ...s.ecr, immutableTags: s.ecr.immutableTags ?? s.environment === "prod" },
    asOf: s.asOf ?? today.toISOString().slice(0, 10),
    roster: s.roster,
  };
}

/** Read and validate the settings from the stack's `pulumi.Config` (the `pulumi up` path). */
export function settingsFromConfig(source = `stack ${pulumi.getStack()}`, stack = pulumi.getStack(), today = new Date()): Settings {
  // Every key of our namespace, so a misspelt key is an error rather than silently ignored.
  const all = pulumi.runtime.allConfig();
  const raw: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [fullKey, value] of Object.entries(all)) {
    if (!fullKey.startsWith(`${CONFIG_NAMESPACE}:`)) continue;
    const key = fullKey.slice(CONFIG_NAMESPACE.length + 1);
    if (!STRUCTURED.has(key)) {
      raw[key] = value;
      continue;
    }
    try {
      raw[key] = JSON.parse(value);
    } catch {
      problems.push(`${CONFIG_NAMESPACE}:${key}: must be structured config (a YAML mapping or list), got ${JSON.stringify(value)}`);
    }
  }
  if (problems.length) throw new SettingsError(source, problems);
  return parseSettings(raw, stack, source, today);
}
