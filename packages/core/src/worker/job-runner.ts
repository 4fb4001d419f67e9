import type { CoordinationStore } from '../coordination/coordination-store.js';
import type { QueueDriver } from '../driver/queue-driver.js';
import { ConfigError } from '../errors/config-error.js';
import { InvalidPayloadError } from '../errors/invalid-payload-error.js';
import { JobPostponedError } from '../errors/job-postponed-error.js';
import type { JobContext } from '../job/job-context.js';
import type { MiddlewareContext, MiddlewareRequirement } from '../job/job-middleware.js';
import type { JobRegistry, RegisteredJob } from '../job/job-registry.js';
import { validatePayload } from '../job/validate-payload.js';
import type { RateLimitStore } from '../rate-limit/rate-limit-store.js';

/** A handler as the executor calls it. */
export type RunnableHandler = (payload: never, ctx: JobContext) => unknown;

/** What middleware get from the worker: the driver's shared stores, created once per worker. */
export class JobServices {
  readonly driver: QueueDriver;
  readonly leaseMs: number;
  #coordination: CoordinationStore | undefined;
  #rateLimits: RateLimitStore | undefined;

  constructor(driver: QueueDriver, leaseMs: number) {
    this.driver = driver;
    this.leaseMs = leaseMs;
  }

  /** The driver's coordination store (the Worker refused to start without one when a middleware needs it). */
  get coordination(): CoordinationStore {
    this.#coordination ??= required(this.driver, 'coordination', this.driver.createCoordinationStore?.());
    return this.#coordination;
  }

  /** The driver's rate-limit store. */
  get rateLimits(): RateLimitStore {
    this.#rateLimits ??= required(this.driver, 'rateLimits', this.driver.createRateLimitStore?.());
    return this.#rateLimits;
  }
}

function required<T>(driver: QueueDriver, what: MiddlewareRequirement, store: T | undefined): T {
  if (store === undefined) throw new ConfigError(`${driver.name}: the driver has no ${describe(what)}`);
  return store;
}

function describe(requirement: MiddlewareRequirement): string {
  switch (requirement) {
    case 'coordination':
      return 'coordination store (createCoordinationStore())';
    case 'rateLimits':
      return 'shared rate-limit store (createRateLimitStore())';
    case 'postpone':
      return 'postpone() (handing a job back with a delay, uncounted)';
  }
}

/**
 * Throws a ConfigError naming the job, the middleware and the driver when a registered job's
 * middleware needs something the driver does not have (a coordination store, a rate-limit store,
 * postpone): a worker should refuse to start rather than fail every job.
 */
export function assertMiddlewareSupported(registry: JobRegistry, driver: QueueDriver): void {
  for (const name of registry.names()) {
    const definition = registry.get(name) as RegisteredJob;
    for (const middleware of definition.middleware ?? []) {
      for (const requirement of middleware.requires ?? []) {
        const present =
          requirement === 'coordination'
            ? driver.createCoordinationStore !== undefined
            : requirement === 'rateLimits'
              ? driver.createRateLimitStore !== undefined
              : driver.postpone !== undefined;
        if (!present) {
          throw new ConfigError(
            `job ${name}: middleware ${middleware.middlewareName ?? middleware.name ?? 'anonymous'} needs a ${describe(requirement)}, which driver "${driver.name}" does not have`,
          );
        }
      }
    }
  }
}

/**
 * The function the executor runs for `definition`: the handler itself when the definition has no
 * upgrade, schema or middleware (no cost per job); otherwise upgrade the payload of an older
 * version, check it against the schema (an InvalidPayloadError dead-letters it), then run the
 * middleware chain around the handler.
 */
export function runnerFor(definition: RegisteredJob, services: JobServices): RunnableHandler {
  const middleware = definition.middleware ?? [];
  const version = definition.version ?? 1;
  const { schema, upgrade, handler } = definition;
  if (middleware.length === 0 && schema === undefined && version === 1) return handler;
  const where = `job ${definition.name}: payload`;
  return async (stored: never, ctx: JobContext) => {
    let payload: unknown = stored;
    const from = ctx.envelope.payloadVersion ?? 1;
    if (!Number.isInteger(from) || from < 1) {
      throw new InvalidPayloadError(`${where}: envelope.payloadVersion ${String(from)} is not an integer >= 1`, []);
    }
    if (from > version) {
      throw new InvalidPayloadError(
        `${where}: version ${from} is newer than this worker's definition (version ${version}); deploy the newer code, then retry the job from the dead-letter store`,
        [],
      );
    }
    if (from < version) {
      try {
        payload = await (upgrade as NonNullable<typeof upgrade>)(payload, from);
      } catch (error) {
        throw new InvalidPayloadError(`${where}: upgrading from version ${from} to ${version} failed: ${(error as Error).message}`, [], {
          cause: error,
        });
      }
    }
    if (schema !== undefined) payload = await validatePayload(schema, payload, where);
    if (middleware.length === 0) return handler(payload as never, ctx);
    const context = middlewareContext(ctx, payload, services);
    const step = (index: number): Promise<unknown> => {
      const next = middleware[index];
      if (next === undefined) return Promise.resolve(handler(payload as never, ctx));
      let called = false;
      return next(context as unknown as MiddlewareContext<never>, () => {
        if (called) return Promise.reject(new ConfigError(`job ${definition.name}: a middleware called next() twice`));
        called = true;
        return step(index + 1);
      });
    };
    return step(0);
  };
}

/**
 * The context a middleware sees: the delivery's context, the payload and the worker's services, as
 * a plain object of its own members (a copy, `{ ...ctx }`, keeps them all). The stores are getters
 * of the object itself: made once per worker, and only when a middleware asks for one.
 */
function middlewareContext(ctx: JobContext, payload: unknown, services: JobServices): MiddlewareContext<unknown> {
  return {
    ...ctx,
    payload,
    leaseMs: services.leaseMs,
    get coordination(): CoordinationStore {
      return services.coordination;
    },
    get rateLimits(): RateLimitStore {
      return services.rateLimits;
    },
    postpone(delayMs: number, reason: string): never {
      throw new JobPostponedError(delayMs, reason);
    },
  };
}
