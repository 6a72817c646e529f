import * as pulumi from "@pulumi/pulumi";
import { CustomerRegistries } from "./components/customer";
import { BuildDelivery } from "./components/delivery";
import { DistributionService } from "./components/distribution-service";
import { PlatformRegistries } from "./components/platform";
import type { Settings } from "./components/settings";
import type { Roster } from "./customers/roster";

export interface ProgramResult {
  platform: PlatformRegistries;
  customers: CustomerRegistries[];
  distribution?: DistributionService;
  /** Builds delivered after the namespaces exist (settings.deliveries). */
  deliveries: BuildDelivery[];
  /** Stack outputs: namespaces per customer and kind; credentials only as secrets. */
  outputs: Record<string, unknown>;
}

/**
 * The one program. Declares the shared platform resources, one CustomerRegistries per
 * customer, and the Distribution broker's access list (with the registry itself on Kubernetes
 * when the stack asks). It reads no files, environment or clock: settings and roster arrive validated.
 */
export function program(settings: Settings, roster: Roster): ProgramResult {
  const platform = new PlatformRegistries("platform", { settings });
  const customers = roster.customers.map((customer) => new CustomerRegistries(customer.id, { customer, settings, platform }));
  const distribution = settings.enabledKinds.includes("distribution")
    ? new DistributionService("distribution", {
        settings,
        entries: customers.flatMap((c) => (c.aclEntry ? [c.aclEntry] : [])),
      })
    : undefined;
  const deliveries = settings.deliveries.map(
    (delivery, index) =>
      new BuildDelivery(
        `deliver-${delivery.build.replace(/[^a-z0-9-]/g, "-")}-${delivery.version.replace(/[^A-Za-z0-9-]/g, "-")}`,
        { settings, roster, delivery, index, deliveryPassword: distribution?.deliveryPassword, after: [...customers, ...(distribution ? [distribution] : [])] },
      ),
  );
  const outputs = {
    ecrControllerRoleArn: platform.ecrControllerRoleArn,
    ecrPushRoleArn: platform.ecrPushRoleArn,
    acrLoginServer: platform.acrLoginServer,
    distributionAcl: distribution?.acl,
    distributionDeliveryPassword: distribution?.deliveryPassword,
    customers: Object.fromEntries(
      customers.map((c) => [
        c.customerId,
        {
          status: c.state.status,
          namespaces: c.namespaces,
          pullSecrets: c.pullSecrets,
          credentials: Object.fromEntries(
            Object.entries(c.credentials).map(([kind, cred]) => [kind, { id: cred?.id, secret: cred?.secret && pulumi.secret(cred.secret) }]),
          ),
        },
      ]),
    ),
  };
  return { platform, customers, distribution, deliveries, outputs };
}
