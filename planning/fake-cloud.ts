import bcrypt from "bcrypt";
import { awsPartition } from "../core/iam";
import { ledgerKey } from "../core/ledger";
import { keptAs } from "../kinds";
import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";

/** What the fake cloud needs to invent believable identifiers. */
export interface FakeCloudContext {
  accountId: string;
  region: string;
  /** The GitHub organisation the provider acts for. */
  githubOwner?: string;
  /** Kept resources the stack's state holds (its ledger's `declared`): updated, not created. */
  existing?: ReadonlySet<string>;
  /** What a `pulumi.StackReference` to the platform stack reads (a shard stack's plan). */
  platformOutputs?: Record<string, unknown>;
}

export type State = Record<string, unknown>;
export type Maker = (name: string, inputs: State, ctx: FakeCloudContext) => { id: string | undefined; state: State };

function digest(...parts: string[]): string {
  return createHash("sha256").update(parts.join("\0")).digest("hex");
}

/** Upper-case base32-ish id like IAM's unique ids and access key ids. */
function awsId(prefix: string, seed: string): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  const h = Buffer.from(digest(prefix, seed), "hex");
  let out = prefix;
  for (let i = 0; out.length < 20; i++) out += alphabet[h[i] % 32];
  return out;
}

const CREATED = "2026-01-01T00:00:00Z";

