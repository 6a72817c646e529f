/**
 * Every environment variable the shipped code reads: the one table that `intake --help`, the
 * credential helper's help and docs/reference/environment.md are written from
 * (test/unit/core/environment.test.ts fails when the code reads a variable this table lacks).
 * `intake` is the meaning `intake --help` gives; `helper` the credential helper's; a variable with
 * neither is for debugging or set by the project for its own child processes.
 */
export interface EnvVariable {
  name: string;
  intake?: string;
  helper?: string;
  /** What it is for, in the reference (default: the `intake` meaning, else the helper's). */
  reference?: string;
  /** Who reads it, in the reference, where neither help text lists it. */
  readBy?: string;
}

export const ENVIRONMENT: readonly EnvVariable[] = [
  { name: "INTAKE_CUSTOMER", helper: "the customer id (required)" },
  { name: "INTAKE_STACK", helper: "the stack whose settings apply (default dev)" },
  { name: "INTAKE_PROJECT", helper: "the project folder holding Pulumi.yaml (default this package)" },
  {
    name: "INTAKE_GHCR_TOKEN_<ID>",
    intake: "a customer's machine-user PAT for GHCR (id upper-cased, - as _), e.g. INTAKE_GHCR_TOKEN_ACME",
    helper: "ghcr: the customer's machine-user PAT, e.g. INTAKE_GHCR_TOKEN_ACME",
  },
  { name: "INTAKE_DELIVERY_PASSWORD", intake: "the delivery robot's password (deliver to distribution; or --key)" },
  {
    name: "INTAKE_BROKER_KEY",
    intake: "the broker's private key file, for the credential helper's distribution credentials (commands take --key)",
    helper: "distribution: the broker's PEM private key (offline credential)",
  },
  { name: "INTAKE_COPY_TOOL", intake: "crane or skopeo (deliver; default crane when on PATH)" },
  {
    name: "REGISTRY_<HOST>_USERNAME, REGISTRY_<HOST>_PASSWORD",
    intake:
      "the source registry's credential (deliver; host upper-cased, others as _, e.g. REGISTRY_GHCR_IO_USERNAME); else INTAKE_SOURCE_DOCKERCONFIGJSON, then the docker config (credHelpers, auths, credsStore)",
  },
  { name: "INTAKE_SOURCE_DOCKERCONFIGJSON", intake: "a mounted .dockerconfigjson file with the source's credential (deliver)" },
  {
    name: "INTAKE_CREDENTIAL_CACHE",
    intake: "where minted credentials are kept, or off (token; default $XDG_CACHE_HOME or ~/.cache, then registry-intake/credentials)",
    helper: "the cache folder, or off (default $XDG_CACHE_HOME or ~/.cache, then registry-intake/credentials)",
  },
  {
    name: "INTAKE_ROSTER",
    intake: "another roster file for the policy pack (onboarding sets it)",
    helper: "the roster file (default the stack's roster setting)",
  },
  {
    name: "AZURE_SUBSCRIPTION_ID",
    intake: "the ACR registry's subscription (token, deliver; or --subscription)",
    helper: "acr: the registry's subscription",
  },
  { name: "AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_*", intake: "the clouds' own credential chains (token, deliver)" },
  {
    name: "DOCKER_CONFIG",
    readBy: "`intake deliver`",
    reference: "the docker config folder `intake deliver` reads the source's credential from (default ~/.docker)",
  },
  {
    name: "XDG_CACHE_HOME",
    readBy: "`intake token`, credential helper",
    reference: "where the credential cache lives when INTAKE_CREDENTIAL_CACHE is unset (default ~/.cache)",
  },
  {
    name: "XDG_RUNTIME_DIR",
    reference: "where `intake deliver` writes the copy tool's short-lived auth files (memory-backed; else /dev/shm, else the temp folder)",
  },
  {
    name: "INTAKE_GIT_TIMEOUT_MS",
    readBy: "`intake onboard`, `offboard`, `rotate`, `serve`",
    reference: "how long one git command of a roster commit may take, in milliseconds (default 120000)",
  },
  {
    name: "INTAKE_PLAN_STACKS",
    reference: "1: `intake plan` keeps stack traces and source positions and takes none of its SDK shortcuts (to debug a program)",
  },
  {
    name: "INTAKE_PLAN_SHORTCUTS_OFF",
    reference: "a comma-separated list of the plan's SDK shortcuts to leave off, or all (docs/adr/0001-sdk-shortcuts-in-the-plan.md)",
  },
  { name: "INTAKE_RUN_SOURCES", readBy: "both bins", reference: "1: the bins run the TypeScript sources even when the build in out/ is current" },
  {
    name: "INTAKE_FAKE_CLOUD",
    readBy: "local provider plugins",
    reference: "the local provider plugins' fake cloud file (default $PULUMI_HOME/intake-fake-cloud.json)",
  },
  {
    name: "PULUMI_HOME",
    readBy: "local provider plugins",
    reference: "where the local provider plugins keep the fake cloud when INTAKE_FAKE_CLOUD is unset (default ~/.pulumi)",
  },
  {
    name: "INTAKE_FAKE_AWS_ACCOUNT",
    readBy: "local provider plugins",
    reference: "the AWS account id the local aws plugin answers with (default 111122223333)",
  },
];

/** The `Environment:` lines of a help text: names padded to one column, a longer name on a line of its own. */
export function environmentHelp(which: "intake" | "helper"): string {
  const rows = ENVIRONMENT.filter((v) => v[which] !== undefined);
  const width = Math.max(...rows.map((v) => v.name.length).filter((n) => n <= 30)) + 2;
  return rows.map((v) => (v.name.length + 2 > width ? `  ${v.name}\n  ${" ".repeat(width)}${v[which]}` : `  ${v.name.padEnd(width)}${v[which]}`)).join("\n");
}
