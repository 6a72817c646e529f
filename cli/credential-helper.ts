import * as path from "node:path";
import { registryHost } from "../components/endpoints";
import { loadPrivateSigningKey } from "../runtime/broker/keys";
import { AccessDenied, mintFor } from "../runtime/mint";
import { ghcrTokenVariable } from "../runtime/mint/ghcr-distribution";
import { loadStack } from "./plan/stack";

export interface HelperResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What docker prints when a helper has nothing for a server: the protocol's "not found". */
export const NOT_FOUND = "credentials not found in native keychain";

/**
 * The docker credential-helper protocol (`get`; `list` answers empty; `store` and `erase` are
 * refused: credentials are minted, never stored). The customer comes from INTAKE_CUSTOMER, the
 * stack from INTAKE_STACK (default dev), the project from INTAKE_PROJECT, the roster from
 * INTAKE_ROSTER (default the stack's); the registry kind
 * from the host docker asks about.
 */
export async function credentialHelper(action: string, input: string, env: NodeJS.ProcessEnv, projectDefault: string): Promise<HelperResult> {
  if (action === "list") return { code: 0, stdout: "{}\n", stderr: "" };
  if (action === "store" || action === "erase") return { code: 1, stdout: "", stderr: `docker-credential-intake: ${action} is not supported: credentials are minted on each get, never stored\n` };
  if (action !== "get") return { code: 1, stdout: "", stderr: `docker-credential-intake: unknown action "${action}" (get, list)\n` };
  const customer = env.INTAKE_CUSTOMER;
  if (!customer) return { code: 1, stdout: "", stderr: "docker-credential-intake: set INTAKE_CUSTOMER to the customer id\n" };
  const serverUrl = input.trim();
  const host = serverUrl.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  const { settings, roster } = loadStack({
    projectDir: path.resolve(env.INTAKE_PROJECT ?? projectDefault),
    stack: env.INTAKE_STACK ?? "dev",
    rosterPath: env.INTAKE_ROSTER && path.resolve(env.INTAKE_ROSTER),
  });
  const kind = settings.enabledKinds.find((k) => {
    try {
      return registryHost(k, settings) === host;
    } catch {
      return false;
    }
  });
  if (!kind) return { code: 1, stdout: `${NOT_FOUND}\n`, stderr: "" };
  try {
    const cred = await mintFor(customer, kind, {
      settings,
      roster,
      signingKey: env.INTAKE_BROKER_KEY ? loadPrivateSigningKey(env.INTAKE_BROKER_KEY) : undefined,
      ghcrToken: env[ghcrTokenVariable(customer)],
      azureSubscriptionId: env.AZURE_SUBSCRIPTION_ID,
    });
    return { code: 0, stdout: JSON.stringify({ ServerURL: serverUrl, Username: cred.username, Secret: cred.password }) + "\n", stderr: "" };
  } catch (e) {
    if (e instanceof AccessDenied) return { code: 1, stdout: `${NOT_FOUND}\n`, stderr: `docker-credential-intake: denied: ${e.message}\n` };
    return { code: 1, stdout: "", stderr: `docker-credential-intake: ${(e as Error).message}\n` };
  }
}
