import type { RegistryKind } from "../core/tiers";
import type { KindBuilder } from "../components/kind";
import { build as acr } from "./acr/component";
import { build as distribution } from "./distribution/component";
import { build as ecr } from "./ecr/component";
import { build as gar } from "./gar/component";
import { build as ghcr } from "./ghcr/component";

/** Each kind's part of a customer (kinds/<kind>/component.ts); the compiler asks for a new kind's. */
export const COMPONENTS: Readonly<Record<RegistryKind, KindBuilder>> = { ecr, acr, gar, ghcr, distribution };
