import { placed, withFile, type PathKey } from "./yaml";
import { parseReference } from "./reference";
import { z } from "zod";
import { isKeptKey } from "./kept";
import { CUSTOMER_ID_MAX, GAR_REPOSITORY_ID_MAX, REPO_PREFIX, REPO_PREFIX_RULE } from "./ids";
import { issueMessage } from "../customers/messages";
import { GITHUB_LOGIN, isoDate, K8S_NAMESPACE, PRODUCT_NAME, PRODUCT_NAME_RULE } from "../customers/schema";
import { catalogueSchema, entitlementProblem, releaseProblems, tierEntitlementsSchema } from "../customers/entitlements";
import { DEFAULT_TIER_TABLE, REGISTRY_KINDS, TIERS, type RegistryKind, type TierTable } from "./tiers";
import { InvalidInput } from "./errors";
import { didYouMean, keysAt } from "./suggest";

/** The Pulumi config namespace of this project (the `name` in Pulumi.yaml). */
export const CONFIG_NAMESPACE = "registry-intake";

const kind = z.enum(REGISTRY_KINDS, { message: `must be one of ${REGISTRY_KINDS.join(", ")}` });

// AWS tag rules: keys 1-128, values 0-256, letters, digits, spaces and _ . : / = + - @.
const TAG_CHARS = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
const tags = z.record(
  z
    .string()
    .min(1)
    .max(128)
    .regex(TAG_CHARS, { message: "tag keys may hold letters, digits, spaces and _ . : / = + - @" })
    .refine((k) => !k.startsWith("aws:"), { message: "tag keys may not start with 'aws:'" }),
  z.string().max(256).regex(TAG_CHARS, { message: "tag values may hold letters, digits, spaces and _ . : / = + - @" }),
);

const AWS_REGION = /^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$/;

const awsSettings = z.strictObject({
  accountId: z.string().regex(/^\d{12}$/, { message: "must be a 12-digit AWS account id (quote it in YAML)" }),
  region: z.string().regex(AWS_REGION, { message: "must be an AWS region such as eu-west-1" }),
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
  /** Regions every repository under the prefix is replicated to (same account). */
  replicationRegions: z.array(z.string().regex(AWS_REGION, { message: "must be an AWS region such as us-west-2" })).default([]),
  /** Encrypt repositories with a customer-managed KMS key declared by the platform (default AES256). */
  kms: z.boolean().default(false),
  /** Declare a repository creation template for repositories created on push or by replication under the prefix. */
  creationTemplate: z.boolean().default(true),
  /** Turn on cross-repository blob mounting for the account and region (fan-out delivery needs it). */
  blobMounting: z.boolean().default(true),
});

const acrSettings = z.strictObject({
  resourceGroupName: z
    .string()
    .regex(/^[-\w._()]{1,89}[-\w_()]$/, { message: "must be an Azure resource group name (1-90 chars of letters, digits, - _ . ( ), not ending with '.')" }),
  registryName: z.string().regex(/^[a-zA-Z0-9]{5,50}$/, { message: "must be 5-50 letters and digits (ACR registry names)" }),
  location: z.string().regex(/^[a-z0-9]+$/, { message: "must be an Azure location such as westeurope" }),
  sku: z.enum(["Basic", "Standard", "Premium"], { message: "must be Basic, Standard or Premium" }).default("Premium"),
  /** Geo-replicas (Premium only). */
  replicaLocations: z.array(z.string().regex(/^[a-z0-9]+$/, { message: "must be an Azure location such as northeurope" })).default([]),
  /** Untagged manifests are deleted after this many days (Premium only; 0 deletes at once). */
  untaggedRetentionDays: z.number().int().min(0).max(365).optional(),
});

const garSettings = z.strictObject({
  project: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, { message: "must be a GCP project id (6-30 chars of [a-z0-9-], starting with a letter)" }),
  location: z.string().regex(/^[a-z]+(-[a-z]+\d+)?$/, { message: "must be an Artifact Registry location such as europe-west1 or europe" }),
  /** Tags cannot be moved. Default: on in prod, off elsewhere. */
  immutableTags: z.boolean().optional(),
  untaggedExpiryDays: z.number().int().min(1).max(3650).default(14),
  keepVersions: z.number().int().min(1).max(10000).default(50),
  /** Declare a service-account key per customer (off: the runtime impersonates instead). */
  serviceAccountKeys: z.boolean().default(false),
  /** The identity the runtime mints tokens as (granted Token Creator on each customer's service account only). */
  runtimeMember: z
    .string()
    .regex(/^(serviceAccount|user|group):[^\s@]+@[^\s@]+$/, {
      message: "must be an IAM member such as serviceAccount:intake-runtime@PROJECT.iam.gserviceaccount.com",
    })
    .optional(),
});

