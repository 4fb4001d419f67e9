import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { JsonValue } from '../envelope/job-envelope.js';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { Job, type JobDefaults } from './job.js';
import type { JobContext } from './job-context.js';
import { assertJobName } from './job-identity.js';
import type { JobMiddleware } from './job-middleware.js';
import type { JsonSafe } from './json-safe.js';
import { validatePayload } from './validate-payload.js';

/** A job handler: gets the payload and the context, returns a JSON-serialisable result (or nothing). */
export type JobHandler<TPayload = unknown, TResult = unknown> = (payload: TPayload, ctx: JobContext) => Promise<TResult> | TResult;

/**
 * Turns a payload dispatched by older code (`fromVersion`, 1 for an envelope without a version)
 * into the shape of the definition's current `version`. May be async; what it throws dead-letters
 * the job as `invalid-payload`.
 */
export type PayloadUpgrade = (old: unknown, fromVersion: number) => unknown;

/**
 * `unknown` (no constraint) when payload and result are plain JSON; otherwise an object type no
 * handler matches, whose one property says what is wrong, so the mistake is a type error.
 */
export type JsonChecked<TPayload, TResult> = [TPayload] extends [JsonSafe<TPayload>]
  ? [Awaited<TResult>] extends [JsonSafe<Awaited<TResult>>]
    ? unknown
    : { readonly 'the result must be plain JSON (no Date, Map, Set, function or class instance)': never }
  : { readonly 'the payload must be plain JSON (no Date, Map, Set, function or class instance)': never };

/** Options of {@link defineJob}: the defaults of every job it creates, plus what runs around the handler. */
export interface JobDefinitionOptions<TPayload = unknown> extends Omit<JobDefaults, 'payloadVersion'> {
  /** Run around the handler, outermost first (see `rateLimited`, `withoutOverlapping`, `throttleExceptions`). */
  readonly middleware?: readonly JobMiddleware<TPayload>[];
  /**
   * A Standard Schema (zod, valibot, arktype …) of the payload: checked at `create()` (an
   * InvalidPayloadError naming each failing path) and again before the handler runs (an invalid
   * payload is dead-lettered as `invalid-payload`, never retried). The handler gets its output.
   */
  readonly schema?: StandardSchemaV1;
  /** Version of the payload's shape, an integer >= 1 (default 1); stored in each envelope. */
  readonly version?: number;
  /** Upgrades a payload of an older version before the handler (and the schema) sees it; required with `version` > 1. */
  readonly upgrade?: PayloadUpgrade;
}

/** A named job type: its handler, its defaults and a typed factory of dispatchable Jobs. */
export interface JobDefinition<TPayload = unknown, TResult = unknown, TInput = TPayload> {
  readonly name: string;
  readonly handler: JobHandler<TPayload, TResult>;
  readonly defaults: JobDefaults;
  /** Run around the handler, outermost first; empty when none. */
  readonly middleware: readonly JobMiddleware<TPayload>[];
  /** The payload schema, when one was given. */
  readonly schema: StandardSchemaV1 | undefined;
  /** Version of the payload's shape this definition writes and expects (1 unless set). */
  readonly version: number;
  /** The upgrade step for payloads of older versions, when one was given. */
  readonly upgrade: PayloadUpgrade | undefined;
  /**
   * A new Job carrying `payload`, with this definition's defaults applied. With a schema the
   * payload is checked now (InvalidPayloadError naming the path), or before dispatch when the
   * schema is asynchronous.
   */
  create(payload: JsonSafe<TInput>): Job<TInput, Awaited<TResult>>;
}

/**
 * Defines a job type: `const sendWelcome = defineJob('send-welcome', async (p: { userId: string }, ctx) => …)`.
 * Register it with a Worker (or JobRegistry) in the process that runs jobs; call
 * `sendWelcome.create(payload)` to build a Job anywhere. With `{ schema }` the payload type is the
 * schema's (its input for `create`, its output for the handler). Payload and result types must be
 * plain JSON: a Date, Map, function or class instance in them is a type error, as the serializer
 * would refuse it at run time.
 */
export function defineJob<TSchema extends StandardSchemaV1, TResult = unknown>(
  name: string,
  handler: JobHandler<StandardSchemaV1.InferOutput<TSchema>, TResult> & JsonChecked<unknown, TResult>,
  options: JobDefinitionOptions<StandardSchemaV1.InferOutput<TSchema>> & { readonly schema: TSchema },
): JobDefinition<StandardSchemaV1.InferOutput<TSchema>, TResult, StandardSchemaV1.InferInput<TSchema>>;
export function defineJob<TPayload = JsonValue, TResult = unknown>(
  name: string,
  handler: JobHandler<TPayload, TResult> & JsonChecked<TPayload, TResult>,
  options?: JobDefinitionOptions<TPayload>,
): JobDefinition<TPayload, TResult>;
export function defineJob(
  name: string,
  handler: JobHandler<unknown, unknown>,
  options: JobDefinitionOptions = {},
): JobDefinition<unknown, unknown, unknown> {
  assertJobName(name);
  const { middleware = [], schema, version = 1, upgrade, ...defaults } = options;
  if (!Number.isInteger(version) || version < 1) {
    throw new InvalidArgumentError(`job ${name}: version: expected an integer >= 1, got ${String(version)}`);
  }
  if (version > 1 && upgrade === undefined) {
    throw new InvalidArgumentError(`job ${name}: version ${version} needs an upgrade(old, fromVersion) step for older payloads`);
  }
  for (const [index, item] of middleware.entries()) {
    if (typeof item !== 'function') throw new InvalidArgumentError(`job ${name}: middleware[${index}] is not a function`);
  }
  const jobDefaults: JobDefaults = version === 1 ? defaults : { ...defaults, payloadVersion: version };
  return Object.freeze({
    name,
    handler,
    defaults: jobDefaults,
    middleware: Object.freeze([...middleware]),
    schema,
    version,
    upgrade,
    create: (payload: unknown) => {
      const job = new Job<unknown, unknown>(name, payload, jobDefaults);
      if (schema !== undefined) {
        const checked = validatePayload(schema, payload, `job ${name}: payload`);
        if (checked instanceof Promise) job.mustPass(checked);
      }
      return job;
    },
  });
}
