import type * as pulumi from "@pulumi/pulumi";
import type { AclEntry } from "../core/acl";
import type { CustomerNames } from "../core/naming";
import type { Settings } from "../core/settings";
import type { Customer } from "../customers/roster";
import type { CustomerState } from "../customers/status";
import type { PullGenerator } from "./pull-secrets";
import type { KeptResources } from "./kept";

/** What customer components need from the platform: the PlatformRegistries itself, or (on a shard stack) a stack reference to it. */
export interface PlatformOutputs {
  ecrKmsKeyArn?: pulumi.Output<string>;
  acrRegistryName?: pulumi.Output<string>;
}

/** What one registry kind's component hands back to the customer. */
interface KindResult {
  /** Long-lived credential id, if the kind declares one (never a secret value). */
  credentialId?: pulumi.Output<string | undefined>;
  /** Long-lived secret, always a Pulumi secret. */
  credentialSecret?: pulumi.Output<string | undefined>;
  /** The user name and secret a docker client logs in with, where a long-lived one exists. */
  pull?: { username: pulumi.Input<string | undefined>; password: pulumi.Input<string | undefined> };
  /** How an External Secrets Operator generator mints this kind's credential with the customer's scope (pullSecrets.mode eso). */
  generator?: PullGenerator;
  /** The Distribution broker's access-list entry. */
  aclEntry?: pulumi.Output<AclEntry | undefined>;
}

export interface KindContext {
  name: string;
  customer: Customer;
  state: CustomerState;
  names: CustomerNames;
  settings: Settings;
  platform: PlatformOutputs;
  tags: Record<string, string>;
  keptList: KeptResources;
  /** With a product catalogue: the products the customer is entitled to (undefined: no catalogue). */
  products?: string[];
  parent: pulumi.Resource;
}

/** One kind's part of a customer: its component, declared under the customer's (kinds/<kind>/component.ts). */
export type KindBuilder = (ctx: KindContext) => KindResult;

/** A kind's settings for a customer, or a refusal naming what is missing. */
export function need<T>(v: T | undefined, what: string, id: string): T {
  if (v === undefined) throw new Error(`customer ${id}: ${what} is required by this registry kind`);
  return v;
}
