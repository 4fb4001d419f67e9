/** Exit codes of the `queue` binary. */
export const EXIT_OK = 0;
/** A command failed, or `queue health` found a degraded connection. */
export const EXIT_FAILURE = 1;
/** `queue health`: a connection could not be reached. */
export const EXIT_UNREACHABLE = 2;

/**
 * An expected failure of a command (bad flag value, unknown name, missing package): printed on
 * stderr as one line, without a stack trace, and the process exits with `exitCode`.
 */
export class CliError extends Error {
  /** Process exit code; default 1. */
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT_FAILURE, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
