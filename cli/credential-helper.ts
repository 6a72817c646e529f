import * as path from "node:path";
import { registryHost } from "../kinds";
import { loadPrivateSigningKey } from "../runtime/broker/keys";
import { customerById } from "../core/access";
import { AccessDenied, mintFor } from "../runtime/mint";
import { ghcrTokenVariable } from "../kinds/ghcr/mint";
import { EXIT, IntakeError } from "../core/errors";
import { loadStackContext } from "../core/stack";

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
export async function credentialHelper(action: string, input: string, env: NodeJS.ProcessEnv, projectDefault: string, version = "0.0.0"): Promise<HelperResult> {
  if (action === "list") return { code: 0, stdout: "{}\n", stderr: "" };
  if (action === "version") return { code: 0, stdout: `docker-credential-intake (registry-intake) ${version}\n`, stderr: "" };
  if (action === "--help" || action === "-h" || action === "help") return { code: 0, stdout: HELPER_HELP, stderr: "" };
  if (action === "store" || action === "erase") return refused(2, `${action} is not supported: credentials are minted on each get, never stored`);
  if (action !== "get") return refused(2, `unknown action "${action}" (get, list, version, --help)`);
  const customer = env.INTAKE_CUSTOMER;
  if (!customer) return refused(2, "set INTAKE_CUSTOMER to the customer id");
  try {
    return await get(customer, input, env, projectDefault);
  } catch (e) {
    // Docker only tells zero from non-zero; the codes are intake's own table.
    return refused(e instanceof IntakeError ? e.exitCode : EXIT.failed, (e as Error).message.split("\n").join(" "));
  }
}

/** A refusal: on stdout, where docker looks for a helper's error (it relays nothing of stderr). */
function refused(code: number, message: string): HelperResult {
  return { code, stdout: `docker-credential-intake: ${message}\n`, stderr: "" };
}

export const HELPER_HELP = `docker-credential-intake: mints a short-lived credential for one customer's namespace on each docker get.

Use: in ~/.docker/config.json, "credHelpers": { "<registry host>": "intake" }; docker runs
  docker-credential-intake get   (server URL on stdin; prints {ServerURL, Username, Secret})
  docker-credential-intake list | version | --help
store and erase are refused: nothing is ever stored.

Environment:
  INTAKE_CUSTOMER          the customer id (required)
  INTAKE_STACK             the stack whose settings apply (default dev)
  INTAKE_PROJECT           the project folder holding Pulumi.yaml (default this package)
  INTAKE_ROSTER            the roster file (default the stack's roster setting)
  INTAKE_BROKER_KEY        distribution: the broker's PEM private key (offline credential)
  INTAKE_GHCR_TOKEN_<ID>   ghcr: the customer's machine-user PAT, e.g. INTAKE_GHCR_TOKEN_ACME
  AZURE_SUBSCRIPTION_ID    acr: the registry's subscription
  and each cloud's own credential chain (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_*).

Exit codes: 0 done; 1 no credential for this server (docker's "not found"); 2 invalid input or
settings; 3 denied by the customer's license; 4 failed.
`;

async function get(customer: string, input: string, env: NodeJS.ProcessEnv, projectDefault: string): Promise<HelperResult> {
  const serverUrl = input.trim();
  const host = serverUrl.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  const { settings, roster } = loadStackContext({
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
  if (!customerById(roster, customer)) return refused(2, `INTAKE_CUSTOMER: ${customer} is not in ${roster.source}`);
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
    // Docker's "not found" first, so a pull falls back to anonymous as with any helper; then why.
    if (e instanceof AccessDenied) return { code: 3, stdout: `${NOT_FOUND}\ndocker-credential-intake: denied: ${e.message}\n`, stderr: "" };
    throw e;
  }
}
