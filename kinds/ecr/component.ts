import * as ecr from "@pulumi/aws/ecr";
import * as iam from "@pulumi/aws/iam";
import * as pulumi from "@pulumi/pulumi";
import type { EffectiveStatus } from "../../customers/status";
import { ecrPushPullPolicy } from "../../core/iam";
import { ecrTagMutability } from "./kind";
import { KeptResources } from "../../components/kept";
import { need, type KindBuilder } from "../../components/kind";
import { eachGeneration, generationName, liveGenerations, type LiveGenerations } from "../../core/rotation";
import type { PullGenerator } from "../../components/pull-secrets";

export interface EcrNamespaceArgs {
  /** Repository path prefix, ending in `/` (e.g. `intake/acme/`). */
  repositoryPrefix: string;
  /** Repository names under the prefix; at least one, unless `products` says the customer is entitled to none. */
  repositories: string[];
  /**
   * With a product catalogue: the products the customer is entitled to; the user's policy then
   * names `<prefix><product>/*` for each (one ARN per product), and none at all for no product.
   */
  products?: string[];
  /** IAM user that holds the customer's long-lived credential, and its IAM path. */
  userName: string;
  userPath: string;
  status: EffectiveStatus;
  /** The access key's generations to declare (core/rotation.ts): the current, and the previous through its overlap. */
  keys?: LiveGenerations;
  immutableTags: boolean;
  scanOnPush: boolean;
  untaggedExpiryDays: number;
  keepImages: number;
  /** Customer-managed KMS key; AES256 when absent. */
  kmsKeyArn?: pulumi.Input<string>;
  tags: Record<string, string>;
  /** Kept resources of earlier updates: a repository that comes back is adopted, not created. */
  keptList?: KeptResources;
}

/** The ECR lifecycle policy: untagged images expire first, then the oldest beyond `keep`. */
export function lifecyclePolicy(untaggedExpiryDays: number, keep: number): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: `Expire untagged images after ${untaggedExpiryDays} days`,
        selection: { tagStatus: "untagged", countType: "sinceImagePushed", countUnit: "days", countNumber: untaggedExpiryDays },
        action: { type: "expire" },
      },
      {
        rulePriority: 2,
        description: `Keep the newest ${keep} images`,
        selection: { tagStatus: "any", countType: "imageCountMoreThan", countNumber: keep },
        action: { type: "expire" },
      },
    ],
  });
}

/**
 * One customer's namespace on ECR: its repositories (kept on delete, whatever happens to the
 * customer) and, unless offboarded, an IAM user whose policy reaches only its namespace
 * (`<prefix>/<id>/*`: one ARN, whatever the number of repositories),
 * with an access key that is disabled while the customer is suspended.
 */
export class EcrNamespace extends pulumi.ComponentResource {
  public readonly repositoryUrls: pulumi.Output<Record<string, string>>;
  public readonly repositoryArns: pulumi.Output<string[]>;
  public readonly userArn: pulumi.Output<string | undefined>;
  public readonly accessKeyId: pulumi.Output<string | undefined>;
  public readonly secretAccessKey: pulumi.Output<string | undefined>;

