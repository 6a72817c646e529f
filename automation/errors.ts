// The onboarding errors, apart from the Automation API and the program so the CLI can name them
// without loading either.
import { EXIT, IntakeError, NoEngine } from "../core/errors";

/** No Pulumi CLI: nothing was changed. One line, for the caller to print as is. */
export class PulumiCliMissing extends NoEngine {}

/** A refused onboarding or offboarding: bad entry, unknown customer, failed preview or up. Nothing was changed unless `changed` says so. */
export class OnboardError extends IntakeError {
  constructor(message: string, readonly changed: string[] = []) {
    super(message);
  }

  /** Refused before anything changed: the input's fault (2); part-way: a failure (4). */
  get exitCode() {
    return this.changed.length ? EXIT.failed : EXIT.invalidInput;
  }
}
