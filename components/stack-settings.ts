import * as pulumi from "@pulumi/pulumi";
import type { EngineConfig } from "../core/stack";

/** The config the engine handed the running program (`pulumi up`, an Automation API inline program). */
export function engineConfig(): EngineConfig {
  const isSecret = (pulumi.runtime as unknown as { isConfigSecret?: (k: string) => boolean }).isConfigSecret;
  return { values: pulumi.runtime.allConfig(), isSecret };
}
