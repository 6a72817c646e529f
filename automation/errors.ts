// The onboarding errors, apart from the Automation API and the program so the CLI can name them
// without loading either.
import { EXIT, IntakeError, NoEngine } from "../core/errors";

/** No Pulumi CLI: nothing was changed. One line, for the caller to print as is. */
export class PulumiCliMissing extends NoEngine {}

/**
 * A refused onboarding or other roster change: bad entry, unknown customer, failed preview or up.
 * Nothing was changed unless `changed` says so. `why` says whose the fault is, for callers that
 * answer by kind (the service's 400, 404, 409; 503 when git or the remote is unreachable).
 */
export class OnboardError extends IntakeError {
  constructor(
    message: string,
    readonly changed: string[] = [],
    readonly why: "input" | "unknown" | "conflict" | "unavailable" = "input",
    /** The roster commit that holds the change when it was pushed before the failure (CI's up applies it). */
    readonly commit?: string,
  ) {
    super(message);
  }

  /** Refused before anything changed: the input's fault (2); part-way: a failure (4). */
  get exitCode() {
    return this.changed.length ? EXIT.failed : EXIT.invalidInput;
  }
}

/** The customer named is not in the roster. */
export class UnknownCustomer extends OnboardError {
  constructor(message: string) {
    super(message, [], "unknown");
  }
}

/** The customer's id is in the roster already. */
export class CustomerExists extends OnboardError {
  constructor(message: string) {
    super(message, [], "conflict");
  }
}
