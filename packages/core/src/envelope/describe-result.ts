import { quoteInput } from '../errors/quote-input.js';

/** How many characters of a result {@link describeResult} shows at most. */
const RESULT_MAX_CHARS = 200;

/**
 * How a job's result reads wherever it is shown (`ctx.parent.result` in a follow-up, a log
 * line): `no result` when the handler returned nothing, else its JSON, cut to 200 characters.
 */
export function describeResult(result: unknown): string {
  return result === undefined ? 'no result' : quoteInput(result, RESULT_MAX_CHARS);
}
