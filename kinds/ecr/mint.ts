import { DescribeImagesCommand, ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { awsPartition, CUSTOMER_SESSION_TAG, ecrPushPullPolicy, ecrRepositoryArn } from "../../core/iam";
import { namesFor } from "../../core/naming";
import { TOKEN_SECONDS, type MintedCredential, type Minter } from "../../runtime/mint/types";
import type { Settings } from "../../core/settings";
import type { Roster } from "../../customers/roster";
import { entitledProducts } from "../../customers/entitlements";
import { each, type EcrClients, type SharedDelivery } from "../../runtime/delivery/shared";

export interface EcrMintOptions extends EcrClients {
  customerId: string;
  /** Delivery: one session reaching several customers' prefixes (so blobs mount between them). */
  customerIds?: string[];
  /**
   * With a product catalogue: the products a customer is entitled to, each `<prefix><product>/*`
   * in the session policy (undefined: the whole prefix).
   */
  productsOf?: (customerId: string) => string[] | undefined;
  repoPrefix: string;
  accountId: string;
  region: string;
  /** The platform push role (stack output ecrPushRoleArn). */
  pushRoleArn: string;
}

/** STS's limit on an inline session policy (packed). */
export const SESSION_POLICY_LIMIT = 2048;

/**
 * The inline session policy: push and pull under the customer's prefix only. A prefix glob,
 * not a list of ARNs, so it stays far under STS's 2,048 characters whatever the customer has.
 */
export function ecrSessionPolicy(o: Pick<EcrMintOptions, "customerId" | "customerIds" | "repoPrefix" | "accountId" | "region" | "productsOf">): string {
  const ids = o.customerIds ?? [o.customerId];
  const policy = sessionPolicyText(o);
  if (policy.length > SESSION_POLICY_LIMIT)
    throw new Error(`session policy for ${ids.join(", ")} is ${policy.length} characters, over STS's ${SESSION_POLICY_LIMIT}`);
  return policy;
}

/** The session policy's text, whatever its length (batching measures it). */
function sessionPolicyText(o: Pick<EcrMintOptions, "customerId" | "customerIds" | "repoPrefix" | "accountId" | "region" | "productsOf">): string {
  const ids = o.customerIds ?? [o.customerId];
  const arns = ids.flatMap((id) => {
    const prefix = namesFor(id, { repoPrefix: o.repoPrefix }).ecrRepositoryPrefix;
    const products = o.productsOf?.(id);
    return (products ? products.map((p) => `${prefix}${p}/*`) : [`${prefix}*`]).map((glob) => ecrRepositoryArn(o.region, o.accountId, glob));
  });
  if (arns.length === 0) throw new Error(`customer ${ids.join(", ")} is entitled to no product: no ECR repository to reach`);
  return JSON.stringify(ecrPushPullPolicy("CustomerPrefix", arns));
}

/** Split customers into runs whose one session policy fits STS's limit: each run is one delivery session. */
export function ecrDeliveryBatches(o: Pick<EcrMintOptions, "repoPrefix" | "accountId" | "region" | "productsOf">, customerIds: string[]): string[][] {
  const batches: string[][] = [];
  let current: string[] = [];
  for (const id of customerIds) {
    const next = [...current, id];
    if (current.length && sessionPolicyText({ ...o, customerId: id, customerIds: next }).length > SESSION_POLICY_LIMIT - 64) {
      batches.push(current);
      current = [id];
    } else current = next;
  }
  if (current.length) batches.push(current);
  return batches;
}

/**
 * AssumeRole on the push role with the customer's session policy (effective permissions are the
 * intersection of the role's and the session's), then GetAuthorizationToken with that session.
 * The token claims 12 h, but it carries the session's permissions and dies with the session:
 * role chaining caps that at 1 h, so expiresAt is the earlier of the two.
 */
export async function mintEcr(o: EcrMintOptions): Promise<MintedCredential> {
  return (await mintEcrSession(o)).credential;
}

/** As mintEcr, and the ECR client of the same session (for DescribeImages during a delivery). */
export async function mintEcrSession(o: EcrMintOptions): Promise<{ credential: MintedCredential; ecr: ECRClient }> {
  const sts = o.sts ?? new STSClient({ region: o.region });
  const session = await sts.send(
    new AssumeRoleCommand({
      RoleArn: o.pushRoleArn,
      RoleSessionName: (o.customerIds ? `intake-delivery-${o.customerIds.length}` : `intake-${o.customerId}`).slice(0, 64),
      DurationSeconds: TOKEN_SECONDS,
      Policy: ecrSessionPolicy(o),
      Tags: [o.customerIds ? { Key: "intake-role", Value: "delivery" } : { Key: CUSTOMER_SESSION_TAG, Value: o.customerId }],
    }),
  );
  const c = session.Credentials;
  if (!c?.AccessKeyId || !c.SecretAccessKey || !c.SessionToken || !c.Expiration) throw new Error(`STS AssumeRole on ${o.pushRoleArn} returned no credentials`);
  const creds = { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken };
  const ecr = o.ecrClient?.(creds) ?? new ECRClient({ region: o.region, credentials: creds });
  const auth = await ecr.send(new GetAuthorizationTokenCommand({}));
  const data = auth.authorizationData?.[0];
  if (!data?.authorizationToken || !data.expiresAt) throw new Error("ECR GetAuthorizationToken returned no token");
  const [username, ...rest] = Buffer.from(data.authorizationToken, "base64").toString("utf8").split(":");
  const registry = (data.proxyEndpoint ?? `https://${o.accountId}.dkr.ecr.${o.region}.amazonaws.com`).replace(/^https?:\/\//, "");
  const prefix = namesFor(o.customerId, { repoPrefix: o.repoPrefix }).ecrRepositoryPrefix;
  const credential: MintedCredential = {
    kind: "ecr",
    registry,
    namespace: `${registry}/${prefix}`,
    username,
    password: rest.join(":"),
    expiresAt: new Date(Math.min(data.expiresAt.getTime(), c.Expiration.getTime())),
    scope: { repositories: `${prefix}*`, role: o.pushRoleArn },
  };
  return { credential, ecr };
}

/**
 * Every tag of an ECR repository and its digest, from DescribeImages (up to 1,000 images a page):
 * one API call answers the versioned tag, the platform tags and `latest` at once, where the
 * registry API needs a HEAD per tag. A repository that does not exist yet holds nothing.
 */
export async function ecrTagDigests(ecr: ECRClient, repositoryName: string): Promise<Map<string, string>> {
  const tags = new Map<string, string>();
  let nextToken: string | undefined;
  try {
    do {
      const page = await ecr.send(new DescribeImagesCommand({ repositoryName, filter: { tagStatus: "TAGGED" }, maxResults: 1000, nextToken }));
      for (const d of page.imageDetails ?? []) for (const t of d.imageTags ?? []) if (d.imageDigest) tags.set(t, d.imageDigest);
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (e) {
    if ((e as { name?: string }).name === "RepositoryNotFoundException") return tags;
    throw e;
  }
  return tags;
}

/** With a catalogue, each customer's entitled products (the roster's word now); without one, none asked. */
function productsOf(s: Settings, roster: Roster): ((id: string) => string[] | undefined) | undefined {
  const catalogue = s.products;
  if (!catalogue) return undefined;
  return (id) => {
    const c = roster.customers.find((x) => x.id === id);
    return c ? entitledProducts(c, catalogue, s.tierEntitlements) : [];
  };
}

/** The push role's ARN as the platform (kinds/ecr/platform.ts) names it. */
export function defaultPushRoleArn(s: Settings): string {
  return `arn:${awsPartition(s.aws!.region).partition}:iam::${s.aws!.accountId}:role/${s.repoPrefix}/${s.repoPrefix}-ecr-push`;
}

/** A 12 h ECR token for one customer, through the push role narrowed to its prefix. */
export const mint: Minter = (c, ctx) => {
  const s = ctx.settings;
  return mintEcr({
    customerId: c.id,
    repoPrefix: s.repoPrefix,
    accountId: s.aws!.accountId,
    region: s.aws!.region,
    pushRoleArn: ctx.pushRoleArn ?? defaultPushRoleArn(s),
    productsOf: productsOf(s, ctx.roster),
  });
};

/** Delivery: the push role with one session policy over a batch of customers' prefixes (as many as STS's 2,048-character limit allows), so blobs mount within each batch. */
export const ecrDelivery: SharedDelivery = (customers, o) => {
  const s = o.settings;
  // A release reaches its own product only (its customers are the entitled ones): one glob each.
  const base = {
    repoPrefix: s.repoPrefix,
    accountId: s.aws!.accountId,
    region: s.aws!.region,
    productsOf: o.product !== undefined ? () => [o.product!] : productsOf(s, o.roster),
  };
  return each(ecrDeliveryBatches(base, customers), async (batch) => {
    const { credential: c, ecr } = await mintEcrSession({
      ...base,
      customerId: batch[0],
      customerIds: batch,
      pushRoleArn: o.mint.pushRoleArn ?? defaultPushRoleArn(s),
      ...o.ecr,
    });
    return {
      registry: o.registry,
      credential: { username: c.username, password: c.password },
      customers: batch,
      tagLookup: (repository: string) => ecrTagDigests(ecr, repository),
    };
  });
};
