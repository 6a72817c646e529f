/**
 * The one error family of registry-intake, and the exit codes every command shares. A command
 * that fails with an IntakeError prints its message on one line (several problems: one per line)
 * and exits with its code; anything else is a defect and shows its stack.
 */
export const EXIT = { ok: 0, violations: 1, invalidInput: 2, denied: 3, failed: 4, noEngine: 5 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export abstract class IntakeError extends Error {
  abstract readonly exitCode: ExitCode;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A flag, file, setting, roster entry or missing credential: the user's to fix; nothing was changed. */
export class InvalidInput extends IntakeError {
  readonly exitCode = EXIT.invalidInput;
}

/** The customer's license does not allow it. */
export class Denied extends IntakeError {
  readonly exitCode = EXIT.denied;
}

/** Something outside (a registry, the engine) failed part-way. */
export class Failed extends IntakeError {
  readonly exitCode = EXIT.failed;
}

/** The Pulumi CLI is not there to run. */
export class NoEngine extends IntakeError {
  readonly exitCode = EXIT.noEngine;
}
