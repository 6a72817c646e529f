/**
 * Who a token request was, as the broker's metrics label it and `intake usage` reports it: the
 * roster customer id of a customer's robot, or one of these for a request that has no customer
 * (an unknown or missing user, an anonymous client, the delivery robot, which serves every
 * customer). None can be a customer id (ids start with a letter), and a user name a client sent
 * is never one of them.
 */
export const NO_CUSTOMER = { unknown: "_unknown", anonymous: "_anonymous", delivery: "_delivery" } as const;
