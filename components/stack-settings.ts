import * as pulumi from "@pulumi/pulumi";
import { withPlatformSettings } from "../cli/plan/stack";
import { settingsFromValues, type Settings } from "./settings";

/** Read and validate the settings from the stack's `pulumi.Config` (the `pulumi up` path). */
export function settingsFromConfig(source = `stack ${pulumi.getStack()}`, stack = pulumi.getStack(), today = new Date(), projectDir = process.cwd()): Settings {
  const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  // A shard stack's settings come from its platform stack's file, in the project folder (where
  // the engine runs the program; an inline program names it).
  return settingsFromValues(withPlatformSettings(projectDir, pulumi.runtime.allConfig(), source, stack), isSecret, source, stack, today);
}
