import * as pulumi from "@pulumi/pulumi";
import { engineConfig } from "./components/stack-settings";
import { IntakeError } from "./core/errors";
import { loadStackContext } from "./core/stack";
import { stackProgram } from "./stack-program";

// `pulumi up` / `pulumi preview`: settings from the config the engine passes (a shard stack's from
// its platform stack's file beside this one), roster from the file the stack names (default
// customers/roster.yaml), both validated before any resource is declared. A bad setting or roster
// entry is the CLI's one line (the SDK prints a RunError's message without a stack trace).
export = async () => {
  try {
    const { settings, roster } = loadStackContext({ projectDir: __dirname, stack: pulumi.getStack(), engineConfig: engineConfig() });
    return await stackProgram(settings, roster);
  } catch (e) {
    if (e instanceof IntakeError) throw new pulumi.RunError(e.message);
    throw e;
  }
};
