import type { IntakeRule } from "../model";
import { entitledProductsOnly, grantsConfined, noSharedPaths, noWildcardGrants } from "./confinement";
import { cleanupPolicyPresent, ecrScanOnPush, immutableTagsInProd, labelsPresent } from "./hygiene";
import { repositoriesRetained } from "./retention";
import { credentialsSecret } from "./secrets";
import { statusHonoured, suspendedDisabled, tierAllowsKind } from "./tier";

/** Every rule of the pack, mandatory first. */
export const RULES: IntakeRule[] = [
  tierAllowsKind,
  statusHonoured,
  suspendedDisabled,
  grantsConfined,
  noWildcardGrants,
  noSharedPaths,
  entitledProductsOnly,
  credentialsSecret,
  repositoriesRetained,
  ecrScanOnPush,
  immutableTagsInProd,
  cleanupPolicyPresent,
  labelsPresent,
];
