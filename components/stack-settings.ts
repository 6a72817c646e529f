import * as pulumi from "@pulumi/pulumi";
import { settingsFromValues, type Settings } from "./settings";

/** Read and validate the settings from the stack's `pulumi.Config` (the `pulumi up` path). */
export function settingsFromConfig(source = `stack ${pulumi.getStack()}`, stack = pulumi.getStack(), today = new Date()): Settings {
  const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  return settingsFromValues(pulumi.runtime.allConfig(), isSecret, source, stack, today);
}