const ghcrSettings = z.strictObject({
  /** The GitHub organisation that owns the customers' repositories and packages. */
  owner: z.string().regex(GITHUB_LOGIN, { message: "must be a GitHub organisation login" }),
  /** Classic PATs (read:packages) of customers' machine users, keyed by customer id. Must be Pulumi secrets. */
  machineUserTokens: z.record(z.string(), z.string().min(1)).default({}),
});

const distributionSettings = z.strictObject({
  /** Where clients reach the registry, e.g. registry.example.com or 127.0.0.1:5000. */
  host: z.string().regex(/^[a-z0-9.-]+(:\d{1,5})?$/, { message: "must be a host[:port] such as registry.example.com" }),
  /** The token service name and issuer the registry and the broker agree on. */
  service: z.string().min(1).default("registry-intake"),
  issuer: z.string().min(1).default("registry-intake-broker"),
  /** The broker's token endpoint as clients see it. Default: https://<host>/auth/token. */
  realm: z.string().url({ message: "must be a URL such as https://registry.example.com/auth/token" }).optional(),
  /** Rotation of the platform's delivery robot password (core/rotation.ts): raise the generation, the previous works through previousUntil. */
  deliveryRobot: z
    .strictObject({
      generation: z.number().int().min(1, { message: "must be a whole number from 1" }),
      previousUntil: isoDate.optional(),
    })
    .refine((r) => r.previousUntil === undefined || r.generation > 1, {
      message: "needs a generation above 1 (there is no previous one)",
      path: ["previousUntil"],
    })
    .optional(),
  /** Run the registry and the broker on Kubernetes (the stack's cluster). */
  kubernetes: z
    .strictObject({
      namespace: z.string().regex(K8S_NAMESPACE, { message: "must be a Kubernetes namespace name" }),
      registryImage: z.string().min(1).default("registry:2.8.3"),
      brokerImage: z.string().min(1),
      storageSize: z
        .string()
        .regex(/^\d+(Mi|Gi|Ti)$/, { message: "must be a size such as 100Gi" })
        .default("100Gi"),
      storageClassName: z.string().optional(),
      /**
       * The registry's PersistentVolumeClaim (default `<repoPrefix>-registry-data`): one name, so
       * that the claim kept after a destroy is taken up again by the next `up`.
       */
      dataClaimName: z.string().regex(K8S_NAMESPACE, { message: "must be a PersistentVolumeClaim name" }).optional(),
      /** Existing kubernetes.io/tls Secret: the broker signs with tls.key, the registry trusts tls.crt. */
      signingSecretName: z.string().regex(K8S_NAMESPACE, { message: "must be a Secret name" }),
    })
    .optional(),
});

/**
 * How short-lived credentials (ECR, ACR, Artifact Registry by impersonation) reach a customer's
 * Kubernetes namespace as a working pull secret. Absent: the Secret is declared empty and
 * annotated with the command that fills it, for a refresher of your own.
 */
const pullSecretSettings = z.strictObject({
  /**
   * eso: External Secrets Operator generators where one can keep the customer's scope (ECR with the
   * customer's own IAM key, Artifact Registry by workload identity of the customer's service
   * account), the refresher for the rest (ACR); refresher: the refresher for every kind.
   */
  mode: z.enum(["eso", "refresher"], { message: "must be eso or refresher" }),
  /** eso and Artifact Registry: the GKE cluster whose workload identity pool binds each customer's Kubernetes service account. */
  gke: z
    .strictObject({
      projectId: z.string().regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, { message: "must be a GCP project id" }),
      location: z.string().regex(/^[a-z]+-[a-z]+\d+(-[a-z])?$/, { message: "must be a GKE cluster location such as europe-west1 or europe-west1-b" }),
      name: z.string().regex(/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/, { message: "must be a GKE cluster name" }),
    })
    .optional(),
  /** A CronJob per customer and kind, in the platform's namespace, that mints with `intake token` and patches the one Secret. */
  refresher: z
    .strictObject({
      namespace: z.string().regex(K8S_NAMESPACE, { message: "must be a Kubernetes namespace name" }),
      /** An existing service account holding the cloud identity the runtime mints with (IRSA, workload identity). */
      serviceAccount: z.string().regex(K8S_NAMESPACE, { message: "must be a Kubernetes service account name" }),
      /** An image with this project (its stack files and roster), `intake` and `kubectl`. */
      image: z.string().min(1),
    })
    .optional(),
});

