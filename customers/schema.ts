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
    generation: z.number({ message: wholeFromOne }).int({ message: wholeFromOne }).min(1, { message: wholeFromOne }),
    /** The last day the previous generation still works. */
    previousUntil: isoDate.optional(),
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
  product: z.string().regex(PRODUCT_NAME, { message: `must be a product name: ${PRODUCT_NAME_RULE}` }),
  channel: z
    .string()
    .regex(PRODUCT_NAME, { message: `must be a channel name: ${PRODUCT_NAME_RULE}` })
    .default("stable"),
  /** A semver range (`>=1.2 <3`, `^2`, `1.x`); default any version. */
  versions: z
    .string()
    .refine((r) => validRange(r) !== null, { message: "must be a semver range, e.g. ^2, >=1.4 <3 or 1.x" })
    .default("*"),
  /** Builds released after this day are not delivered (the update period bought). */
  updatesUntil: isoDate.optional(),
  /** Pulls a day of this product's repositories (the Distribution broker refuses past it). */
  maxPullsPerDay: z.number({ message: wholeFromOne }).int({ message: wholeFromOne }).min(1, { message: wholeFromOne }).optional(),
});

export const customerSchema = z.strictObject({
  id: z.string().regex(CUSTOMER_ID, { message: `breaks the id rule: ${CUSTOMER_ID_RULE}` }),
  name: z.string().trim().min(1, { message: "must be a non-empty display name" }).max(200),
  tier: z.enum(TIERS, { message: oneOf("license tier", TIERS) }),
  registries: z
    .array(z.enum(REGISTRY_KINDS, { message: oneOf("registry kind", REGISTRY_KINDS) }))
    .min(1, { message: "must list at least one registry kind, or be left out for all the tier allows" })
    .optional(),
  license: z.strictObject({ expires: isoDate }),
  status: z.enum(STATUSES, { message: oneOf("customer status", STATUSES) }).default("active"),
  ecr: z
    .strictObject({
      repositories: z
        .array(
          z.string().refine(isEcrComponent, {
            message: `is not a valid repository name: ${ECR_COMPONENT_RULE}`,
          }),
        )
        .optional(),
    })
    .optional(),
  acr: z
    .strictObject({
      /** Grant content/delete and metadata/write on the customer's repositories (off by default). */
      allowDelete: z.boolean().default(false),
    })
    .optional(),
  distribution: z
    .strictObject({
      /** What the robot account may do on the customer's paths. */
      access: z.enum(["pull", "push"], { message: "must be pull (read only) or push (pull and push)" }).default("push"),
    })
    .optional(),
  github: z
    .strictObject({
      /** GitHub users of the customer who may pull its GHCR packages (read on its repository). */
      members: z.array(githubLogin).default([]),
      /** A machine user whose classic PAT (read:packages) the operator stores as a Pulumi secret. */
      machineUser: githubLogin.optional(),
    })
    .optional(),
  /** The products this customer bought (with the stack setting `products`); default its tier's `tierEntitlements`. */
  entitlements: z.array(entitlementSchema).optional(),
  /** Pinned shard stack (set by `intake onboard`); without it the id's hash decides. */
  shard: z.number({ message: "must be a shard number" }).int({ message: "must be a whole number" }).min(0, { message: "must be 0 or more" }).optional(),
  /** Rotation of the long-lived credentials (`intake rotate` edits it): a generation per kind, the previous one kept through `previousUntil`. */
  credentials: z
    .strictObject({ ecr: rotation.optional(), gar: rotation.optional(), distribution: rotation.optional() } satisfies Record<RotatedKind, unknown>)
    .optional(),
  kubernetes: z
    .strictObject({
      /** Namespace that receives a dockerconfigjson pull secret per registry kind. */
      namespace: z
        .string()
        .regex(K8S_NAMESPACE, { message: "is not a Kubernetes namespace name (DNS-1123 label: lower-case letters, digits and '-', ≤ 63 chars)" })
        .refine((ns) => ns !== "default" && !ns.startsWith("kube-"), {
          message: "is a namespace of the cluster itself (default, kube-*): give the customer its own",
        }),
    })
    .optional(),
});

export const rosterSchema = z.strictObject({
  customers: z.array(customerSchema),
  /**
   * The stack's product catalogue and tier entitlements, as the program writes them beside the
   * roster it mounts for the broker (so the two arrive and reload together); a hand-kept roster
   * has none: the stack's settings give them.
   */
  catalogue: z.strictObject({ products: z.record(z.string(), z.unknown()), tierEntitlements: z.record(z.string(), z.unknown()).optional() }).optional(),
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
