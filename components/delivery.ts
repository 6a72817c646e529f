import * as local from "@pulumi/command/local";
import * as pulumi from "@pulumi/pulumi";
import * as path from "node:path";
import type { Roster } from "../customers/roster";
import { customerState } from "../customers/status";
import { releaseAudience } from "../customers/audience";
import type { Settings } from "../core/settings";
import { PACKAGE_ROOT } from "../core/package";

type DeliverySetting = Settings["deliveries"][number];

/** The project folder. */
const PROJECT_DIR = PACKAGE_ROOT;

/** Single-quote for sh; every value has already passed the settings schema. */
function sh(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

/**
 * The customers a delivery goes to: the listed ones (all must be in the roster), else every
 * active one; a release of a catalogue product only to those entitled to it (so a customer that
 * gains the product gets the release at the next `pulumi up`).
 */
function deliveryCustomers(d: DeliverySetting, index: number, s: Settings, roster: Roster): string[] {
  if (d.customers) {
    const unknown = d.customers.filter((id) => !roster.customers.some((c) => c.id === id));
    if (unknown.length) throw new Error(`registry-intake:deliveries[${index}].customers: ${unknown.join(", ")} not in ${roster.source}`);
  }
  if (d.product !== undefined) {
    const release = { product: d.product, channel: d.channel ?? "stable", version: d.version, released: d.released! };
    return releaseAudience(roster.customers, release, s.tierEntitlements, s.asOf, d.customers).to;
  }
  return d.customers ?? roster.customers.filter((c) => customerState(c, s.asOf).status === "active").map((c) => c.id);
}

/** The `intake deliver` command line for one delivery (no secret in it: the password goes by environment). */
function deliverCommand(d: DeliverySetting, customers: string[], s: Settings): string {
  return [
    "node",
    sh(path.join(PROJECT_DIR, "cli", "bin", "intake.js")),
    "deliver",
    "--source",
    sh(d.source),
    "--build",
    sh(d.build),
    "--version",
    sh(d.version),
    ...(d.product !== undefined ? ["--product", sh(d.product), "--channel", sh(d.channel ?? "stable"), "--released", sh(d.released!)] : []),
    // A release: the command judges entitlements itself (and reports who it does not reach);
    // `customers` (the audience now) only re-runs it when that changes.
    ...(d.product === undefined ? ["--customer", sh(customers.join(","))] : d.customers ? ["--customer", sh(d.customers.join(","))] : []),
    ...(d.kinds ? ["--kind", sh(d.kinds.join(","))] : []),
    ...(d.tool ? ["--tool", d.tool] : []),
    "--stack",
    sh(s.stack),
    "--project",
    sh(PROJECT_DIR),
  ].join(" ");
}

export interface BuildDeliveryArgs {
  settings: Settings;
  roster: Roster;
  delivery: DeliverySetting;
  index: number;
  /** distribution: the delivery robot's password, passed to the command as INTAKE_DELIVERY_PASSWORD. */
  deliveryPassword?: pulumi.Output<string>;
  /** What must exist first: the customers' namespaces and the broker's access list (children do not inherit a component's dependsOn). */
  after: pulumi.Resource[];
}

/**
 * A build that follows `pulumi up`: `intake deliver` as a `local.Command`, run after the
 * customers' namespaces exist, and again whenever the source digest, version or customer list
 * changes. Deleting it deletes nothing in any registry.
 */
export class BuildDelivery extends pulumi.ComponentResource {
  public readonly command: local.Command;

  constructor(name: string, args: BuildDeliveryArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("registry-intake:delivery:BuildDelivery", name, {}, opts);
    const d = args.delivery;
    const customers = deliveryCustomers(d, args.index, args.settings, args.roster);
    const digest = d.source.slice(d.source.indexOf("@") + 1);
    this.command = new local.Command(
      `${name}-deliver`,
      {
        create: deliverCommand(d, customers, args.settings),
        dir: PROJECT_DIR,
        environment: args.deliveryPassword ? { INTAKE_DELIVERY_PASSWORD: args.deliveryPassword } : {},
        triggers: [digest, d.version, customers.join(","), (d.kinds ?? []).join(",")],
      },
      { parent: this, dependsOn: args.after, additionalSecretOutputs: ["environment"] },
    );
    this.registerOutputs({ stdout: this.command.stdout });
  }
}