/** A build `pulumi up` delivers after the namespaces exist (a `local.Command` running `intake deliver`). */
const deliverySettings = z.strictObject({
  /** The build's image, pinned by digest: the digest is what triggers a new delivery. */
  source: z.string().superRefine((v, ctx) => {
    try {
      if (!parseReference(v).digest)
        ctx.addIssue({ code: "custom", message: `must be pinned by digest (...@sha256:<64 hex>): the digest is what triggers a delivery` });
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
    }
  }),
  build: z.string().regex(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/, {
    message: "must be a repository name: lower-case path components",
  }),
  version: z
    .string()
    .regex(/^[\w][\w.-]{0,99}$/, { message: "must be a tag of 1-100 chars of [A-Za-z0-9_.-], not starting with '.' or '-'" })
    .refine((v) => v !== "latest", { message: "must name a version; latest is moved after it" }),
  /** Default: every customer active on the stack's asOf day. */
  customers: z.array(z.string().min(1)).min(1).optional(),
  /** Default: each customer's own registry kinds. */
  kinds: z.array(kind).min(1).optional(),
  tool: z.enum(["crane", "skopeo"]).optional(),
  /**
   * A release of a catalogue product (setting `products`): it goes to the customers entitled to
   * it (product, channel, version, released on or before their `updatesUntil`), into
   * `<namespace>/<product>/<build>`; `version` is then a semver version.
   */
  product: z
    .string()
    .regex(PRODUCT_NAME, { message: `must be a product name: ${PRODUCT_NAME_RULE}` })
    .optional(),
  channel: z
    .string()
    .regex(PRODUCT_NAME, { message: `must be a channel name: ${PRODUCT_NAME_RULE}` })
    .optional(),
  /** The release day (YYYY-MM-DD); default the stack's asOf day. */
  released: isoDate.optional(),
});

/**
 * Sharding: the platform stack (no `index`) holds the shared resources; each shard stack
 * (`index`) one slice of the roster, reading the platform's outputs by stack reference.
 */
const shardSettings = z.strictObject({
  count: z.number().int().min(1, { message: "must be at least 1" }).max(1000),
  index: z.number().int().min(0).optional(),
  /** Shard stacks: the platform stack, as a stack reference name (`org/registry-intake/prod` or `prod`). */
  platformStack: z.string().min(1).optional(),
});

/** Estimated monthly price per customer of each kind (the cost delta of `intake plan --base`). */
const pricesSettings = z.strictObject({
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, { message: "must be an ISO 4217 code such as USD" })
    .default("USD"),
  perCustomerMonthly: z.partialRecord(kind, z.number().min(0)).default({}),
});

const keptKeyList = z
  .array(z.string().refine(isKeptKey, { message: "must be <kind>:<cloud id> with kind ecr, gar, github, acr or pvc, e.g. ecr:intake/acme/app" }))
  .default([]);

/** Kept resources to adopt or to forget beyond the stack's own kept list (components/kept.ts). */
const keptSettings = z.strictObject({
  /** Resources left in the cloud before the kept list existed, or by another stack: adopt them when declared. */
  adopt: keptKeyList,
  /** Resources the kept list holds that were deleted by hand: create them anew rather than import. */
  forget: keptKeyList,
});

