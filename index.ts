import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { settingsFromConfig } from "./components/stack-settings";
import { loadRoster } from "./customers/roster";
import { program } from "./program";

// `pulumi up` / `pulumi preview`: settings from the stack's config, roster from the file the
// stack names (default customers/roster.yaml), both validated before any resource is declared.
const settings = settingsFromConfig(`Pulumi.${pulumi.getStack()}.yaml`);
const rosterPath = path.resolve(__dirname, settings.roster);
const roster = loadRoster(rosterPath, { tierTable: settings.tierTable, prefix: { repoPrefix: settings.repoPrefix } });

const { outputs } = program(settings, roster);
// The stack outputs: those the stack's kinds produce (an undefined one would only draw a warning).
export = Object.fromEntries(Object.entries(outputs).filter(([, v]) => v !== undefined));
