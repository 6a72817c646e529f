import { awsPartition } from "../../core/iam";
import type { Settings } from "../../core/settings";
import type { Customer, Roster } from "../../customers/roster";
import { shardOf, shardStackName } from "../../customers/shards";
import type { RegistryKind } from "../../core/tiers";
import { AccessDenied, checkAccess } from "../../core/access";
import type { SigningKey } from "../broker/keys";
import { mintAcr } from "./acr";
import { mintEcr } from "./ecr";
import { mintGar } from "./gar";
import { ghcrCredential, mintDistribution } from "./ghcr-distribution";
import { MissingCredential, type MintedCredential } from "./types";

export { AccessDenied } from "../../core/access";

export interface MintContext {
  settings: Settings;
  roster: Roster;
  /** distribution: the broker's private key. */
  signingKey?: SigningKey;
  /** ghcr: the customer's machine-user PAT (the stack secret, decrypted by the caller). */
  ghcrToken?: string;
  /** acr: the subscription of the shared registry. */
  azureSubscriptionId?: string;
  /** ecr: the push role; default the one the platform declares. */
  pushRoleArn?: string;
  /** acr: which of the token's two password slots to regenerate (the broker's endpoint keeps password1, one-off mints use password2). */
  acrPasswordSlot?: "password1" | "password2";
  /** YYYY-MM-DD; default today. A stack's pinned asOf is for plans, never for minting. */
  today?: string;
}

/** The push role's ARN as PlatformRegistries names it. */
export function defaultPushRoleArn(s: Settings): string {
  return `arn:${awsPartition(s.aws!.region).partition}:iam::${s.aws!.accountId}:role/${s.repoPrefix}/${s.repoPrefix}-ecr-push`;
}

/** A cloud SDK's "no credentials anywhere", per kind, and what to set. */
const NO_CLOUD_CREDENTIALS: Partial<Record<RegistryKind, { is: (e: Error) => boolean; fix: string }>> = {
  ecr: { is: (e) => e.name === "CredentialsProviderError", fix: "ecr: no AWS credentials found: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or run where a role is attached that may assume the push role" },
  // google-auth-library says so in its message only.
  gar: { is: (e) => /Could not load the default credentials/.test(e.message), fix: "gar: no Google credentials found: set GOOGLE_APPLICATION_CREDENTIALS, or run `gcloud auth application-default login`, or run where a service account is attached" },
  acr: { is: (e) => e.name === "CredentialUnavailableError" || e.name === "AggregateAuthenticationError", fix: "acr: no Azure credentials found: set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET, or run `az login`, or run where a managed identity is attached" },
};

/** Check the license, then mint with the kind's own SDK. Throws AccessDenied with a reason a person can act on. */
export async function mintFor(customerId: string, kind: RegistryKind, ctx: MintContext): Promise<MintedCredential> {
  try {
    return await mintWith(customerId, kind, ctx);
  } catch (e) {
    const missing = NO_CLOUD_CREDENTIALS[kind];
    if (missing && e instanceof Error && missing.is(e)) throw new MissingCredential(missing.fix);
    throw e;
  }
}

async function mintWith(customerId: string, kind: RegistryKind, ctx: MintContext): Promise<MintedCredential> {
  const s = ctx.settings;
  const decision = checkAccess(ctx.roster, customerId, kind, { tierTable: s.tierTable, asOf: ctx.today ?? new Date().toISOString().slice(0, 10), enabledKinds: s.enabledKinds });
  if (!decision.allowed) throw new AccessDenied(decision.reason);
  const base = { customerId, repoPrefix: s.repoPrefix };
  switch (kind) {
    case "ecr":
      return mintEcr({ ...base, accountId: s.aws!.accountId, region: s.aws!.region, pushRoleArn: ctx.pushRoleArn ?? defaultPushRoleArn(s) });
    case "acr": {
      if (!ctx.azureSubscriptionId) throw new MissingCredential("acr: the registry's subscription is needed: pass --subscription ID or set AZURE_SUBSCRIPTION_ID");
      const [{ ContainerRegistryManagementClient }, { DefaultAzureCredential }] = await Promise.all([import("@azure/arm-containerregistry"), import("@azure/identity")]);
      const client = new ContainerRegistryManagementClient(new DefaultAzureCredential(), ctx.azureSubscriptionId);
      // The dynamic import gives the ESM build of the same class the CommonJS type names.
      return mintAcr({ ...base, subscriptionId: ctx.azureSubscriptionId, resourceGroupName: s.acr!.resourceGroupName, registryName: s.acr!.registryName, client: client as never, slot: ctx.acrPasswordSlot ?? "password2" });
    }
    case "gar": {
      const { GoogleAuth } = await import("google-auth-library");
      const client = await new GoogleAuth({ scopes: ["https://www.googleapis.com/auth/cloud-platform"] }).getClient();
      return mintGar({ ...base, project: s.gar!.project, location: s.gar!.location, client: client as never });
    }
    case "ghcr":
      return ghcrCredential({ ...base, owner: s.ghcr!.owner, machineUser: decision.customer.github?.machineUser, token: ctx.ghcrToken, stack: patStack(s, decision.customer) });
    case "distribution": {
      if (!ctx.signingKey) throw new MissingCredential("distribution: the broker's private key is needed to mint an offline credential: pass --key KEY.pem (INTAKE_BROKER_KEY for the credential helper)");
      const d = s.distribution!;
      return mintDistribution({ ...base, host: d.host, service: d.service, issuer: d.issuer, key: ctx.signingKey });
    }
  }
}

/** The stack whose file holds a customer's machine-user PAT: its shard stack when sharded. */
function patStack(s: Settings, c: Customer): string {
  return s.shard && s.shard.index === undefined ? shardStackName(s.stack, shardOf(c, s.shard.count), s.shard.count) : s.stack;
}

/** A docker config.json fragment for one credential. */
export function dockerConfig(c: MintedCredential): { auths: Record<string, { auth: string }> } {
  return { auths: { [c.registry]: { auth: Buffer.from(`${c.username}:${c.password}`).toString("base64") } } };
}
