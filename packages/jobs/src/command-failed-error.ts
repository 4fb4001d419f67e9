import { QueueError, type QueueErrorOptions } from '@queuekit/core';

/** A ShellJob program that exited non-zero or was killed by a signal (a failed attempt, retried by policy). */
export class CommandFailedError extends QueueError {
  /** The exit code; null when a signal ended the program. */
  readonly exitCode: number | null;
  /** The signal that ended the program, if one did. */
  readonly signal: NodeJS.Signals | null;
  /** The last bytes the program wrote to stderr (up to the job's output cap). */
  readonly stderrTail: string;

  constructor(
    message: string,
    details: { exitCode: number | null; signal: NodeJS.Signals | null; stderrTail: string },
    options: QueueErrorOptions = {},
  ) {
    super('COMMAND_FAILED', message, options);
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.stderrTail = details.stderrTail;
  }
}
