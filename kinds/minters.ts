import type { RegistryKind } from "../core/tiers";
import type { Minter } from "../runtime/mint/types";

/**
 * Each kind's minting (kinds/<kind>/mint.ts); the compiler asks for a new kind's. Each loads on
 * first use, so minting for one kind does not load the other clouds' SDKs.
 */
export const MINTERS: Record<RegistryKind, () => Promise<Minter>> = {
  ecr: async () => (await import("./ecr/mint.js")).mint,
  acr: async () => (await import("./acr/mint.js")).mint,
  gar: async () => (await import("./gar/mint.js")).mint,
  ghcr: async () => (await import("./ghcr/mint.js")).mint,
  distribution: async () => (await import("./distribution/mint.js")).mint,
};
