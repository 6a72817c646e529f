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
  accountId: z
    .string()
    .regex(/^\d{12}$/, { message: "must be a 12-digit AWS account id (quote it in YAML)" })
    .describe("The 12-digit AWS account of the ECR registry (quote it in YAML)."),
  region: z
    .string()
    .regex(AWS_REGION, { message: "must be an AWS region such as eu-west-1" })
    .describe("The AWS region of the ECR registry; ARNs and hosts follow its partition."),
  controllerPrincipals: z
    .array(z.string().regex(/^arn:aws[a-z-]*:iam::\d{12}:(root|role\/.+|user\/.+)$/, { message: "must be an IAM role, user or account-root ARN" }))
    .default([])
    .describe("Principals allowed to assume the ECR controller role (CI deployer roles, the onboarding service); none: the account root."),
  pushRoleMaxSessionSeconds: z
    .number()
    .int()
    .min(3600)
    .max(43200)
    .default(3600)
    .describe("Longest session the push role grants (the runtime mints 1 h sessions)."),
});

const ecrSettings = z.strictObject({
  immutableTags: z
    .boolean()
    .optional()
    .describe(
      "A tag once written never moves, except `latest` and cosign's digest-named `sha256-*` tags (IMMUTABLE_WITH_EXCLUSION), so deliveries move `latest` and carry new signatures. Default: on in prod, off elsewhere.",
    ),
  scanOnPush: z.boolean().default(true).describe("Scan every image on push."),
  untaggedExpiryDays: z.number().int().min(1).max(3650).default(14).describe("Untagged images expire after this many days."),
  keepImages: z.number().int().min(1).max(10000).default(500).describe("At most this many images are kept per repository (oldest expire first)."),
  replicationRegions: z
    .array(z.string().regex(AWS_REGION, { message: "must be an AWS region such as us-west-2" }))
    .default([])
    .describe("Regions every repository under the prefix is replicated to (same account)."),
  kms: z.boolean().default(false).describe("Encrypt repositories with a customer-managed KMS key declared by the platform (default AES256)."),
  creationTemplate: z
    .boolean()
    .default(true)
    .describe("Declare a repository creation template for repositories created on push or by replication under the prefix."),
  blobMounting: z.boolean().default(true).describe("Turn on cross-repository blob mounting for the account and region (fan-out delivery needs it)."),
});

const acrSettings = z.strictObject({
  resourceGroupName: z
    .string()
    .regex(/^[-\w._()]{1,89}[-\w_()]$/, { message: "must be an Azure resource group name (1-90 chars of letters, digits, - _ . ( ), not ending with '.')" })
    .describe("The existing resource group of the registry."),
  registryName: z
    .string()
    .regex(/^[a-zA-Z0-9]{5,50}$/, { message: "must be 5-50 letters and digits (ACR registry names)" })
    .describe("The registry's name (Azure holds it globally: each stack needs its own)."),
  location: z
    .string()
    .regex(/^[a-z0-9]+$/, { message: "must be an Azure location such as westeurope" })
    .describe("The registry's Azure location."),
  sku: z
    .enum(["Basic", "Standard", "Premium"], { message: "must be Basic, Standard or Premium" })
    .default("Premium")
    .describe("The registry's SKU; geo-replicas and the retention policy need Premium."),
  replicaLocations: z
    .array(z.string().regex(/^[a-z0-9]+$/, { message: "must be an Azure location such as northeurope" }))
    .default([])
    .describe("Geo-replicas (Premium only)."),
  untaggedRetentionDays: z
    .number()
    .int()
    .min(0)
    .max(365)
    .optional()
    .describe("Untagged manifests are deleted after this many days (Premium only; default 7; 0 deletes at once)."),
});

const garSettings = z.strictObject({
  project: z
    .string()
    .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, { message: "must be a GCP project id (6-30 chars of [a-z0-9-], starting with a letter)" })
    .describe("The GCP project (Artifact Registry and IAM Credentials APIs enabled)."),
  location: z
    .string()
    .regex(/^[a-z]+(-[a-z]+\d+)?$/, { message: "must be an Artifact Registry location such as europe-west1 or europe" })
    .describe("The Artifact Registry location of customers' repositories."),
  immutableTags: z
    .boolean()
    .optional()
    .describe("No tag ever moves, so a delivery leaves an existing `latest` and cosign tags as they are. Default: on in prod, off elsewhere."),
  untaggedExpiryDays: z.number().int().min(1).max(3650).default(14).describe("Untagged versions are deleted after this many days."),
  keepVersions: z.number().int().min(1).max(10000).default(50).describe("At most this many versions are kept per package (oldest deleted first)."),
  serviceAccountKeys: z.boolean().default(false).describe("Declare a service-account key per customer (off: the runtime impersonates instead)."),
  runtimeMember: z
    .string()
    .regex(/^(serviceAccount|user|group):[^\s@]+@[^\s@]+$/, {
      message: "must be an IAM member such as serviceAccount:intake-runtime@PROJECT.iam.gserviceaccount.com",
    })
    .optional()
    .describe("The identity the runtime mints tokens as (granted Token Creator on each customer's service account only)."),
});

