import * as pulumi from "@pulumi/pulumi";
import { FORMER_KEPT_OUTPUT, KEPT_OUTPUT, parseKeptList, type KeptList } from "./core/kept";
import { renamedSettingWarnings, type Settings } from "./core/settings";
import type { Roster } from "./customers/roster";
import { program } from "./program";

/**
 * The kept list this stack exported at its last update, read through a
 * StackReference to itself (empty on a new stack): what leaves the program stays in the cloud,
 * and is adopted when it comes back.
 */
async function previousKeptList(): Promise<Partial<KeptList> & { legacy?: boolean }> {
  // The reference's resource name stays as it was first written: a new one would be a change in every stack.
  const self = new pulumi.StackReference("retained-ledger", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
  // A stack last updated before the output took its name holds it under the former one.
  const value = (await self.getOutputDetails(KEPT_OUTPUT)).value ?? (await self.getOutputDetails(FORMER_KEPT_OUTPUT)).value;
  // No kept list: a new stack, or one last updated before the kept list existed (it has outputs).
  if (value === undefined) return (await self.getOutputDetails("customers")).value !== undefined ? { legacy: true } : {};
  const keptList = parseKeptList(value);
  if (!keptList) pulumi.log.warn(`the stack's "${KEPT_OUTPUT}" output is not a kept list; nothing will be adopted in this update`);
  return keptList ?? {};
}

/**
 * The program as the engine runs it, from `pulumi up` (index.ts) and the Automation API
 * (automation/onboard.ts) alike: the stack's kept list first, then every resource, then the stack
 * outputs (those the stack's kinds produce: an undefined one would only draw a warning).
 */
export async function stackProgram(settings: Settings, roster: Roster): Promise<Record<string, unknown>> {
  for (const w of renamedSettingWarnings(settings)) void pulumi.log.warn(w);
  const { outputs } = program(settings, roster, await previousKeptList());
  return Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined));
}
