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

const result = program(settings, roster);
export const ecrControllerRoleArn = result.outputs.ecrControllerRoleArn;
export const ecrPushRoleArn = result.outputs.ecrPushRoleArn;
export const ecrKmsKeyArn = result.outputs.ecrKmsKeyArn;
export const acrLoginServer = result.outputs.acrLoginServer;
export const acrRegistryName = result.outputs.acrRegistryName;
export const distributionAcl = result.outputs.distributionAcl;
export const distributionDeliveryPassword = result.outputs.distributionDeliveryPassword;
export const customers = result.outputs.customers;
