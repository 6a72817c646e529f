import * as pulumi from "@pulumi/pulumi";
import { LEDGER_OUTPUT, parseLedger, type Ledger } from "./core/ledger";
import type { Settings } from "./core/settings";
import type { Roster } from "./customers/roster";
import { program } from "./program";

/**
 * The ledger of kept resources this stack exported at its last update, read through a
 * StackReference to itself (empty on a new stack): what leaves the program stays in the cloud,
 * and is adopted when it comes back.
 */
async function previousLedger(): Promise<Partial<Ledger> & { legacy?: boolean }> {
  const self = new pulumi.StackReference("retained-ledger", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
  const { value } = await self.getOutputDetails(LEDGER_OUTPUT);
  // No ledger: a new stack, or one last updated before the ledger existed (it has outputs).
  if (value === undefined) return (await self.getOutputDetails("customers")).value !== undefined ? { legacy: true } : {};
  const ledger = parseLedger(value);
  if (!ledger) pulumi.log.warn(`the stack's "${LEDGER_OUTPUT}" output is not a ledger of kept resources; nothing will be adopted in this update`);
  return ledger ?? {};
}

/**
 * The program as the engine runs it, from `pulumi up` (index.ts) and the Automation API
 * (automation/onboard.ts) alike: the stack's ledger first, then every resource, then the stack
 * outputs (those the stack's kinds produce: an undefined one would only draw a warning).
 */
export async function stackProgram(settings: Settings, roster: Roster): Promise<Record<string, unknown>> {
  const { outputs } = program(settings, roster, await previousLedger());
  return Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined));
}