const ghcrSettings = z.strictObject({
  owner: z
    .string()
    .regex(GITHUB_LOGIN, { message: "must be a GitHub organisation login" })
    .describe("The GitHub organisation that owns the customers' repositories and packages."),
  machineUserTokens: z
    .record(z.string(), z.string().min(1))
    .default({})
    .describe("Classic PATs (read:packages) of customers' machine users, keyed by customer id. Must be Pulumi secrets."),
});

const distributionSettings = z.strictObject({
  host: z
    .string()
    .regex(/^[a-z0-9.-]+(:\d{1,5})?$/, { message: "must be a host[:port] such as registry.example.com" })
    .describe("Where clients reach the registry, e.g. registry.example.com or 127.0.0.1:5000."),
  service: z.string().min(1).default("registry-intake").describe("The token service name and issuer the registry and the broker agree on."),
  issuer: z.string().min(1).default("registry-intake-broker").describe("The issuer the broker signs tokens as and the registry expects (auth.token.issuer)."),
  realm: z
    .string()
    .url({ message: "must be a URL such as https://registry.example.com/auth/token" })
    .optional()
    .describe("The broker's token endpoint as clients see it. Default: https://<host>/auth/token."),
  deliveryRobot: z
    .strictObject({
      generation: z
        .number()
        .int()
        .min(1, { message: "must be a whole number from 1" })
        .describe("The delivery robot password's generation: raise it to rotate."),
      previousUntil: isoDate.optional().describe("The last day the previous password still works."),
    })
    .refine((r) => r.previousUntil === undefined || r.generation > 1, {
      message: "needs a generation above 1 (there is no previous one)",
      path: ["previousUntil"],
    })
    .optional()
    .describe("Rotation of the platform's delivery robot password (core/rotation.ts): raise the generation, the previous works through previousUntil."),
  kubernetes: z
    .strictObject({
      namespace: z
        .string()
        .regex(K8S_NAMESPACE, { message: "must be a Kubernetes namespace name" })
        .describe("The namespace the registry and the broker run in (it must exist)."),
      registryImage: z.string().min(1).default("registry:2.8.3").describe("The registry's image."),
      brokerImage: z.string().min(1).describe("An image with this project that runs `intake broker`."),
      storageSize: z
        .string()
        .regex(/^\d+(Mi|Gi|Ti)$/, { message: "must be a size such as 100Gi" })
        .default("100Gi")
        .describe("The size of the registry's PersistentVolumeClaim."),
      storageClassName: z.string().optional().describe("The storage class of the registry's claim (default the cluster's)."),
      dataClaimName: z
        .string()
        .regex(K8S_NAMESPACE, { message: "must be a PersistentVolumeClaim name" })
        .optional()
        .describe(
          "The registry's PersistentVolumeClaim (default `<repoPrefix>-registry-data`): one name, so that the claim kept after a destroy is taken up again by the next `up`.",
        ),
      signingSecretName: z
        .string()
        .regex(K8S_NAMESPACE, { message: "must be a Secret name" })
        .describe("Existing kubernetes.io/tls Secret: the broker signs with tls.key, the registry trusts tls.crt."),
    })
    .optional()
    .describe("Run the registry and the broker on Kubernetes (the stack's cluster)."),
});

