import { awsPartition } from "../../core/iam";
import { awsId, CREATED, digest, uuid, type KindFake } from "../fake";

/** JSON whitespace IAM does not count toward a policy's size. */
function policySize(policy: unknown): number {
  return typeof policy === "string" ? policy.replace(/\s+/g, "").length : JSON.stringify(policy ?? "").length;
}

/** ECR, IAM and KMS as the clouds answer: realistic outputs, and what they refuse at create. */
export const ecrFake: KindFake = {
  makers: {
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
        state: {
          ...i,
          name: role,
          arn: `arn:${awsPartition(c.region).partition}:iam::${c.accountId}:role${i.path ?? "/"}${role}`,
          uniqueId: awsId("AROA", role),
          createDate: CREATED,
        },
      };
    },
    "aws:iam/user:User": (name, i, c) => {
      const user = String(i.name ?? name);
      return {
        id: user,
        state: {
          ...i,
          name: user,
          arn: `arn:${awsPartition(c.region).partition}:iam::${c.accountId}:user${i.path ?? "/"}${user}`,
          uniqueId: awsId("AIDA", user),
        },
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
    "aws:kms/alias:Alias": (_n, i, c) => ({
      id: String(i.name),
      state: { ...i, arn: `arn:${awsPartition(c.region).partition}:kms:${c.region}:${c.accountId}:${i.name}` },
    }),
  },
  refusal: (type, inputs) => {
    if (type === "aws:ecr/repositoryCreationTemplate:RepositoryCreationTemplate") {
      const tags = inputs.resourceTags && Object.keys(inputs.resourceTags as object).length > 0;
      const kms = ((inputs.encryptionConfigurations ?? []) as { encryptionType?: string }[]).some((e) => e.encryptionType === "KMS");
      if ((tags || kms) && !inputs.customRoleArn) {
        return `InvalidParameterException: repository creation template ${inputs.prefix}: customRoleArn is required when resourceTags or KMS encryption are set`;
      }
    }
    if (type === "aws:iam/userPolicy:UserPolicy" && policySize(inputs.policy) > 2048) {
      return `LimitExceeded: Maximum policy size of 2048 bytes exceeded for user ${inputs.user} (${policySize(inputs.policy)} without whitespace)`;
    }
    return undefined;
  },
};
