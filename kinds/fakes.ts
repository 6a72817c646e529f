import type { RegistryKind } from "../core/tiers";
import { acrFake } from "./acr/fake";
import { distributionFake } from "./distribution/fake";
import { ecrFake } from "./ecr/fake";
import type { KindFake } from "./fake";
import { garFake } from "./gar/fake";
import { ghcrFake } from "./ghcr/fake";

/** Each kind's part of the fake cloud (kinds/<kind>/fake.ts); the compiler asks for a new kind's. */
export const FAKES: Readonly<Record<RegistryKind, KindFake>> = { ecr: ecrFake, acr: acrFake, gar: garFake, ghcr: ghcrFake, distribution: distributionFake };