  constructor(name: string, args: EcrNamespaceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:aws:EcrNamespace", name, {}, opts);
    if (!args.repositoryPrefix.endsWith("/")) {
      throw new Error(`EcrNamespace ${name}: repositoryPrefix "${args.repositoryPrefix}" must end with "/"`);
    }
    if (args.repositories.length === 0 && !args.products) throw new Error(`EcrNamespace ${name}: repositories must list at least one repository`);

    const keptList = args.keptList ?? new KeptResources();
    const offboarded = args.status === "offboarded";
    const declared = args.repositories.filter((repo) => keptList.declares("ecr", `${args.repositoryPrefix}${repo}`, offboarded));
    const repos = declared.map((repo) => {
      const repositoryName = `${args.repositoryPrefix}${repo}`;
      const r = new ecr.Repository(
        `${name}-${repo.replace(/\//g, "--")}`,
        {
          name: repositoryName,
          ...ecrTagMutability(args.immutableTags),
          imageScanningConfiguration: { scanOnPush: args.scanOnPush },
          encryptionConfigurations: [args.kmsKeyArn ? { encryptionType: "KMS", kmsKey: args.kmsKeyArn } : { encryptionType: "AES256" }],
          forceDelete: false,
          tags: args.tags,
        },
        // Images outlive the customer record: removing a customer never deletes a repository,
        // and one that comes back is adopted. ECR cannot change a repository's encryption: a
        // change of ecr.kms applies to repositories created from then on, never by replacement.
        { parent: this, retainOnDelete: true, ignoreChanges: ["encryptionConfigurations"], ...keptList.adoption("ecr", repositoryName) },
      );
      keptList.track("ecr", repositoryName, r);
      new ecr.LifecyclePolicy(
        `${name}-${repo.replace(/\//g, "--")}-lifecycle`,
        { repository: r.name, policy: lifecyclePolicy(args.untaggedExpiryDays, args.keepImages) },
        { parent: this },
      );
      return { repo, r };
    });

    this.repositoryUrls = pulumi.all(repos.map(({ r }) => r.repositoryUrl)).apply((urls) => Object.fromEntries(urls.map((u, i) => [repos[i].repo, u])));
    this.repositoryArns = pulumi.all(repos.map(({ r }) => r.arn));

    if (args.status === "offboarded") {
      this.userArn = pulumi.output(undefined);
      this.accessKeyId = pulumi.output(undefined);
      this.secretAccessKey = pulumi.output(undefined);
    } else {
      const user = new iam.User(`${name}-user`, { name: args.userName, path: args.userPath, forceDestroy: true, tags: args.tags }, { parent: this });
      // One prefix ARN (`repository/intake/acme/*`), or one per entitled product
      // (`repository/intake/acme/app/*`), not one per repository: an inline user policy holds
      // 2,048 characters, which about 20 repository ARNs exceed. The globs are the ones the
      // runtime's session policy names; the partition and account come from the repositories' own ARNs.
      const globs = args.products ? args.products.map((p) => `${args.repositoryPrefix}${p}/*`) : [`${args.repositoryPrefix}*`];
      if (globs.length > 0) {
        new iam.UserPolicy(
          `${name}-policy`,
          {
            user: user.name,
            name: "ecr-namespace",
            policy: this.repositoryArns.apply((arns) =>
              JSON.stringify(
                ecrPushPullPolicy(
                  "PushPullOwnRepositories",
                  globs.map((g) => arns[0].replace(/:repository\/.*$/, `:repository/${g}`)),
                ),
              ),
            ),
          },
          { parent: this },
        );
      }
      // IAM holds two access keys per user: the current generation and, while it overlaps, the previous.
      const { current: key } = eachGeneration(
        args.keys ?? { current: 1 },
        (generation) =>
          new iam.AccessKey(
            generationName(`${name}-key`, generation),
            { user: user.name, status: args.status === "active" ? "Active" : "Inactive" },
            { parent: this, additionalSecretOutputs: ["secret", "sesSmtpPasswordV4"] },
          ),
      );
      this.userArn = user.arn;
      this.accessKeyId = key.id;
      this.secretAccessKey = pulumi.secret(key.secret);
    }

    this.registerOutputs({
      repositoryUrls: this.repositoryUrls,
      repositoryArns: this.repositoryArns,
      userArn: this.userArn,
      accessKeyId: this.accessKeyId,
      secretAccessKey: this.secretAccessKey,
    });
  }
}

/**
 * The repositories a customer gets: `app` and its roster's `ecr.repositories`, or with a product
 * catalogue `<product>/<repository>` of each product it is entitled to.
 */
function ecrRepositories(ctx: Parameters<KindBuilder>[0]): { repositories: string[]; products?: string[] } {
  const catalogue = ctx.settings.products;
  const products = ctx.products;
  if (!catalogue || !products) return { repositories: ["app", ...(ctx.customer.ecr?.repositories ?? []).filter((r) => r !== "app")] };
  return { products, repositories: products.flatMap((p) => catalogue[p].repositories.map((r) => `${p}/${r}`)) };
}

/** A customer's ECR part: its repositories and IAM user, the access key as a secret output. */
export const build: KindBuilder = (ctx) => {
  need(ctx.settings.aws, "settings.aws", ctx.customer.id);
  const e = ctx.settings.ecr;
  const ns = new EcrNamespace(
    `${ctx.name}-ecr`,
    {
      repositoryPrefix: ctx.names.ecrRepositoryPrefix,
      ...ecrRepositories(ctx),
      userName: ctx.names.iamUserName,
      userPath: ctx.names.iamPath,
      status: ctx.state.status,
      keys: liveGenerations(ctx.customer.credentials?.ecr, ctx.settings.asOf),
      immutableTags: e.immutableTags,
      scanOnPush: e.scanOnPush,
      untaggedExpiryDays: e.untaggedExpiryDays,
      keepImages: e.keepImages,
      kmsKeyArn: ctx.platform.ecrKmsKeyArn,
      tags: ctx.tags,
      keptList: ctx.keptList,
    },
    { parent: ctx.parent },
  );
  // Its pull secret, with ESO: GetAuthorizationToken as the customer's own IAM user, so the token
  // reaches what that user's policy reaches (its own prefix) and nothing the platform's roles could.
  const generator: PullGenerator | undefined =
    ctx.settings.pullSecrets?.mode === "eso"
      ? {
          kind: "ECRAuthorizationToken",
          spec: (n) => ({
            region: ctx.settings.aws!.region,
            auth: {
              secretRef: {
                accessKeyIDSecretRef: { name: n.authSecret, key: "access-key-id" },
                secretAccessKeySecretRef: { name: n.authSecret, key: "secret-access-key" },
              },
            },
          }),
          authSecret: { "access-key-id": ns.accessKeyId, "secret-access-key": ns.secretAccessKey },
          refreshInterval: "6h", // the token lives 12 h
        }
      : undefined;
  return { credentialId: ns.accessKeyId, credentialSecret: ns.secretAccessKey, generator };
};