const pullSecretSettings = z
  .strictObject({
    mode: z
      .enum(["eso", "refresher"], { message: "must be eso or refresher" })
      .describe(
        "eso: External Secrets Operator generators where one can keep the customer's scope (ECR with the customer's own IAM key, Artifact Registry by workload identity of the customer's service account), the refresher for the rest (ACR); refresher: the refresher for every kind.",
      ),
    gke: z
      .strictObject({
        projectId: z
          .string()
          .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, { message: "must be a GCP project id" })
          .describe("The GKE cluster's project."),
        location: z
          .string()
          .regex(/^[a-z]+-[a-z]+\d+(-[a-z])?$/, { message: "must be a GKE cluster location such as europe-west1 or europe-west1-b" })
          .describe("The GKE cluster's region or zone."),
        name: z
          .string()
          .regex(/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/, { message: "must be a GKE cluster name" })
          .describe("The GKE cluster's name."),
      })
      .optional()
      .describe("eso and Artifact Registry: the GKE cluster whose workload identity pool binds each customer's Kubernetes service account."),
    refresher: z
      .strictObject({
        namespace: z
          .string()
          .regex(K8S_NAMESPACE, { message: "must be a Kubernetes namespace name" })
          .describe("The platform's namespace the refresher CronJobs run in."),
        serviceAccount: z
          .string()
          .regex(K8S_NAMESPACE, { message: "must be a Kubernetes service account name" })
          .describe("An existing service account holding the cloud identity the runtime mints with (IRSA, workload identity)."),
        image: z.string().min(1).describe("An image with this project (its stack files and roster), `intake` and `kubectl`."),
      })
      .optional()
      .describe("A CronJob per customer and kind, in the platform's namespace, that mints with `intake token` and patches the one Secret."),
  })
  .describe(
    "How short-lived credentials (ECR, ACR, Artifact Registry by impersonation) reach a customer's Kubernetes namespace as a working pull secret. Absent: the Secret is declared empty and annotated with the command that fills it, for a refresher of your own.",
  );

const deliverySettings = z
  .strictObject({
    source: z
      .string()
      .superRefine((v, ctx) => {
        try {
          if (!parseReference(v).digest)
            ctx.addIssue({ code: "custom", message: `must be pinned by digest (...@sha256:<64 hex>): the digest is what triggers a delivery` });
        } catch (e) {
          ctx.addIssue({ code: "custom", message: (e as Error).message });
        }
      })
      .describe("The build's image, pinned by digest: the digest is what triggers a new delivery."),
    build: z
      .string()
      .regex(/^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/, {
        message: "must be a repository name: lower-case path components",
      })
      .describe("The repository name the build gets inside each customer's namespace (a product's repository with `product`)."),
    version: z
      .string()
      .regex(/^[\w][\w.-]{0,99}$/, { message: "must be a tag of 1-100 chars of [A-Za-z0-9_.-], not starting with '.' or '-'" })
      .refine((v) => v !== "latest", { message: "must name a version; latest is moved after it" })
      .describe("The tag it is delivered as (a semver version for a product's release); latest is moved after it."),
    customers: z.array(z.string().min(1)).min(1).optional().describe("Default: every customer active on the stack's asOf day."),
    kinds: z.array(kind).min(1).optional().describe("Default: each customer's own registry kinds."),
    tool: z.enum(["crane", "skopeo"]).optional().describe("The copy tool (default crane when on PATH, else skopeo)."),
    product: z
      .string()
      .regex(PRODUCT_NAME, { message: `must be a product name: ${PRODUCT_NAME_RULE}` })
      .optional()
      .describe(
        "A release of a catalogue product (setting `products`): it goes to the customers entitled to it (product, channel, version, released on or before their `updatesUntil`), into `<namespace>/<product>/<build>`; `version` is then a semver version.",
      ),
    channel: z
      .string()
      .regex(PRODUCT_NAME, { message: `must be a channel name: ${PRODUCT_NAME_RULE}` })
      .optional()
      .describe("The release channel of a product's release (default stable)."),
    released: isoDate.optional().describe("The release day (YYYY-MM-DD); default the stack's asOf day."),
  })
  .describe("A build `pulumi up` delivers after the namespaces exist (a `local.Command` running `intake deliver`).");

const shardSettings = z
  .strictObject({
    count: z
      .number()
      .int()
      .min(1, { message: "must be at least 1" })
      .max(1000)
      .describe("How many shard stacks the roster is split over (the platform stack sets only this)."),
    index: z.number().int().min(0).optional().describe("This shard stack's number, 0 to count-1 (absent on the platform stack)."),
    platformStack: z.string().min(1).optional().describe("Shard stacks: the platform stack, as a stack reference name (`org/registry-intake/prod` or `prod`)."),
  })
  .describe(
    "Sharding: the platform stack (no `index`) holds the shared resources; each shard stack (`index`) one slice of the roster, reading the platform's outputs by stack reference.",
  );

const pricesSettings = z
  .strictObject({
    currency: z
      .string()
      .regex(/^[A-Z]{3}$/, { message: "must be an ISO 4217 code such as USD" })
      .default("USD")
      .describe("ISO 4217 currency of the prices."),
    perCustomerMonthly: z.partialRecord(kind, z.number().min(0)).default({}).describe("Estimated monthly price of one customer on each kind."),
  })
  .describe("Estimated monthly price per customer of each kind (the cost delta of `intake plan --base`).");

