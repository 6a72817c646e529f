import * as pulumi from "@pulumi/pulumi";
import { engineConfig } from "./components/stack-settings";
import { loadStackContext } from "./core/stack";
import { stackProgram } from "./stack-program";

// `pulumi up` / `pulumi preview`: settings from the config the engine passes (a shard stack's from
// its platform stack's file beside this one), roster from the file the stack names (default
// customers/roster.yaml), both validated before any resource is declared.
export = async () => {
  const { settings, roster } = loadStackContext({ projectDir: __dirname, stack: pulumi.getStack(), engineConfig: engineConfig() });
  return stackProgram(settings, roster);
};
