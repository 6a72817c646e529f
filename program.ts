import * as pulumi from "@pulumi/pulumi";
import { CustomerRegistries } from "./components/customer";
import { PlatformRegistries } from "./components/platform";
import type { Settings } from "./components/settings";
import type { Roster } from "./customers/roster";

export interface ProgramResult {
  platform: PlatformRegistries;
  customers: CustomerRegistries[];
  /** Stack outputs: namespaces per customer and kind; credentials only as secrets. */
  outputs: Record<string, unknown>;
}

/**
 * The one program. Declares the shared platform resources and one CustomerRegistries per
 * customer. It reads no files, environment or clock: settings and roster arrive validated.
 */
export function program(settings: Settings, roster: Roster): ProgramResult {
  const platform = new PlatformRegistries("platform", { settings });
  const customers = roster.customers.map((customer) => new CustomerRegistries(customer.id, { customer, settings, platform }));
  const outputs = {
    ecrControllerRoleArn: platform.ecrControllerRoleArn,
    ecrPushRoleArn: platform.ecrPushRoleArn,
    customers: Object.fromEntries(
      customers.map((c) => [
        c.customerId,
        {
          status: c.state.status,
          namespaces: c.namespaces,
          credentials: Object.fromEntries(
            Object.entries(c.credentials).map(([kind, cred]) => [kind, { id: cred?.id, secret: cred?.secret && pulumi.secret(cred.secret) }]),
          ),
        },
      ]),
    ),
  };
  return { platform, customers, outputs };
}