const keptKeyList = z
  .array(z.string().refine(isKeptKey, { message: "must be <kind>:<cloud id> with kind ecr, gar, github, acr or pvc, e.g. ecr:intake/acme/app" }))
  .default([]);

const keptSettings = z
  .strictObject({
    adopt: keptKeyList.describe("Resources left in the cloud before the kept list existed, or by another stack: adopt them when declared."),
    forget: keptKeyList.describe("Resources the kept list holds that were deleted by hand: create them anew rather than import."),
  })
  .describe("Kept resources to adopt or to forget beyond the stack's own kept list (components/kept.ts).");

const onboardingSettings = z
  .strictObject({
    git: z
      .strictObject({
        remote: z
          .string()
          .min(1)
          .regex(/^[^-]/, { message: "must be a remote's name or URL, not an option" })
          .default("origin")
          .describe("The roster repository's remote, by name or URL."),
        branch: z
          .string()
          .regex(/^(?!\/|-)(?!.*(\.\.|\/\/|@\{|\.lock$|\/$))[A-Za-z0-9._/-]+$/, { message: "must be a git branch name such as main" })
          .default("main")
          .describe("The branch roster changes are committed to and pushed."),
        authorName: z.string().min(1).default("registry-intake").describe("Author name of the roster commits."),
        authorEmail: z
          .string()
          .regex(/^[^\s<>@]+@[^\s<>@]+$/, { message: "must be an e-mail address" })
          .default("registry-intake@localhost")
          .describe("Author e-mail of the roster commits."),
      })
      .optional()
      .describe(
        "Commit each change on the roster repository's branch and push it before any `up` applies it, so that CI's next `pulumi up` reads the same roster or a later one. Unset: the roster file in the work tree is edited (laptops, tests).",
      ),
    apply: z
      .enum(["self", "ci"], { message: "must be self or ci" })
      .default("self")
      .describe("self: the command runs `up` from exactly the pushed commit; ci: it stops after the push and up.yml applies it."),
  })
  .describe("How onboarding, offboarding and rotation land a roster change: git holds the roster.");

const tierOverride = z.strictObject(
  Object.fromEntries(TIERS.map((t) => [t, z.array(kind).describe(`The registry kinds the ${t} tier allows.`)])) as Record<
    (typeof TIERS)[number],
    z.ZodArray<typeof kind>
  >,
);

const settingsInputSchema = z
  .strictObject({
    environment: z
      .enum(["dev", "staging", "prod"], { message: "must be dev, staging or prod" })
      .describe("The stack's environment: prod turns on immutable tags (ECR, Artifact Registry) by default."),
    repoPrefix: z
      .string()
      .regex(REPO_PREFIX, { message: `must be ${REPO_PREFIX_RULE}` })
      .max(16)
      .default("intake")
      .describe("Slug that prefixes every name (`intake/acme/app`, `intake-customer-acme`): two stacks in one account need their own."),
    enabledKinds: z
      .array(kind)
      .default([...REGISTRY_KINDS])
      .describe("Registry kinds this stack declares; a kind's block (aws, acr, gar, ghcr, distribution) is required while it is listed."),
    tags: tags.default({}).describe("Tags added to every resource (the project's own labels win on a clash)."),
    tiers: tierOverride.optional().describe("Override of the tier table (core/tiers.ts): the registry kinds each tier allows; every tier must be listed."),
    aws: awsSettings.optional().describe("Where ECR lives: required while ecr is in enabledKinds."),
    ecr: ecrSettings.default(ecrSettings.parse({})).describe("ECR repositories' scanning, lifecycle and immutability, and the platform's ECR choices."),
    acr: acrSettings.optional().describe("The shared Azure Container Registry: required while acr is in enabledKinds."),
    gar: garSettings.optional().describe("Where customers' Artifact Registry repositories go: required while gar is in enabledKinds."),
    ghcr: ghcrSettings.optional().describe("The GitHub organisation of GHCR packages: required while ghcr is in enabledKinds."),
    distribution: distributionSettings
      .optional()
      .describe("The self-hosted CNCF Distribution registry and its token service: required while distribution is in enabledKinds."),
    deliveries: z.array(deliverySettings).default([]).describe("Builds `pulumi up` delivers after the namespaces exist (docs/guides/delivery.md)."),
    products: catalogueSchema.optional().describe("The product catalogue: each product's repositories and release channels (customers/entitlements.ts)."),
    tierEntitlements: tierEntitlementsSchema.optional().describe("Entitlements a tier's customers get when their roster entry lists none."),
    shard: shardSettings.optional(),
    prices: pricesSettings.optional(),
    kept: keptSettings.default({ adopt: [], forget: [] }),
    pullSecrets: pullSecretSettings.optional(),
    onboarding: onboardingSettings.optional(),
    asOf: isoDate.optional().describe("The day license expiry is judged against (YYYY-MM-DD); default today (UTC)."),
    roster: z.string().min(1).default("customers/roster.yaml").describe("Roster file, relative to the project; default customers/roster.yaml."),
    requireSignature: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A cosign public key (PEM file, relative to the project): every delivery from this stack (`intake deliver`, `deliveries`) requires the source digest to carry a signature valid for it.",
      ),
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

type JsonSchema = Record<string, unknown>;

/** The first line of a stack file (after `# `): editors read the settings' schema from it. */
export const STACK_FILE_SCHEMA_LINE = "yaml-language-server: $schema=./core/settings.schema.json";

/**
 * The JSON Schema of a stack file (`Pulumi.<stack>.yaml`; core/settings.schema.json, written by
 * `npm run docs`), for editors: the file names it on its first line and gets this project's
 * settings (`registry-intake:<name>`) completed and their mistakes marked as they are typed. Every
 * string may be written as a Pulumi secret (`{ secure: <ciphertext> }`), as `pulumi config set
 * --secret --path` writes it inside a structured setting; other namespaces' keys (`aws:region`,
 * `github:token`) are left to their providers. A shard stack's file (a `shard` with an `index`)
 * holds only that: the settings' required keys are required of every other file. Rules across
 * settings (a kind's block required while it is enabled) are the program's alone.
 */
export function stackFileJsonSchema(): JsonSchema {
  const settings = z.toJSONSchema(settingsInputSchema, { io: "input", unrepresentable: "any" }) as JsonSchema & { properties: Record<string, JsonSchema> };
  const secure = { $ref: "#/$defs/secure" };
  const orSecure = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(orSecure);
    if (!node || typeof node !== "object") return node;
    const o = Object.fromEntries(Object.entries(node).map(([k, v]) => [k, k === "default" || k === "enum" || k === "const" ? v : orSecure(v)])) as JsonSchema;
    if (o.type !== "string") return o;
    const { description, default: dflt, ...plain } = o;
    return { ...(description === undefined ? {} : { description }), ...(dflt === undefined ? {} : { default: dflt }), anyOf: [plain, secure] };
  };
  const properties: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(settings.properties)) properties[`${CONFIG_NAMESPACE}:${name}`] = orSecure(schema);
  for (const [from, to] of Object.entries(RENAMED))
    properties[`${CONFIG_NAMESPACE}:${from}`] = {
      ...(properties[`${CONFIG_NAMESPACE}:${to}`] as JsonSchema),
      deprecated: true,
      description: `Former name of ${to}: still read, with a warning to rename it.`,
    };
  // What the settings require, a shard stack's file aside: it holds `shard` alone (the rest is its platform's).
  const required = ((settings.required as string[] | undefined) ?? []).map((name) => `${CONFIG_NAMESPACE}:${name}`);
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "registry-intake stack file (Pulumi.<stack>.yaml)",
    description:
      "A stack's settings: this project's under registry-intake:<name>, the providers' under their own namespaces. Checked by `npx intake plan --stack <name>`.",
    type: "object",
    properties: {
      config: {
        type: "object",
        properties,
        // Other namespaces (aws:region, github:token, kubernetes:enableSecretMutable) are their providers'.
        patternProperties: { [`^(?!${CONFIG_NAMESPACE}:)[^:]+:.+$`]: {} },
        additionalProperties: false,
      },
      encryptionsalt: { type: "string" },
      secretsprovider: { type: "string" },
      encryptedkey: { type: "string" },
      environment: {},
    },
    if: { properties: { config: { required: [`${CONFIG_NAMESPACE}:shard`], properties: { [`${CONFIG_NAMESPACE}:shard`]: { required: ["index"] } } } } },
    else: { properties: { config: { required } } },
    $defs: {
      secure: {
        type: "object",
        description: "A Pulumi secret (`pulumi config set --secret`): ciphertext bound to the stack's secrets provider.",
        properties: { secure: { type: "string" } },
        required: ["secure"],
        additionalProperties: false,
      },
    },
  };
}
