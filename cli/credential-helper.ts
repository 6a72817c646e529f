import * as path from "node:path";
import { EXIT, IntakeError } from "../core/errors";
import { environmentHelp } from "../core/environment";
import { decisionDay, DiskCredentialCache, type CacheKey } from "../runtime/mint/disk-cache";

export interface HelperResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** What docker prints when a helper has nothing for a server: the protocol's "not found". */
export const NOT_FOUND = "credentials not found in native keychain";

/**
 * The docker credential-helper protocol (`get`; `list` answers empty; `store` and `erase` are
 * refused: docker hands nothing in; minted credentials are kept in DiskCredentialCache). The customer comes from INTAKE_CUSTOMER, the
 * stack from INTAKE_STACK (default dev), the project from INTAKE_PROJECT, the roster from
 * INTAKE_ROSTER (default the stack's); the registry kind
 * from the host docker asks about.
 */
export async function credentialHelper(
  action: string,
  input: string,
  env: NodeJS.ProcessEnv,
  projectDefault: string,
  version = "0.0.0",
): Promise<HelperResult> {
  if (action === "list") return { code: 0, stdout: "{}\n", stderr: "" };
  if (action === "version") return { code: 0, stdout: `docker-credential-intake (registry-intake) ${version}\n`, stderr: "" };
  if (action === "--help" || action === "-h" || action === "help") return { code: 0, stdout: HELPER_HELP, stderr: "" };
  if (action === "store" || action === "erase") return refused(2, `${action} is not supported: credentials are minted on get, never handed in by docker`);
  if (action !== "get") return refused(2, `unknown action "${action}" (get, list, version, --help)`);
  const customer = env.INTAKE_CUSTOMER;
  if (!customer) return refused(2, "set INTAKE_CUSTOMER to the customer id");
  const { cache, warning } = DiskCredentialCache.forUser(env);
  try {
    const r = await get(customer, input, env, projectDefault, cache);
    return warning ? { ...r, stderr: `docker-credential-intake: ${warning}\n${r.stderr}` } : r;
  } catch (e) {
    // Docker only tells zero from non-zero; the codes are intake's own table.
    return refused(e instanceof IntakeError ? e.exitCode : EXIT.failed, (e as Error).message.split("\n").join(" "));
  }
}

/** A refusal: on stdout, where docker looks for a helper's error (it relays nothing of stderr). */
function refused(code: number, message: string): HelperResult {
  return { code, stdout: `docker-credential-intake: ${message}\n`, stderr: "" };
}

export const HELPER_HELP = `docker-credential-intake: a short-lived credential for one customer's namespace on each docker get.

Use: in ~/.docker/config.json, "credHelpers": { "<registry host>": "intake" }; docker runs
  docker-credential-intake get   (server URL on stdin; prints {ServerURL, Username, Secret})
  docker-credential-intake list | version | --help
store and erase are refused: docker hands no credentials in.

A minted credential is kept in the user's credential cache (a 0700 folder, 0600 files) and
answered from there until 5 minutes before it expires, while the roster, the stack files and the
day are those its license decision was made on; any change to them decides again. A denial
removes it. GHCR tokens, which do not expire, are never kept.

Environment:
${environmentHelp("helper")}
  and each cloud's own credential chain (AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_*).

Exit codes: 0 done; 1 no credential for this server (docker's "not found"); 2 invalid input or
settings; 3 denied by the customer's license; 4 failed.
`;

/**
 * Answer from the credential cache while the roster, the stack files and the day are those the
 * license decision was made on (see DiskCredentialCache); else load the stack, decide and mint.
 */
async function get(
  customer: string,
  input: string,
  env: NodeJS.ProcessEnv,
  projectDefault: string,
  cache: DiskCredentialCache | undefined,
): Promise<HelperResult> {
  const serverUrl = input.trim();
  const host = serverUrl.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  const projectDir = path.resolve(env.INTAKE_PROJECT ?? projectDefault);
  const stack = env.INTAKE_STACK ?? "dev";
  const rosterPath = env.INTAKE_ROSTER && path.resolve(env.INTAKE_ROSTER);
  const signingKeyFile = env.INTAKE_BROKER_KEY && path.resolve(env.INTAKE_BROKER_KEY);
  const key: CacheKey = {
    project: projectDir,
    stack,
    roster: rosterPath,
    customer,
    target: host,
    signingKey: signingKeyFile,
    subscription: env.AZURE_SUBSCRIPTION_ID,
  };
  const day = decisionDay();
  const hit = cache?.get(key, day);
  if (hit) return answer(serverUrl, hit.credential);

  const { loadStackContext } = await import("../core/stack.js");
  const { registryHost } = await import("../kinds/index.js");
  const { customerById } = await import("../core/access.js");
  const context = loadStackContext({ projectDir, stack, rosterPath });
  const { settings, roster } = context;
  const kind = settings.enabledKinds.find((k) => {
    try {
      return registryHost(k, settings) === host;
    } catch {
      return false;
    }
  });
  // docker's "not found" on stdout; the reason on stderr, for a person running the helper by hand.
  if (!kind)
    return {
      code: 1,
      stdout: `${NOT_FOUND}\n`,
      stderr: `docker-credential-intake: ${host} is no registry of stack ${stack} (${settings.enabledKinds
        .map((k) => {
          try {
            return registryHost(k, settings);
          } catch {
            return undefined;
          }
        })
        .filter(Boolean)
        .join(", ")}; INTAKE_STACK names another stack)\n`,
    };
  if (!customerById(roster, customer)) {
    cache?.drop(key);
    return refused(2, `INTAKE_CUSTOMER: ${customer} is not in ${roster.source}`);
  }
  const { AccessDenied, mintFor } = await import("../runtime/mint/index.js");
  const { loadPrivateSigningKey } = await import("../runtime/broker/keys.js");
  const { ghcrTokenVariable } = await import("../kinds/ghcr/mint.js");
  try {
    const cred = await mintFor(customer, kind, {
      settings,
      roster,
      signingKey: signingKeyFile ? loadPrivateSigningKey(signingKeyFile) : undefined,
      ghcrToken: env[ghcrTokenVariable(customer)],
      azureSubscriptionId: env.AZURE_SUBSCRIPTION_ID,
      today: day,
    });
    cache?.put(key, day, signingKeyFile ? [...context.files, signingKeyFile] : context.files, cred);
    return answer(serverUrl, cred);
  } catch (e) {
    // Docker's "not found" first, so a pull falls back to anonymous as with any helper; then why.
    if (e instanceof AccessDenied) {
      cache?.drop(key);
      return { code: 3, stdout: `${NOT_FOUND}\ndocker-credential-intake: denied: ${e.message}\n`, stderr: "" };
    }
    throw e;
  }
}

function answer(serverUrl: string, cred: { username: string; password: string }): HelperResult {
  return { code: 0, stdout: JSON.stringify({ ServerURL: serverUrl, Username: cred.username, Secret: cred.password }) + "\n", stderr: "" };
}
