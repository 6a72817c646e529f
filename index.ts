import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import { settingsFromConfig } from "./components/stack-settings";
import { loadRoster } from "./customers/roster";
import { stackProgram } from "./stack-program";

// `pulumi up` / `pulumi preview`: settings from the stack's config, roster from the file the
// stack names (default customers/roster.yaml), both validated before any resource is declared.
export = async () => {
  const settings = settingsFromConfig(`Pulumi.${pulumi.getStack()}.yaml`, pulumi.getStack(), new Date(), __dirname);
  const roster = loadRoster(path.resolve(__dirname, settings.roster), { tierTable: settings.tierTable, prefix: { repoPrefix: settings.repoPrefix } });
  return stackProgram(settings, roster);
};