/** How onboarding, offboarding and rotation land a roster change: git holds the roster. */
const onboardingSettings = z.strictObject({
  /**
   * Commit each change on the roster repository's branch and push it before any `up` applies it, so
   * that CI's next `pulumi up` reads the same roster or a later one. Unset: the roster file in the
   * work tree is edited (laptops, tests).
   */
  git: z
    .strictObject({
      remote: z.string().min(1).regex(/^[^-]/, { message: "must be a remote's name or URL, not an option" }).default("origin"),
      branch: z
        .string()
        .regex(/^(?!\/|-)(?!.*(\.\.|\/\/|@\{|\.lock$|\/$))[A-Za-z0-9._/-]+$/, { message: "must be a git branch name such as main" })
        .default("main"),
      authorName: z.string().min(1).default("registry-intake"),
      authorEmail: z
        .string()
        .regex(/^[^\s<>@]+@[^\s<>@]+$/, { message: "must be an e-mail address" })
        .default("registry-intake@localhost"),
    })
    .optional(),
  /** self: the command runs `up` from exactly the pushed commit; ci: it stops after the push and up.yml applies it. */
  apply: z.enum(["self", "ci"], { message: "must be self or ci" }).default("self"),
});

const tierOverride = z.strictObject(Object.fromEntries(TIERS.map((t) => [t, z.array(kind)])) as Record<(typeof TIERS)[number], z.ZodArray<typeof kind>>);

const settingsInputSchema = z
  .strictObject({
    environment: z.enum(["dev", "staging", "prod"], { message: "must be dev, staging or prod" }),
    repoPrefix: z
      .string()
      .regex(REPO_PREFIX, { message: `must be ${REPO_PREFIX_RULE}` })
      .max(16)
      .default("intake"),
    enabledKinds: z.array(kind).default([...REGISTRY_KINDS]),
    tags: tags.default({}),
    tiers: tierOverride.optional(),
    aws: awsSettings.optional(),
    ecr: ecrSettings.default(ecrSettings.parse({})),
    acr: acrSettings.optional(),
    gar: garSettings.optional(),
    ghcr: ghcrSettings.optional(),
    distribution: distributionSettings.optional(),
    deliveries: z.array(deliverySettings).default([]),
    /** The product catalogue: each product's repositories and release channels (customers/entitlements.ts). */
    products: catalogueSchema.optional(),
    /** Entitlements a tier's customers get when their roster entry lists none. */
    tierEntitlements: tierEntitlementsSchema.optional(),
    shard: shardSettings.optional(),
    prices: pricesSettings.optional(),
    kept: keptSettings.default({ adopt: [], forget: [] }),
    pullSecrets: pullSecretSettings.optional(),
    onboarding: onboardingSettings.optional(),
    /** The day license expiry is judged against (YYYY-MM-DD); default today (UTC). */
    asOf: isoDate.optional(),
    /** Roster file, relative to the project; default customers/roster.yaml. */
    roster: z.string().min(1).default("customers/roster.yaml"),
    /**
     * A cosign public key (PEM file, relative to the project): every delivery from this stack
     * (`intake deliver`, `deliveries`) requires the source digest to carry a signature valid for it.
     */
    requireSignature: z.string().min(1).optional(),
  })
  .superRefine((s, ctx) => {
    const need = (kind: RegistryKind, key: keyof typeof s, what: string) => {
      if (s.enabledKinds.includes(kind) && !s[key])
        ctx.addIssue({ code: "custom", path: [key], message: `is required while ${kind} is in enabledKinds (${what})` });
    };
    need("ecr", "aws", "accountId, region");
    need("acr", "acr", "resourceGroupName, registryName, location");
    need("gar", "gar", "project, location");
    need("ghcr", "ghcr", "owner");
    need("distribution", "distribution", "host");
    if (s.shard?.index !== undefined) {
      if (s.shard.index >= s.shard.count) ctx.addIssue({ code: "custom", path: ["shard", "index"], message: `must be below count ${s.shard.count}` });
      if (!s.shard.platformStack)
        ctx.addIssue({ code: "custom", path: ["shard", "platformStack"], message: "is required on a shard stack (the stack reference of the platform stack)" });
    }
    s.deliveries.forEach((d, i) => {
      for (const k of d.kinds ?? [])
        if (!s.enabledKinds.includes(k)) ctx.addIssue({ code: "custom", path: ["deliveries", i, "kinds"], message: `${k} is not in enabledKinds` });
      for (const problem of releaseProblems(s.products, d)) ctx.addIssue({ code: "custom", path: ["deliveries", i, problem.field], message: problem.message });
      // A release's day is fixed once: judged as of "today", the delivery would run again every day.
      if (d.product !== undefined && d.released === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["deliveries", i, "released"],
          message: "is required for a release of a product (the day it was released, YYYY-MM-DD): update periods are judged by it",
        });
      // With a catalogue every repository is a product's: a build outside one reaches no credential.
      if (s.products && d.product === undefined)
        ctx.addIssue({
          code: "custom",
          path: ["deliveries", i, "product"],
          message: `is required while the stack has a product catalogue (${Object.keys(s.products).join(", ")}): repositories are the products'`,
        });
    });
    // Artifact Registry holds a product in a repository of its own, `<prefix>-<id>--<product>`: it
    // must fit 63 characters for the longest customer id.
    if (s.enabledKinds.includes("gar")) {
      const room = GAR_REPOSITORY_ID_MAX - s.repoPrefix.length - 1 - CUSTOMER_ID_MAX - 2;
      for (const name of Object.keys(s.products ?? {})) {
        if (name.length > room)
          ctx.addIssue({
            code: "custom",
            path: ["products", name],
            message: `is too long for Artifact Registry: ${s.repoPrefix}-<customer id>--${name} must fit its 63 characters for a customer id of 23, so a product name may have at most ${room} characters here`,
          });
      }
    }
    for (const [tier, list] of Object.entries(s.tierEntitlements ?? {})) {
      (list ?? []).forEach((e, j) => {
        const problem = entitlementProblem(s.products, e);
        if (problem) ctx.addIssue({ code: "custom", path: ["tierEntitlements", tier, j, problem.field], message: problem.message });
      });
    }
    const p = s.pullSecrets;
    if (p) {
      // Which kinds would be refreshed by the refresher, and whether ESO can reach Artifact Registry.
      const refreshed = REGISTRY_KINDS.filter(
        (k) => s.enabledKinds.includes(k) && (k === "acr" || (p.mode === "refresher" && (k === "ecr" || (k === "gar" && !s.gar?.serviceAccountKeys)))),
      );
      if (refreshed.length > 0 && !p.refresher) {
        ctx.addIssue({
          code: "custom",
          path: ["pullSecrets", "refresher"],
          message: `is required for ${refreshed.join(", ")} (no External Secrets Operator generator keeps those customers' scope): namespace, serviceAccount, image`,
        });
      }
      if (p.mode === "eso" && s.enabledKinds.includes("gar") && !s.gar?.serviceAccountKeys && !p.gke) {
        ctx.addIssue({
          code: "custom",
          path: ["pullSecrets", "gke"],
          message: "is required for gar with mode eso (the cluster whose workload identity binds each customer's service account): projectId, location, name",
        });
      }
    }
    if (s.onboarding?.apply === "ci" && !s.onboarding.git) {
      ctx.addIssue({
        code: "custom",
        path: ["onboarding", "apply"],
        message: "ci needs onboarding.git: CI can only apply a change that was pushed to the roster branch",
      });
    }
    if (s.acr && s.acr.sku !== "Premium") {
      if (s.acr.replicaLocations.length > 0)
        ctx.addIssue({ code: "custom", path: ["acr", "replicaLocations"], message: `geo-replication needs the Premium SKU, not ${s.acr.sku}` });
      if (s.acr.untaggedRetentionDays !== undefined) {
        ctx.addIssue({ code: "custom", path: ["acr", "untaggedRetentionDays"], message: `the retention policy needs the Premium SKU, not ${s.acr.sku}` });
      }
    }
  });

