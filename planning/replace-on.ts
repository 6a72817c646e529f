import { KIND_RESOURCES } from "../kinds";
import { K8S_META } from "../kinds/types";

/**
 * Inputs whose change makes the provider replace the resource (create-only fields), per type;
 * a dotted path names a field inside an input. Shared by the offline plan (planning/diff.ts) and
 * the local provider plugins (providers/). Each kind declares its own types' (`replaceOn`); here
 * the Kubernetes objects no one kind owns, as the real provider lists them
 * (pulumi-kubernetes provider/pkg/provider/diff.go, v4.25), with the project's
 * kubernetes:enableSecretMutable (Pulumi.yaml): a Secret's data changes in place.
 */
const REPLACE_ON: Record<string, string[]> = {
  ...Object.fromEntries(KIND_RESOURCES.flatMap((r) => (r.replaceOn ? [[r.type, r.replaceOn]] : []))),
  "kubernetes:core/v1:Secret": [...K8S_META, "type"],
  "kubernetes:core/v1:ServiceAccount": K8S_META,
  "kubernetes:batch/v1:CronJob": K8S_META,
  "kubernetes:rbac.authorization.k8s.io/v1:Role": K8S_META,
  "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding": [...K8S_META, "roleRef"],
};

/** The value at a dotted path of an object (undefined where a step is missing). */
function at(value: unknown, dotted: string): unknown {
  let v = value;
  for (const step of dotted.split(".")) v = v && typeof v === "object" ? (v as Record<string, unknown>)[step] : undefined;
  return v;
}

/**
 * The replace-on fields of `type` whose values differ between the old and new inputs, leaving out
 * those under an ignored input; any Kubernetes type (a custom resource too) is replaced when its
 * name or namespace changes.
 */
export function replacedBy(type: string, olds: Record<string, unknown>, news: Record<string, unknown>, ignoreChanges: string[] = []): string[] {
  const fields = REPLACE_ON[type] ?? (type.startsWith("kubernetes:") ? K8S_META : []);
  return fields.filter((f) => !ignoreChanges.includes(f.split(".")[0]) && JSON.stringify(at(olds, f)) !== JSON.stringify(at(news, f)));
}
