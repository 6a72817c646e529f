import { z } from "zod";

/**
 * The token broker's access list for the self-hosted Distribution registry. The program
 * writes it (one entry per customer robot, password as a bcrypt hash only); the broker reads it.
 */
/** A bcrypt hash: the only form a password takes in the access list. */
const bcryptHash = z.string().regex(/^\$2[aby]?\$\d{2}\$[./A-Za-z0-9]{53}$/, { message: "must be a bcrypt hash" });
const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, { message: "must be a date written YYYY-MM-DD" });

export const ROBOT_ACTIONS = ["pull", "push"] as const;
export type RobotAction = (typeof ROBOT_ACTIONS)[number];

const aclEntrySchema = z.strictObject({
  customer: z.string().min(1),
  username: z.string().min(1),
  /** bcrypt of the robot's password; the password itself is never stored. */
  passwordHash: bcryptHash,
  /** During a rotation's overlap: bcrypt of the previous password, accepted through `previousUntil` (YYYY-MM-DD, UTC) and never after. */
  previousPasswordHash: bcryptHash.optional(),
  previousUntil: day.optional(),
  /** Repository globs: `<prefix>/<id>/*`, or with a product catalogue `<prefix>/<id>/<product>/*` per entitled product (none: entitled to nothing). */
  paths: z.array(z.string().regex(/^[a-z0-9._/-]+\/\*$/, { message: "must be a repository path glob ending in /*" })),
  actions: z.array(z.enum(ROBOT_ACTIONS)).min(1),
  /** False while the customer is suspended or its license has lapsed. */
  enabled: z.boolean(),
});

/**
 * The platform's delivery robot: it pushes builds into customer namespaces and mounts blobs
 * between them. It holds no paths of its own; the broker grants it pull and push on
 * `<prefix>/<customer>/...` for exactly the customers whose license allows distribution today.
 */
const aclDeliverySchema = z.strictObject({
  username: z.string().min(1),
  passwordHash: bcryptHash,
  /** During a rotation's overlap (settings distribution.deliveryRobot): the previous password, through `previousUntil`. */
  previousPasswordHash: bcryptHash.optional(),
  previousUntil: day.optional(),
  enabled: z.boolean(),
});

export const aclSchema = z.strictObject({
  version: z.literal(1, {
    message: "must be 1 (the access-list format this broker reads; write the file again with `pulumi stack output distributionAcl --show-secrets`)",
  }),
  service: z.string().min(1),
  issuer: z.string().min(1),
  entries: z.array(aclEntrySchema),
  delivery: aclDeliverySchema.optional(),
});

export type AclDelivery = z.infer<typeof aclDeliverySchema>;

export type AclEntry = z.infer<typeof aclEntrySchema>;
export type Acl = z.infer<typeof aclSchema>;

/** pull, or pull and push: Distribution needs both for any write (POST/PUT/PATCH). */
export function robotActions(access: "pull" | "push"): RobotAction[] {
  return access === "push" ? ["pull", "push"] : ["pull"];
}