/**
 * The settings a program runs with: the stack's config, validated, with every default resolved
 * (a stack's own name, today's date, the tier table, the environment's defaults). The type is the
 * schema's output, so the two cannot drift apart.
 */
function settingsSchema(stack: string, today = new Date()) {
  return settingsInputSchema.transform((s) => ({
    stack,
    environment: s.environment,
    repoPrefix: s.repoPrefix,
    enabledKinds: REGISTRY_KINDS.filter((k) => s.enabledKinds.includes(k)),
    tags: s.tags,
    tierTable: (s.tiers ?? DEFAULT_TIER_TABLE) as TierTable,
    aws: s.aws,
    ecr: { ...s.ecr, immutableTags: s.ecr.immutableTags ?? s.environment === "prod" },
    /** `untaggedRetentionDays` is null below Premium, where ACR has no retention policy. */
    acr: s.acr && { ...s.acr, untaggedRetentionDays: s.acr.sku === "Premium" ? (s.acr.untaggedRetentionDays ?? 7) : null },
    gar: s.gar && { ...s.gar, immutableTags: s.gar.immutableTags ?? s.environment === "prod" },
    ghcr: s.ghcr,
    distribution: s.distribution && { ...s.distribution, realm: s.distribution.realm ?? `https://${s.distribution.host}/auth/token` },
    deliveries: s.deliveries,
    /** Absent: no catalogue (every build reaches every active customer, one `app` repository each). */
    products: s.products,
    tierEntitlements: s.tierEntitlements ?? {},
    /** Absent: one stack holds everything. */
    shard: s.shard,
    prices: s.prices,
    kept: s.kept,
    pullSecrets: s.pullSecrets,
    onboarding: s.onboarding,
    asOf: s.asOf ?? today.toISOString().slice(0, 10),
    roster: s.roster,
    requireSignature: s.requireSignature,
  }));
}

