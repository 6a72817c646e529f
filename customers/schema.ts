import { validRange } from "semver";
import { z } from "zod";
import { CUSTOMER_ID, CUSTOMER_ID_RULE, ECR_COMPONENT_RULE, isEcrComponent } from "../core/ids";
import type { RotatedKind } from "../core/rotation";
import { REGISTRY_KINDS, STATUSES, TIERS } from "../core/tiers";

/** A calendar date written YYYY-MM-DD that exists (no 2027-02-30). */
export const isoDate = z.string().refine(
  (s) => {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
    if (!m) return false;
    const d = new Date(`${s}T00:00:00Z`);
    return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
  },
  { message: "must be a real calendar date written YYYY-MM-DD" },
);

const oneOf = (what: string, values: readonly string[]) => `must be one of ${values.join(", ")} (${what})`;

/** GitHub logins: 1-39 chars of [A-Za-z0-9-], no leading, trailing or doubled hyphen. */
export const GITHUB_LOGIN = /^(?=.{1,39}$)[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$/;
const githubLogin = z.string().regex(GITHUB_LOGIN, {
  message: "is not a GitHub login: 1-39 chars of [A-Za-z0-9-], no leading, trailing or doubled '-'",
});

/** Kubernetes namespace names are DNS-1123 labels. */
export const K8S_NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

const wholeFromOne = "must be a whole number from 1";
/** One kind's credential generation (core/rotation.ts). */
const rotation = z
  .strictObject({
    generation: z
      .number({ message: wholeFromOne })
      .int({ message: wholeFromOne })
      .min(1, { message: wholeFromOne })
      .describe("The credential's generation: raise it to rotate (`intake rotate`)."),
    previousUntil: isoDate.optional().describe("The last day the previous generation still works."),
  })
  .refine((r) => r.previousUntil === undefined || r.generation > 1, {
    message: "needs a generation above 1 (there is no previous one)",
    path: ["previousUntil"],
  });

/** A product or channel name: a slug (it becomes a path component of the product's repositories). */
export const PRODUCT_NAME = /^(?=.{1,32}$)[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const PRODUCT_NAME_RULE = "a slug of up to 32 chars: [a-z0-9] runs joined by single '-', starting with a letter";

/**
 * What a customer bought of one product (customers/entitlements.ts judges a release by it): a
 * channel, a semver range of versions, and the last release day its updates cover.
 */
export const entitlementSchema = z.strictObject({
  product: z
    .string()
    .regex(PRODUCT_NAME, { message: `must be a product name: ${PRODUCT_NAME_RULE}` })
    .describe("A product of the stack's catalogue (setting `products`)."),
  channel: z
    .string()
    .regex(PRODUCT_NAME, { message: `must be a channel name: ${PRODUCT_NAME_RULE}` })
    .default("stable")
    .describe("The release channel bought."),
  versions: z
    .string()
    .refine((r) => validRange(r) !== null, { message: "must be a semver range, e.g. ^2, >=1.4 <3 or 1.x" })
    .default("*")
    .describe("A semver range (`>=1.2 <3`, `^2`, `1.x`); default any version."),
  updatesUntil: isoDate.optional().describe("Builds released after this day are not delivered (the update period bought)."),
  maxPullsPerDay: z
    .number({ message: wholeFromOne })
    .int({ message: wholeFromOne })
    .min(1, { message: wholeFromOne })
    .optional()
    .describe("Pulls a day of this product's repositories (the Distribution broker refuses past it)."),
});

export const customerSchema = z.strictObject({
  id: z
    .string()
    .regex(CUSTOMER_ID, { message: `breaks the id rule: ${CUSTOMER_ID_RULE}` })
    .describe("Stable customer id: part of every name (`intake/<id>/app`, `intake-customer-<id>`); never reused."),
  name: z.string().trim().min(1, { message: "must be a non-empty display name" }).max(200).describe("Display name (in descriptions and messages)."),
  tier: z.enum(TIERS, { message: oneOf("license tier", TIERS) }).describe("License tier: which registry kinds the customer may have (the stack's tier table)."),
  registries: z
    .array(z.enum(REGISTRY_KINDS, { message: oneOf("registry kind", REGISTRY_KINDS) }))
    .min(1, { message: "must list at least one registry kind, or be left out for all the tier allows" })
    .optional()
    .describe("The kinds the customer asks for, within its tier; default every kind its tier allows."),
  license: z
    .strictObject({ expires: isoDate.describe("The license's last day (YYYY-MM-DD).") })
    .describe("The license: credentials stop working after it expires."),
  status: z
    .enum(STATUSES, { message: oneOf("customer status", STATUSES) })
    .default("active")
    .describe("active; suspended (credentials disabled, kept); offboarded (credentials deleted, repositories kept)."),
  ecr: z
    .strictObject({
      repositories: z
        .array(
          z.string().refine(isEcrComponent, {
            message: `is not a valid repository name: ${ECR_COMPONENT_RULE}`,
          }),
        )
        .optional()
        .describe("Repositories beside `app` under the customer's ECR namespace."),
    })
    .optional()
    .describe("ECR options."),
  acr: z
    .strictObject({
      allowDelete: z.boolean().default(false).describe("Grant content/delete and metadata/write on the customer's repositories (off by default)."),
    })
    .optional()
    .describe("ACR options."),
  distribution: z
    .strictObject({
      access: z
        .enum(["pull", "push"], { message: "must be pull (read only) or push (pull and push)" })
        .default("push")
        .describe("What the robot account may do on the customer's paths."),
    })
    .optional()
    .describe("Self-hosted Distribution registry options."),
  github: z
    .strictObject({
      members: z.array(githubLogin).default([]).describe("GitHub users of the customer who may pull its GHCR packages (read on its repository)."),
      machineUser: githubLogin.optional().describe("A machine user whose classic PAT (read:packages) the operator stores as a Pulumi secret."),
    })
    .optional()
    .describe("GHCR options."),
  entitlements: z
    .array(entitlementSchema)
    .optional()
    .describe("The products this customer bought (with the stack setting `products`); default its tier's `tierEntitlements`."),
  shard: z
    .number({ message: "must be a shard number" })
    .int({ message: "must be a whole number" })
    .min(0, { message: "must be 0 or more" })
    .optional()
    .describe("Pinned shard stack (set by `intake onboard`); without it the id's hash decides."),
  credentials: z
    .strictObject({
      ecr: rotation.optional().describe("Rotation of the customer's IAM access key."),
      gar: rotation.optional().describe("Rotation of the customer's service-account key (with gar.serviceAccountKeys)."),
      distribution: rotation.optional().describe("Rotation of the customer's robot password."),
    } satisfies Record<RotatedKind, unknown>)
    .optional()
    .describe("Rotation of the long-lived credentials (`intake rotate` edits it): a generation per kind, the previous one kept through `previousUntil`."),
  kubernetes: z
    .strictObject({
      namespace: z
        .string()
        .regex(K8S_NAMESPACE, { message: "is not a Kubernetes namespace name (DNS-1123 label: lower-case letters, digits and '-', ≤ 63 chars)" })
        .refine((ns) => ns !== "default" && !ns.startsWith("kube-"), {
          message: "is a namespace of the cluster itself (default, kube-*): give the customer its own",
        })
        .describe("Namespace that receives a dockerconfigjson pull secret per registry kind."),
    })
    .optional()
    .describe("Where the customer's pull secrets go."),
});

export const rosterSchema = z.strictObject({
  customers: z.array(customerSchema).describe("Licensed customers, one entry each."),
  catalogue: z
    .strictObject({ products: z.record(z.string(), z.unknown()), tierEntitlements: z.record(z.string(), z.unknown()).optional() })
    .optional()
    .describe(
      "The stack's product catalogue and tier entitlements, as the program writes them beside the roster it mounts for the broker (so the two arrive and reload together); a hand-kept roster has none: the stack's settings give them.",
    ),
});

export type CustomerEntry = z.output<typeof customerSchema>;

/**
 * The roster's JSON Schema (customers/roster.schema.json, written by `npm run docs`), for editors:
 * a roster file naming it on its first line (`# yaml-language-server: $schema=...`) gets its fields
 * completed and its mistakes marked as they are typed. Rules zod checks in code (a date that is a
 * day, a semver range, one id per customer) are the loader's alone.
 */
export function rosterJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(rosterSchema, { io: "input", unrepresentable: "any" }),
    title: "registry-intake roster",
    description: "Licensed customers: each gets an isolated namespace and scoped credentials on the registries its tier allows. Checked by `npx intake plan`.",
  };
}
