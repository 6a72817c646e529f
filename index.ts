import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { LEDGER_OUTPUT, parseLedger, type Ledger } from "./components/ledger";
import { settingsFromConfig } from "./components/stack-settings";
import { loadRoster } from "./customers/roster";
import { program } from "./program";

/**
 * The ledger of kept resources this stack exported at its last update, read through a
 * StackReference to itself (empty on a new stack): what leaves the program stays in the cloud,
 * and is adopted when it comes back.
 */
async function previousLedger(): Promise<Partial<Ledger>> {
  const self = new pulumi.StackReference("retained-ledger", { name: `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}` });
  const { value } = await self.getOutputDetails(LEDGER_OUTPUT);
  if (value === undefined) return {};
  const ledger = parseLedger(value);
  if (!ledger) pulumi.log.warn(`the stack's "${LEDGER_OUTPUT}" output is not a ledger of kept resources; nothing will be adopted in this update`);
  return ledger ?? {};
}

// `pulumi up` / `pulumi preview`: settings from the stack's config, roster from the file the
// stack names (default customers/roster.yaml), both validated before any resource is declared.
export = async () => {
  const settings = settingsFromConfig(`Pulumi.${pulumi.getStack()}.yaml`);
  const rosterPath = path.resolve(__dirname, settings.roster);
  const roster = loadRoster(rosterPath, { tierTable: settings.tierTable, prefix: { repoPrefix: settings.repoPrefix } });

  const { outputs } = program(settings, roster, await previousLedger());
  // The stack outputs: those the stack's kinds produce (an undefined one would only draw a warning).
  return Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined));
};