export type Settings = z.output<ReturnType<typeof settingsSchema>> & {
  /** Settings written under a former name (still read): the plan and `pulumi up` say to rename them. */
  renamed?: { from: string; to: string }[];
};

/** Former setting names, still read: `retained` spoke of kept resources under another word. */
const RENAMED: Readonly<Record<string, string>> = { retained: "kept" };

/** One warning per setting written under its former name. */
export function renamedSettingWarnings(s: Settings): string[] {
  return (s.renamed ?? []).map(
    (r) => `setting ${CONFIG_NAMESPACE}:${r.from} is now ${CONFIG_NAMESPACE}:${r.to}: rename it in Pulumi.${s.stack}.yaml (the former name is still read)`,
  );
}

/** Keys that hold JSON (structured config); every other key is a plain string. */
const STRUCTURED = new Set([
  "enabledKinds",
  "tags",
  "tiers",
  "aws",
  "ecr",
  "acr",
  "gar",
  "ghcr",
  "distribution",
  "deliveries",
  "products",
  "tierEntitlements",
  "shard",
  "prices",
  "kept",
  "retained",
  "pullSecrets",
  "onboarding",
]);

export class SettingsError extends InvalidInput {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    // One problem is one line; several are listed under the file, each with its place.
    super(
      problems.length === 1
        ? withFile(source, problems[0])
        : `stack settings in ${source} are invalid:\n${problems.map((p) => `  ${withFile(source, p)}`).join("\n")}`,
    );
  }
}

/**
 * Validate raw settings (config keys without the namespace, structured values already parsed).
 * `source` names the file or stack in messages.
 */
export function parseSettings(given: Record<string, unknown>, stack: string, source: string, today = new Date(), locate?: SettingsLocator): Settings {
  const raw = { ...given };
  const renamed: { from: string; to: string }[] = [];
  for (const [from, to] of Object.entries(RENAMED)) {
    if (!(from in raw)) continue;
    if (to in raw)
      throw new SettingsError(source, [`${CONFIG_NAMESPACE}:${from} and ${CONFIG_NAMESPACE}:${to}: ${from} is the former name of ${to}; keep ${to} alone`]);
    raw[to] = raw[from];
    delete raw[from];
    renamed.push({ from, to });
  }
  const r = settingsSchema(stack, today).safeParse(raw, { reportInput: true });
  if (!r.success) {
    // Where the key is written (`ns:key`, then the path inside its value), when read from a file.
    const at = (path: PropertyKey[]) =>
      locate && path.length
        ? locate(
            `${CONFIG_NAMESPACE}:${String(path[0])}`,
            path.slice(1).map((k) => (typeof k === "number" ? k : String(k))),
          )
        : {};
    throw new SettingsError(
      source,
      r.error.issues.flatMap((i) => {
        const key = (path: PropertyKey[]) => `${CONFIG_NAMESPACE}:${path.map(String).join(".")}`;
        if (i.code === "unrecognized_keys") {
          const keys = keysAt(settingsInputSchema, i.path);
          const known = keys.length ? ` (known: ${keys.join(", ")})` : "";
          return i.keys.map((k) => {
            const meant = didYouMean(k, keys);
            return placed(at([...i.path, k]), `${key([...i.path, k])}: unknown setting${meant ? ` (did you mean ${key([...i.path, meant])}?)` : known}`);
          });
        }
        return [placed(at(i.path), `${key(i.path)}: ${issueMessage(i)}`)];
      }),
    );
  }
  return renamed.length ? { ...r.data, renamed } : r.data;
}

/** The stack name a stack reference ends with (`org/project/prod` → `prod`). */
export const referencedStack = (ref: string) => ref.split("/").pop() ?? ref;

