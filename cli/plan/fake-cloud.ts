import { createHash } from "node:crypto";
import type * as pulumi from "@pulumi/pulumi";

/** What the fake cloud needs to invent believable identifiers. */
export interface FakeCloudContext {
  accountId: string;
  region: string;
}

type State = Record<string, unknown>;
type Maker = (name: string, inputs: State, ctx: FakeCloudContext) => { id: string | undefined; state: State };

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

/** Realistic outputs per resource type, so the plan shows ARNs and URLs as the cloud would. */
const MAKERS: Record<string, Maker> = {
  "aws:ecr/repository:Repository": (name, i, c) => {
    const repo = String(i.name ?? name);
    const region = String(i.region ?? c.region);
    return {
      id: repo,
      state: {
        ...i,
        name: repo,
        arn: `arn:aws:ecr:${region}:${c.accountId}:repository/${repo}`,
        registryId: c.accountId,
        repositoryUrl: `${c.accountId}.dkr.ecr.${region}.amazonaws.com/${repo}`,
      },
    };
  },
  "aws:ecr/lifecyclePolicy:LifecyclePolicy": (_n, i, c) => ({ id: String(i.repository), state: { ...i, registryId: c.accountId } }),
  "aws:iam/role:Role": (name, i, c) => {
    const role = String(i.name ?? name);
    return {
      id: role,
      state: { ...i, name: role, arn: `arn:aws:iam::${c.accountId}:role${i.path ?? "/"}${role}`, uniqueId: awsId("AROA", role), createDate: CREATED },
    };
  },
  "aws:iam/user:User": (name, i, c) => {
    const user = String(i.name ?? name);
    return {
      id: user,
      state: { ...i, name: user, arn: `arn:aws:iam::${c.accountId}:user${i.path ?? "/"}${user}`, uniqueId: awsId("AIDA", user) },
    };
  },
  "aws:iam/userPolicy:UserPolicy": (_n, i) => ({ id: `${i.user}:${i.name}`, state: { ...i } }),
  "aws:iam/rolePolicy:RolePolicy": (_n, i) => ({ id: `${i.role}:${i.name}`, state: { ...i } }),
  "aws:iam/accessKey:AccessKey": (_n, i) => {
    const seed = `${i.user}`;
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
};

/** The `newResource` of the mock engine: components get no id; unknown types echo their inputs. */
export function fakeCloud(ctx: FakeCloudContext): (args: pulumi.runtime.MockResourceArgs) => { id: string | undefined; state: State } {
  return (args) => {
    if (args.custom === false) return { id: undefined, state: {} };
    const make = MAKERS[args.type];
    if (make) return make(args.name, args.inputs ?? {}, ctx);
    return { id: `${args.name}-${digest(args.type, args.name).slice(0, 8)}`, state: { ...args.inputs } };
  };
}

/** Types the fake cloud models; the plan lists others as "inputs only". */
export const MODELLED_TYPES = new Set(Object.keys(MAKERS));
