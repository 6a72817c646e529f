import { need, type KindFacts } from "../types";

export interface DistributionNames {
  /** Path prefix on the self-hosted Distribution registry, e.g. `intake/acme/`. */
  distributionPathPrefix: string;
  /** Robot account user name on the Distribution registry. */
  distributionRobot: string;
}

/** A self-hosted CNCF Distribution registry: `<prefix>/<id>/*`, a robot in the token broker's access list. */
export const distribution: KindFacts<DistributionNames> = {
  kind: "distribution",
  names: (id, p) => ({ distributionPathPrefix: `${p}/${id}/`, distributionRobot: `${p}-robot-${id}` }),
  // Paths and robot names follow from the id rule itself.
  nameRules: [],
  host: (s) => need(s.distribution, "distribution").host,
  path: (n) => n.distributionPathPrefix,
  types: /^random:index\/randomPassword:RandomPassword$/,
  deletes: () => ({ may: false, why: "the broker grants robots pull and push only" }),
  owners: [],
};