/** A shard stack's own `registry-intake:shard` value, parsed, or undefined if the stack is not a shard. */
export function shardOfConfig(all: Record<string, string>): { index?: number; count?: number; platformStack?: string } | undefined {
  const raw = all[`${CONFIG_NAMESPACE}:shard`];
  if (raw === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return undefined;
  }
  // A malformed shard key is left to the settings' own validation, which names it.
  const r = shardSettings.safeParse(value);
  return r.success && r.data.index !== undefined ? r.data : undefined;
}

/**
 * The config a shard stack's program sees. A shard stack takes every `registry-intake` setting
 * from its platform stack's file, so the two cannot drift; its own file holds only its `shard`
 * key, its customers' machine-user tokens (secrets of its own) and provider config. Any other
 * setting in a shard's file is refused, naming the platform file to set it in.
 */
export function shardStackConfig(
  own: Record<string, string>,
  platform: Record<string, string>,
  ownSource: string,
  platformSource: string,
): Record<string, string> {
  const problems: string[] = [];
  const ns = `${CONFIG_NAMESPACE}:`;
  let ownTokens: unknown;
  for (const [key, value] of Object.entries(own)) {
    if (!key.startsWith(ns) || key === `${ns}shard`) continue;
    if (key === `${ns}ghcr`) {
      let v: Record<string, unknown> | undefined;
      try {
        v = JSON.parse(value) as Record<string, unknown>;
      } catch {
        v = undefined;
      }
      const extra = v ? Object.keys(v).filter((k) => k !== "machineUserTokens") : ["(not a mapping)"];
      if (extra.length === 0) {
        ownTokens = v!.machineUserTokens;
        continue;
      }
      problems.push(
        `${key}.${extra.join(", ")}: a shard stack takes this setting from its platform stack; remove it here and set it in ${platformSource} (only ghcr.machineUserTokens belong here)`,
      );
      continue;
    }
    problems.push(`${key}: a shard stack takes every ${CONFIG_NAMESPACE} setting from its platform stack; remove it here and set it in ${platformSource}`);
  }
  if (problems.length) throw new SettingsError(ownSource, problems);
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries(own)) if (!k.startsWith(ns) || k === `${ns}shard`) merged[k] = v;
  for (const [k, v] of Object.entries(platform)) {
    if (!k.startsWith(ns) || k === `${ns}shard` || k in merged) continue;
    if (k === `${ns}ghcr`) {
      // The platform's machine-user tokens are its own secrets; the shard's are in its own file.
      const ghcr = JSON.parse(v) as Record<string, unknown>;
      merged[k] = JSON.stringify({ ...ghcr, machineUserTokens: ownTokens ?? {} });
      continue;
    }
    merged[k] = v;
  }
  return merged;
}

/**
 * Read and validate the settings from a stack's config values (`<namespace>:<key>` → the string
 * Pulumi hands the program; structured values as JSON). `isSecret` says which keys the stack holds
 * as secrets. The `pulumi up` path is settingsFromConfig (components/stack-settings.ts); offline
 * readers pass the values of Pulumi.<stack>.yaml directly, without loading the Pulumi SDK.
 */
/** Where a setting (`ns:key`, then a path inside its value) is written in its file. */
export type SettingsLocator = (fullKey: string, path: PathKey[]) => { line?: number; column?: number };

export function settingsFromValues(
  all: Record<string, string>,
  isSecret: ((key: string) => boolean) | undefined,
  source: string,
  stack: string,
  today = new Date(),
  locate?: SettingsLocator,
): Settings {
  // Every key of our namespace, so a misspelt key is an error rather than silently ignored.
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
      problems.push(
        placed(locate?.(fullKey, []) ?? {}, `${CONFIG_NAMESPACE}:${key}: must be structured config (a YAML mapping or list), got ${JSON.stringify(value)}`),
      );
    }
  }
  // Machine-user PATs are credentials: refuse them unless the stack holds them as secrets.
  const tokens = (raw.ghcr as { machineUserTokens?: Record<string, unknown> } | undefined)?.machineUserTokens;
  if (tokens && Object.keys(tokens).length > 0 && isSecret && !isSecret(`${CONFIG_NAMESPACE}:ghcr`)) {
    problems.push(
      `${CONFIG_NAMESPACE}:ghcr.machineUserTokens: holds credentials in plain text; set each with ` +
        "`pulumi config set --secret --path 'ghcr.machineUserTokens.<customer>'`",
    );
  }
  if (problems.length) throw new SettingsError(source, problems);
  return parseSettings(raw, stack, source, today, locate);
}
