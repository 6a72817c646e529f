import { K8S_META, need, type KindFacts, type ResourceFacts } from "../types";

export interface DistributionNames {
  /** Path prefix on the self-hosted Distribution registry, e.g. `intake/acme/`. */
  distributionPathPrefix: string;
  /** Robot account user name on the Distribution registry. */
  distributionRobot: string;
}

/**
 * A robot's password, and the registry's own objects on the cluster (their create-only fields as
 * pulumi-kubernetes lists them, provider/pkg/provider/diff.go, v4.25; a ConfigMap's data changes
 * in place, per the project's kubernetes:enableConfigMapMutable).
 */
const RESOURCES: ResourceFacts[] = [
  {
    type: "random:index/randomPassword:RandomPassword",
    of: "customer",
    display: (_i, name) => `robot secret ${name}`,
    credential: true,
    secrets: ["result", "bcryptHash"],
    replaceOn: ["length", "special", "keepers", "minLower", "minUpper", "minNumeric"],
  },
  {
    type: "kubernetes:core/v1:PersistentVolumeClaim",
    of: "platform",
    replaceOn: [...K8S_META, "spec.accessModes", "spec.selector", "spec.storageClassName", "spec.volumeName"],
    kept: "pvc",
    retention: ({ name, kept, unknown }) =>
      kept || unknown || !/registry/.test(name) ? undefined : "holds the self-hosted registry's images and is not retainOnDelete",
  },
  { type: "kubernetes:apps/v1:Deployment", of: "platform", replaceOn: [...K8S_META, "spec.selector"] },
  { type: "kubernetes:core/v1:Service", of: "platform", replaceOn: [...K8S_META, "spec.clusterIP"] },
  { type: "kubernetes:core/v1:ConfigMap", of: "platform", replaceOn: K8S_META },
];

/** A self-hosted CNCF Distribution registry: `<prefix>/<id>/*`, a robot in the token broker's access list. */
export const distribution: KindFacts<DistributionNames> = {
  kind: "distribution",
  names: (id, p) => ({ distributionPathPrefix: `${p}/${id}/`, distributionRobot: `${p}-robot-${id}` }),
  // Paths and robot names follow from the id rule itself.
  nameRules: [],
  host: (s) => need(s.distribution, "distribution").host,
  path: (n) => n.distributionPathPrefix,
  resources: RESOURCES,
  deletes: () => ({ may: false, why: "the broker grants robots pull and push only" }),
  owners: [],
};
