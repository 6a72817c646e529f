// The onboarding errors, apart from the Automation API and the program so the CLI can name them
// without loading either.

/** No Pulumi CLI: nothing was changed. One line, for the caller to print as is. */
export class PulumiCliMissing extends Error {
  override name = "PulumiCliMissing";
}

/** A refused onboarding or offboarding: bad entry, unknown customer, failed preview or up. Nothing was changed unless `changed` says so. */
export class OnboardError extends Error {
  override name = "OnboardError";
  constructor(message: string, readonly changed: string[] = []) {
    super(message);
  }
}
