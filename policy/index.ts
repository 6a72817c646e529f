// The CrossGuard policy pack: `pulumi preview --stack prod --policy-pack policy` (the stack's
// settings and roster are read for the stack the engine's URNs name).
// Constructing a PolicyPack starts the analyzer server, so it happens here and only here;
// the rules live in policy/rules/ where tests and `intake plan` / `intake policy audit` use them.
import { PolicyPack } from "@pulumi/policy";
import { analyzerPolicies, packContext } from "./pack";

new PolicyPack("registry-intake", { policies: analyzerPolicies(packContext()) });
