import type * as pulumi from "@pulumi/pulumi";
import { keptKey } from "../core/kept";
import { KIND_RESOURCES, keptAs } from "../kinds";
import { digest, k8s, type FakeCloudContext, type Maker, type State } from "../kinds/fake";
import { FAKES } from "../kinds/fakes";

export type { FakeCloudContext, Maker, State } from "../kinds/fake";

const KIND_FAKES = Object.values(FAKES);

/**
 * Realistic outputs per resource type, so the plan shows ARNs and URLs as the cloud would: each
 * kind's (kinds/<kind>/fake.ts), and those of the types no one kind owns.
 * The local provider plugins (providers/) create with these too, so the plan and a real engine agree.
 */
export const MAKERS: Record<string, Maker> = {
  ...Object.assign({}, ...KIND_FAKES.map((f) => f.makers)),

  // A plan runs no command: it has no output yet.
  "command:local:Command": (name, i) => ({ id: `${name}-${digest("command", name).slice(0, 8)}`, state: { ...i, stdout: "", stderr: "" } }),

  "kubernetes:core/v1:Secret": k8s,
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
export const PUT_TYPES: ReadonlySet<string> = new Set(KIND_RESOURCES.filter((r) => r.put).map((r) => r.type));

/**
 * Types whose id the cloud chooses at create (a KMS key's id is a fresh UUID): one left in the
 * cloud by `retainOnDelete` is never a name clash, and the next create gets another id.
 */
export const CLOUD_NAMED_TYPES: ReadonlySet<string> = new Set(KIND_RESOURCES.filter((r) => r.cloudNamed).map((r) => r.type));

/** The first answer a kind gives, or undefined. */
function firstOf<T>(ask: (f: (typeof KIND_FAKES)[number]) => T | undefined): T | undefined {
  for (const f of KIND_FAKES) {
    const answer = ask(f);
    if (answer !== undefined) return answer;
  }
  return undefined;
}

/**
 * What the clouds refuse at create, as each has refused a first `pulumi up` somewhere: the
 * cloud's error for these inputs, or undefined. Both the offline plan and the local provider
 * plugins apply it, so a program that would be refused fails a test here first.
 */
export function cloudRefusal(type: string, inputs: State): string | undefined {
  return firstOf((f) => f.refusal?.(type, inputs));
}

/**
 * What the clouds refuse on update, given what the cloud holds (`stored`, its outputs) and the new
 * inputs: the cloud's error, or undefined.
 */
export function cloudUpdateRefusal(type: string, stored: State, inputs: State, changedKeys: string[]): string | undefined {
  return firstOf((f) => f.updateRefusal?.(type, stored, inputs, changedKeys));
}

/**
 * What a delete leaves in the cloud: the record's outputs as they stay, or undefined when the
 * resource is gone (a GitHub repository with archiveOnDestroy is archived, not deleted).
 */
export function deleteLeaves(type: string, outputs: State): State | undefined {
  return firstOf((f) => f.deleteLeaves?.(type, outputs));
}

/** The `newResource` of the mock engine: components get no id; unknown types echo their inputs. */
export function fakeCloud(ctx: FakeCloudContext): (args: pulumi.runtime.MockResourceArgs) => { id: string | undefined; state: State } {
  return (args) => {
    if (args.custom === false) return { id: undefined, state: {} };
    if (args.type === "pulumi:pulumi:StackReference") {
      const outputs = ctx.platformOutputs ?? {};
      return {
        id: String(args.inputs?.name ?? args.name),
        state: { name: args.inputs?.name, outputs, secretOutputNames: Object.keys(outputs).filter((k) => /password|secret/i.test(k)) },
      };
    }
    const make = MAKERS[args.type];
    const made = make?.(args.name, args.inputs ?? {}, ctx);
    // An adoption (import) reads what exists; a kept resource the state holds is updated: neither is a create.
    const kind = keptAs(args.type);
    const exists = args.id || (kind && made?.id && ctx.existing?.has(keptKey(kind, made.id)));
    const refused = exists ? undefined : cloudRefusal(args.type, args.inputs ?? {});
    if (refused) throw new Error(`${args.type} ${args.name}: ${refused}`);
    if (made) return made;
    return { id: `${args.name}-${digest(args.type, args.name).slice(0, 8)}`, state: { ...args.inputs } };
  };
}

/** Types the fake cloud models; the plan lists others as "inputs only". */
