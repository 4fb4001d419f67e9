import type { JsonValue } from '../envelope/job-envelope.js';
import { Job, type JobDefaults } from './job.js';
import type { JobContext } from './job-context.js';
import { assertJobName } from './job-identity.js';

/** A job handler: gets the payload and the context, returns a JSON-serialisable result (or nothing). */
export type JobHandler<TPayload = unknown, TResult = unknown> = (payload: TPayload, ctx: JobContext) => Promise<TResult> | TResult;

/** A named job type: its handler, its defaults and a typed factory of dispatchable Jobs. */
export interface JobDefinition<TPayload = unknown, TResult = unknown> {
  readonly name: string;
  readonly handler: JobHandler<TPayload, TResult>;
  readonly defaults: JobDefaults;
  /** A new Job carrying `payload`, with this definition's defaults applied. */
  create(payload: TPayload): Job<TPayload, Awaited<TResult>>;
}

/**
 * Defines a job type: `const sendWelcome = defineJob('send-welcome', async (p: { userId: string }, ctx) => …)`.
 * Register it with a Worker (or JobRegistry) in the process that runs jobs; call
 * `sendWelcome.create(payload)` to build a Job anywhere.
 */
export function defineJob<TPayload extends JsonValue | undefined | object = JsonValue, TResult = unknown>(
  name: string,
  handler: JobHandler<TPayload, TResult>,
  defaults: JobDefaults = {},
): JobDefinition<TPayload, TResult> {
  assertJobName(name);
  return Object.freeze({
    name,
    handler,
    defaults,
    create: (payload: TPayload) => new Job<TPayload, Awaited<TResult>>(name, payload, defaults),
  });
}
