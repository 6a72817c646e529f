import { InvalidInput } from "../../core/errors";
/** Token lifetimes the broker accepts: Distribution wants ≥ 60 s; an hour bounds how long a revocation can lag. */
export const TTL_BOUNDS = { min: 60, max: 3600, default: 300 } as const;

/** A broker option out of its bounds; the message names the option and the bounds. */
export class BrokerOptionError extends InvalidInput {}