/** A UUID derived from a seed, for Azure subscription ids and the like. */
function uuid(seed: string): string {
  const h = digest("uuid", seed);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * A number of `digits` digits (no leading zero) from a seed, spread evenly over its whole range
 * (the leading digits of a hash's decimal form cluster: two GitHub teams shared an id at a few
 * thousand customers, and the policy pack saw one customer's grants as another's).
 */
function numeric(seed: string, digits: number): string {
  const low = 10n ** BigInt(digits - 1);
  return (low + (BigInt(`0x${digest("n", seed).slice(0, 32)}`) % (9n * low))).toString();
}

/**
 * Ids of one type issued in this process, so two names never share one: on the rare clash the
 * later name takes the next candidate of its own seed. Same name, same id (a resource read again).
 */
const issued = new Map<string, Map<string, string>>();
function uniqueId(type: string, name: string, make: (attempt: number) => string): string {
  const ids = issued.get(type) ?? issued.set(type, new Map()).get(type)!;
  for (let attempt = 0; ; attempt++) {
    const id = make(attempt);
    const holder = ids.get(id);
    if (holder === undefined || holder === name) {
      ids.set(id, name);
      return id;
    }
  }
}

function alnum(seed: string, n: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const h = Buffer.from(digest("alnum", seed) + digest("alnum2", seed), "hex");
  let out = "";
  for (let i = 0; out.length < n; i++) out += alphabet[h[i % h.length] % alphabet.length];
  return out;
}

function azureId(c: FakeCloudContext, rg: unknown, path: string): string {
  return `/subscriptions/${uuid(c.accountId)}/resourceGroups/${rg}/providers/Microsoft.ContainerRegistry/${path}`;
}

/** bcrypt's own base64 alphabet, for salts. */
const BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/** Kubernetes auto-names a resource `<logical>-<5 random chars>` unless metadata.name is set. */
function k8s(name: string, i: State): { id: string; state: State } {
  const meta = (i.metadata ?? {}) as Record<string, unknown>;
  const n = String(meta.name ?? `${name}-${digest("k8s", name).slice(0, 8)}`);
  const ns = String(meta.namespace ?? "default");
  return { id: `${ns}/${n}`, state: { ...i, metadata: { ...meta, name: n, namespace: ns, uid: uuid(`${ns}/${n}`) } } };
}

/**
 * Realistic outputs per resource type, so the plan shows ARNs and URLs as the cloud would.
 * The local provider plugins (providers/) create with these too, so the plan and a real engine agree.
 */
export const MAKERS: Record<string, Maker> = {
  "aws:ecr/repository:Repository": (name, i, c) => {
    const repo = String(i.name ?? name);
    const region = String(i.region ?? c.region);
    return {
      id: repo,
      state: {
        ...i,
        name: repo,
        arn: `arn:${awsPartition(region).partition}:ecr:${region}:${c.accountId}:repository/${repo}`,
        registryId: c.accountId,
        repositoryUrl: `${c.accountId}.dkr.ecr.${region}.${awsPartition(region).dnsSuffix}/${repo}`,
      },
    };
  },
  "aws:ecr/lifecyclePolicy:LifecyclePolicy": (_n, i, c) => ({ id: String(i.repository), state: { ...i, registryId: c.accountId } }),
  "aws:iam/role:Role": (name, i, c) => {
    const role = String(i.name ?? name);
    return {
      id: role,
      state: { ...i, name: role, arn: `arn:${awsPartition(c.region).partition}:iam::${c.accountId}:role${i.path ?? "/"}${role}`, uniqueId: awsId("AROA", role), createDate: CREATED },
    };
  },
  "aws:iam/user:User": (name, i, c) => {
    const user = String(i.name ?? name);
    return {
      id: user,
      state: { ...i, name: user, arn: `arn:${awsPartition(c.region).partition}:iam::${c.accountId}:user${i.path ?? "/"}${user}`, uniqueId: awsId("AIDA", user) },
    };
  },
  "aws:iam/userPolicy:UserPolicy": (_n, i) => ({ id: `${i.user}:${i.name}`, state: { ...i } }),
  "aws:iam/rolePolicy:RolePolicy": (_n, i) => ({ id: `${i.role}:${i.name}`, state: { ...i } }),
  "aws:iam/accessKey:AccessKey": (name, i) => {
    // A user holds up to two keys (a rotation's overlap): each its own id and secret.
    const seed = `${i.user}:${name}`;
    return {
      id: awsId("AKIA", seed),
      state: {
        ...i,
        // A value shaped like a real secret access key: the plan must mask it like a real one.
        secret: Buffer.from(digest("secret", seed), "hex").toString("base64").slice(0, 40),
        sesSmtpPasswordV4: Buffer.from(digest("ses", seed), "hex").toString("base64").slice(0, 44),
        status: i.status ?? "Active",
        createDate: CREATED,
      },
    };
  },
  "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate": (_n, i, c) => ({ id: String(i.prefix), state: { ...i, registryId: c.accountId } }),
  "aws:ecr/replicationConfiguration:ReplicationConfiguration": (_n, i, c) => ({ id: c.accountId, state: { ...i, registryId: c.accountId } }),
  "aws:ecr/accountSetting:AccountSetting": (_n, i) => ({ id: String(i.name), state: { ...i } }),
  "aws:kms/key:Key": (name, i, c) => {
    const keyId = uuid(`kms:${name}`);
    return { id: keyId, state: { ...i, keyId, arn: `arn:${awsPartition(c.region).partition}:kms:${c.region}:${c.accountId}:key/${keyId}` } };
  },
  "aws:kms/alias:Alias": (_n, i, c) => ({ id: String(i.name), state: { ...i, arn: `arn:${awsPartition(c.region).partition}:kms:${c.region}:${c.accountId}:${i.name}` } }),

  "azure-native:containerregistry:Registry": (_n, i, c) => {
    const name = String(i.registryName);
    return { id: azureId(c, i.resourceGroupName, `registries/${name}`), state: { ...i, name, loginServer: `${name.toLowerCase()}.azurecr.io`, provisioningState: "Succeeded" } };
  },
  "azure-native:containerregistry:Replication": (_n, i, c) => ({
    id: azureId(c, i.resourceGroupName, `registries/${i.registryName}/replications/${i.replicationName}`),
    state: { ...i, name: i.replicationName, provisioningState: "Succeeded" },
  }),
  "azure-native:containerregistry:ScopeMap": (_n, i, c) => ({
    id: azureId(c, i.resourceGroupName, `registries/${i.registryName}/scopeMaps/${i.scopeMapName}`),
    state: { ...i, name: i.scopeMapName, type: "UserDefined", provisioningState: "Succeeded" },
  }),
  "azure-native:containerregistry:Token": (_n, i, c) => ({
    id: azureId(c, i.resourceGroupName, `registries/${i.registryName}/tokens/${i.tokenName}`),
    state: { ...i, name: i.tokenName, provisioningState: "Succeeded" },
  }),

  "gcp:artifactregistry/repository:Repository": (_n, i) => ({
    id: `projects/${i.project}/locations/${i.location}/repositories/${i.repositoryId}`,
    state: { ...i, name: i.repositoryId, createTime: CREATED },
  }),
  "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": (_n, i) => ({
    id: `projects/${i.project}/locations/${i.location}/repositories/${i.repository}/${i.role}/${i.member}`,
    state: { ...i, etag: `BwY${alnum(`etag:${i.repository}:${i.member}`, 9)}=` },
  }),
  "gcp:serviceaccount/account:Account": (_n, i) => {
    const email = `${i.accountId}@${i.project}.iam.gserviceaccount.com`;
    return {
      id: `projects/${i.project}/serviceAccounts/${email}`,
      // GCP ignores `disabled` when it creates an account: it starts enabled whatever was asked.
      state: { ...i, disabled: false, email, name: `projects/${i.project}/serviceAccounts/${email}`, member: `serviceAccount:${email}`, uniqueId: numeric(email, 21) },
    };
  },
  "gcp:serviceaccount/iAMMember:IAMMember": (_n, i) => ({ id: `${i.serviceAccountId}/${i.role}/${i.member}`, state: { ...i, etag: `BwY${alnum(`etag:${i.serviceAccountId}`, 9)}=` } }),
  "gcp:serviceaccount/key:Key": (_n, i) => {
    const keyId = digest("gkey", String(i.serviceAccountId)).slice(0, 40);
    const json = JSON.stringify({ type: "service_account", private_key_id: keyId, private_key: "-----BEGIN PRIVATE KEY-----\nFAKE\n-----END PRIVATE KEY-----\n" });
    return { id: `${i.serviceAccountId}/keys/${keyId}`, state: { ...i, name: keyId, privateKey: Buffer.from(json).toString("base64"), publicKey: "" } };
  },

  "github:index/repository:Repository": (_n, i, c) => ({
    id: String(i.name),
    state: { ...i, fullName: `${c.githubOwner ?? "github-owner"}/${i.name}`, htmlUrl: `https://github.com/${c.githubOwner ?? "github-owner"}/${i.name}`, nodeId: `R_${alnum(`repo:${i.name}`, 14)}`, repoId: Number(numeric(`repo:${i.name}`, 9)) },
  }),
  "github:index/team:Team": (_n, i) => {
    // 15 digits (a JavaScript number holds them exactly): unique across hundreds of thousands of teams, and checked.
    const id = uniqueId("github-team", String(i.name), (n) => numeric(`team:${i.name}${n ? `:${n}` : ""}`, 15));
    return { id, state: { ...i, slug: String(i.name).toLowerCase(), nodeId: `T_${alnum(`team:${i.name}`, 14)}` } };
  },
  "github:index/teamMembership:TeamMembership": (_n, i) => ({ id: `${i.teamId}:${i.username}`, state: { ...i } }),
  "github:index/teamRepository:TeamRepository": (_n, i) => ({ id: `${i.teamId}:${i.repository}`, state: { ...i } }),

  // A plan runs no command: it has no output yet.
  "command:local:Command": (name, i) => ({ id: `${name}-${digest("command", name).slice(0, 8)}`, state: { ...i, stdout: "", stderr: "" } }),
  "random:index/randomPassword:RandomPassword": (name, i) => {
    const result = alnum(`password:${name}`, Number(i.length ?? 32));
    // A real bcrypt hash (cost 4: this is a plan; native, as the broker checks it), so an access list from the plan verifies; its
    // salt from the name, so every plan of the same roster has the same hash.
    const salt = `$2b$04$${[...Buffer.from(digest("salt", name), "hex")].slice(0, 22).map((b) => BCRYPT_ALPHABET[b % 64]).join("")}`;
    return { id: "none", state: { ...i, result, bcryptHash: bcrypt.hashSync(result, salt) } };
  },

  "kubernetes:core/v1:Secret": k8s,
  "kubernetes:core/v1:ConfigMap": k8s,
  "kubernetes:core/v1:Service": k8s,
  "kubernetes:core/v1:PersistentVolumeClaim": k8s,
  "kubernetes:apps/v1:Deployment": k8s,
  "kubernetes:core/v1:ServiceAccount": k8s,
  "kubernetes:rbac.authorization.k8s.io/v1:Role": k8s,
  "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": k8s,
  "kubernetes:batch/v1:CronJob": k8s,
  "kubernetes:external-secrets.io/v1:ExternalSecret": k8s,
  "kubernetes:generators.external-secrets.io/v1alpha1:ECRAuthorizationToken": k8s,
  "kubernetes:generators.external-secrets.io/v1alpha1:GCRAccessToken": k8s,
};

/**
 * Account- and registry-wide settings whose "create" is a put (ECR PutAccountSetting,
 * PutReplicationConfiguration): the cloud overwrites rather than refusing a second one.
 */
export const PUT_TYPES: ReadonlySet<string> = new Set(["aws:ecr/accountSetting:AccountSetting", "aws:ecr/replicationConfiguration:ReplicationConfiguration"]);

/**
 * Types whose id the cloud chooses at create (a KMS key's id is a fresh UUID): one left in the
 * cloud by `retainOnDelete` is never a name clash, and the next create gets another id.
 */
export const CLOUD_NAMED_TYPES: ReadonlySet<string> = new Set(["aws:kms/key:Key"]);

/** JSON whitespace IAM does not count toward a policy's size. */
function policySize(policy: unknown): number {
  return typeof policy === "string" ? policy.replace(/\s+/g, "").length : JSON.stringify(policy ?? "").length;
}

/**
 * What the clouds refuse at create, as each has refused a first `pulumi up` somewhere: the
 * cloud's error for these inputs, or undefined. Both the offline plan and the local provider
 * plugins apply it, so a program that would be refused fails a test here first.
 */
export function cloudRefusal(type: string, inputs: State): string | undefined {
  if (type === "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate") {
    const tags = inputs.resourceTags && Object.keys(inputs.resourceTags as object).length > 0;
    const kms = ((inputs.encryptionConfigurations ?? []) as { encryptionType?: string }[]).some((e) => e.encryptionType === "KMS");
    if ((tags || kms) && !inputs.customRoleArn) {
      return `InvalidParameterException: repository creation template ${inputs.prefix}: customRoleArn is required when resourceTags or KMS encryption are set`;
    }
  }
  if (type === "github:index/repository:Repository" && inputs.archived === true) {
    // The provider archives in the create call's follow-up edit, then writes visibility, alerts
    // and topics to a repository that is read-only by then (integrations/terraform-provider-github#3084).
    return `403 Repository was archived so is read-only: ${inputs.name} (a repository cannot be created archived)`;
  }
  if (type === "aws:iam/userPolicy:UserPolicy" && policySize(inputs.policy) > 2048) {
    return `LimitExceeded: Maximum policy size of 2048 bytes exceeded for user ${inputs.user} (${policySize(inputs.policy)} without whitespace)`;
  }
  return undefined;
}

/** Repository settings the GitHub provider writes after its general edit, each in a call of its own. */
const SEPARATE_GITHUB_CALLS = new Set(["visibility", "topics", "vulnerabilityAlerts", "pages", "securityAndAnalysis"]);

/**
 * What the clouds refuse on update, given what the cloud holds (`stored`, its outputs) and the new
 * inputs: the cloud's error, or undefined.
 */
export function cloudUpdateRefusal(type: string, stored: State, inputs: State, changedKeys: string[]): string | undefined {
  if (type === "github:index/repository:Repository" && inputs.archived === true) {
    const others = changedKeys.filter((k) => k !== "archived");
    // Already archived: read-only. Being archived: the provider's general edit archives it, then
    // writes visibility, topics and alerts in calls of their own (terraform-provider-github#3649).
    const refused = stored.archived === true ? others : others.filter((k) => SEPARATE_GITHUB_CALLS.has(k));
    if (refused.length > 0) return `403 Repository was archived so is read-only: ${stored.name ?? inputs.name} (changing ${refused.join(", ")} on an archived repository)`;
  }
  return undefined;
}

/**
 * What a delete leaves in the cloud: the record's outputs as they stay, or undefined when the
 * resource is gone. A GitHub repository with archiveOnDestroy is archived, not deleted.
 */
export function deleteLeaves(type: string, outputs: State): State | undefined {
  if (type === "github:index/repository:Repository" && outputs.archiveOnDestroy === true) return { ...outputs, archived: true };
  return undefined;
}

/** The `newResource` of the mock engine: components get no id; unknown types echo their inputs. */
export function fakeCloud(ctx: FakeCloudContext): (args: pulumi.runtime.MockResourceArgs) => { id: string | undefined; state: State } {
  return (args) => {
    if (args.custom === false) return { id: undefined, state: {} };
    if (args.type === "pulumi:pulumi:StackReference") {
      const outputs = ctx.platformOutputs ?? {};
      return { id: String(args.inputs?.name ?? args.name), state: { name: args.inputs?.name, outputs, secretOutputNames: Object.keys(outputs).filter((k) => /password|secret/i.test(k)) } };
    }
    const make = MAKERS[args.type];
    const made = make?.(args.name, args.inputs ?? {}, ctx);
    // An adoption (import) reads what exists; a kept resource the state holds is updated: neither is a create.
    const kind = keptAs(args.type);
    const exists = args.id || (kind && made?.id && ctx.existing?.has(ledgerKey(kind, made.id)));
    const refused = exists ? undefined : cloudRefusal(args.type, args.inputs ?? {});
    if (refused) throw new Error(`${args.type} ${args.name}: ${refused}`);
    if (made) return made;
    return { id: `${args.name}-${digest(args.type, args.name).slice(0, 8)}`, state: { ...args.inputs } };
  };
}

/** Types the fake cloud models; the plan lists others as "inputs only". */
