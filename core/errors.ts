/**
 * The one error family of registry-intake, and the exit codes every command shares. A command
 * that fails with an IntakeError prints its message on one line (several problems: one per line)
 * and exits with its code; anything else is a defect and shows its stack.
 */
export const EXIT = { ok: 0, violations: 1, invalidInput: 2, denied: 3, failed: 4, noEngine: 5 } as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** What each exit code means, and which commands give it: `intake --help` and docs/reference/exit-codes.md are written from it. */
export const EXIT_MEANINGS: Readonly<Record<ExitCode, string>> = {
  0: "done",
  1: "mandatory policy violations (plan, policy audit), shard files that disagree (shards --check), isolation that fails (verify)",
  2: "invalid input: a flag, file, setting, roster entry or missing credential; nothing was changed",
  3: "denied: the customer's license does not allow it (token, deliver, the credential helper)",
  4: "failed: a registry or the engine failed part-way (deliver, onboard, offboard; verify: a registry out of reach)",
  5: "no engine: the pulumi CLI is not on PATH (onboard, offboard)",
};

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
