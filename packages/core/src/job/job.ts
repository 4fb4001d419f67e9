import type { JobInfo } from '../driver/job-info.js';
import { lookupJob } from '../driver/job-lookup.js';
import type { PushOptions, PushResult, QueueDriver } from '../driver/queue-driver.js';
import { createEnvelope } from '../envelope/create-envelope.js';
import { encodeEnvelope, type JobDescriptor, type JobEnvelope, type JsonValue, type RetrySpec } from '../envelope/job-envelope.js';
import { PayloadSerializer } from '../envelope/payload-serializer.js';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import type { RetryPolicy } from '../retry/retry-policy.js';
import { JobCallbackSet } from './job-callbacks.js';
import { JobEnqueue } from './job-enqueue.js';
import { JobHandle } from './job-handle.js';
import { JobIdentity } from './job-identity.js';
import { JobState } from './job-state.js';
import type { PriorityInput } from './priority.js';

/** Settings a job definition gives every job it creates. */
export interface JobDefaults {
  readonly queue?: string;
  readonly priority?: PriorityInput;
  readonly maxAttempts?: number;
  readonly retry?: RetrySpec | RetryPolicy;
  readonly timeoutMs?: number;
  /** Version of the payload's shape, stored in the envelope (see `defineJob`'s `version`); absent = 1. */
  readonly payloadVersion?: number;
}

/** Options of {@link Job.dispatch}. */
export interface DispatchOptions extends PushOptions {
  /** Serializer enforcing the payload rules and size limit; a default 1 MiB one otherwise. */
  readonly serializer?: PayloadSerializer;
}

/** Something that can be the target of a dispatch: a driver, or a QueueManager. */
export interface JobDispatcher {
  dispatch(job: Job, options?: DispatchOptions): Promise<PushResult>;
  /** Looks a job up by id where `dispatch` with these options pushed it (for the handle dispatch returns). */
  getJob?(id: string, options: DispatchOptions & { readonly queue?: string }): Promise<JobInfo | undefined>;
}

const defaultSerializer = new PayloadSerializer();

/**
 * A dispatchable job, built fluently: `create(payload).onQueue('mail').delay(5000).then(next)`.
 * It composes four concerns — identity, state, enqueue and callbacks — and turns into a
 * {@link JobEnvelope} (or, as a follow-up, a {@link JobDescriptor}).
 */
export class Job<TPayload = unknown, TResult = unknown> {
  readonly identity: JobIdentity;
  readonly state: JobState;
  readonly enqueue = new JobEnqueue();
  readonly callbacks = new JobCallbackSet();
  readonly payload: TPayload;
  #meta: Record<string, JsonValue> | undefined;
  readonly #payloadVersion: number | undefined;
  #pendingCheck: Promise<unknown> | undefined;

  constructor(name: string, payload: TPayload, defaults: JobDefaults = {}) {
    this.identity = new JobIdentity(name);
    this.#payloadVersion = defaults.payloadVersion;
    this.state = new JobState(defaults.maxAttempts ?? 1);
    this.payload = payload;
    if (defaults.queue !== undefined) this.enqueue.queue = defaults.queue;
    if (defaults.priority !== undefined) this.enqueue.priority = defaults.priority;
    if (defaults.retry !== undefined) this.enqueue.retry = defaults.retry;
    if (defaults.timeoutMs !== undefined) this.enqueue.timeoutMs = defaults.timeoutMs;
  }

  get name(): string {
    return this.identity.name;
  }

  /**
   * Registers a check that must pass before this job is dispatched (an asynchronous payload
   * schema): `dispatch()` and `dispatchMany()` await it and reject with its error, pushing nothing.
   */
  mustPass(check: Promise<unknown>): this {
    // Marked handled here; dispatch() awaits it and surfaces the rejection.
    check.catch(() => undefined);
    this.#pendingCheck = this.#pendingCheck === undefined ? check : Promise.all([this.#pendingCheck, check]);
    return this;
  }

  /** Resolves once every check registered with {@link mustPass} passed; rejects with the first failure. */
  async checked(): Promise<void> {
    if (this.#pendingCheck !== undefined) await this.#pendingCheck;
  }

  get id(): string {
    return this.identity.id;
  }

  /** Sets an explicit job id. */
  withId(id: string): this {
    this.state.assertDraft('withId');
    this.identity.setId(id);
    return this;
  }

  /** The queue to push to. */
  onQueue(queue: string): this {
    this.state.assertDraft('onQueue');
    this.enqueue.queue = queue;
    return this;
  }

  /** Delay in ms from dispatch (or from the parent settling, for a follow-up), or an absolute Date. */
  delay(delay: number | Date): this {
    this.state.assertDraft('delay');
    this.enqueue.setDelay(delay);
    return this;
  }

  /** HIGH, MEDIUM, LOW or an integer 0…1,000,000; lower runs first. */
  priority(priority: PriorityInput): this {
    this.state.assertDraft('priority');
    this.enqueue.priority = priority;
    return this;
  }

  /** Deliveries allowed before the job is dead-lettered, and optionally the retry timing. */
  attempts(maxAttempts: number, retry?: RetrySpec | RetryPolicy): this {
    this.state.assertDraft('attempts');
    this.state.maxAttempts = maxAttempts;
    if (retry !== undefined) this.enqueue.retry = retry;
    return this;
  }

  /** Retry timing between attempts. */
  retry(retry: RetrySpec | RetryPolicy): this {
    this.state.assertDraft('retry');
    this.enqueue.retry = retry;
    return this;
  }

  /** Per-delivery time limit in ms: the handler's signal aborts and the delivery fails. */
  timeout(timeoutMs: number): this {
    this.state.assertDraft('timeout');
    this.enqueue.timeoutMs = timeoutMs;
    return this;
  }

  /**
   * The group the job belongs to (a tenant, a customer; 1-200 characters): workers with the
   * `groups` option take turns between a queue's groups and run at most their per-group
   * concurrency of one group at once, across every worker process of the backend.
   */
  group(key: string): this {
    this.state.assertDraft('group');
    this.enqueue.group = key;
    return this;
  }

  /** Skip this dispatch while another job with the same key is queued, delayed or reserved. */
  unique(key: string): this {
    this.state.assertDraft('unique');
    this.state.uniqueKey = key;
    return this;
  }

  /** Free-form metadata carried in the envelope (must be JSON). */
  meta(meta: Record<string, JsonValue>): this {
    this.state.assertDraft('meta');
    this.#meta = { ...this.#meta, ...meta };
    return this;
  }

  /**
   * Durable follow-up(s) dispatched when this job completes; they see the result as ctx.parent.
   * A Job is not a promise: awaiting one (which calls `then` with functions) rejects with an
   * InvalidArgumentError pointing at `dispatch()`.
   */
  then(...jobs: Job[]): this {
    if (jobs.some((job) => typeof job === 'function')) {
      const reject = jobs[1] as unknown as ((reason: unknown) => void) | undefined;
      reject?.(new InvalidArgumentError(`job ${this.name} was awaited, but a Job is not a promise: use \`await job.dispatch(driver)\``));
      return this;
    }
    this.state.assertDraft('then');
    for (const job of jobs) this.callbacks.addThen(job.toDescriptor());
    return this;
  }

  /** Durable follow-up(s) dispatched when this job fails for good; they see the error as ctx.parent. */
  catch(...jobs: Job[]): this {
    this.state.assertDraft('catch');
    for (const job of jobs) this.callbacks.addCatch(job.toDescriptor());
    return this;
  }

  /** Durable follow-up(s) dispatched after either outcome. */
  finally(...jobs: Job[]): this {
    this.state.assertDraft('finally');
    for (const job of jobs) this.callbacks.addFinally(job.toDescriptor());
    return this;
  }

  /** Runs `jobs` one after another after this job completes, each only if the previous succeeded. */
  chain(jobs: readonly Job[]): this {
    this.state.assertDraft('chain');
    this.callbacks.addChain(jobs.map((job) => job.toDescriptor()));
    return this;
  }

  /** This job as a follow-up descriptor (a snapshot: configure it before attaching it). */
  toDescriptor(now: number = Date.now()): JobDescriptor {
    defaultSerializer.assertSerializable(this.payload, `${this.name}.payload`);
    return {
      name: this.name,
      queue: this.enqueue.queue,
      payload: this.payload as JsonValue | undefined,
      priority: this.enqueue.priority,
      delayMs: this.enqueue.delayFrom(now),
      maxAttempts: this.state.maxAttempts,
      retry: this.enqueue.retry,
      callbacks: this.callbacks.toJSON(),
      ...(this.enqueue.timeoutMs === undefined ? {} : { timeoutMs: this.enqueue.timeoutMs }),
      ...(this.state.uniqueKey === undefined ? {} : { uniqueKey: this.state.uniqueKey }),
      ...(this.#meta === undefined ? {} : { meta: this.#meta }),
      ...(this.#payloadVersion === undefined ? {} : { payloadVersion: this.#payloadVersion }),
      ...(this.enqueue.group === undefined ? {} : { group: this.enqueue.group }),
    };
  }

  /** The envelope to push; validates the payload (naming the path of what JSON would mangle) and its size. */
  toEnvelope(serializer: PayloadSerializer = defaultSerializer, now: number = Date.now()): JobEnvelope {
    serializer.assertSerializable(this.payload, 'payload');
    const envelope = createEnvelope({
      id: this.id,
      name: this.name,
      queue: this.enqueue.queue,
      payload: this.payload as JsonValue | undefined,
      priority: this.enqueue.priority,
      maxAttempts: this.state.maxAttempts,
      createdAt: now,
      availableAt: this.enqueue.availableAt(now),
      retry: this.enqueue.retry,
      callbacks: this.callbacks.toJSON(),
      ...(this.enqueue.timeoutMs === undefined ? {} : { timeoutMs: this.enqueue.timeoutMs }),
      ...(this.state.uniqueKey === undefined ? {} : { uniqueKey: this.state.uniqueKey }),
      ...(this.#meta === undefined ? {} : { meta: this.#meta }),
      ...(this.#payloadVersion === undefined ? {} : { payloadVersion: this.#payloadVersion }),
      ...(this.enqueue.group === undefined ? {} : { group: this.enqueue.group }),
    });
    serializer.assertSize(encodeEnvelope(envelope), `job ${this.name}`);
    return envelope;
  }

  /**
   * Pushes this job through a driver or a QueueManager. A job is dispatched once. Resolves a
   * handle: the push's `pushed` / `skipped`, and `state()` / `result()` of the job.
   */
  async dispatch(target: QueueDriver | JobDispatcher, options: DispatchOptions = {}): Promise<JobHandle<TResult>> {
    this.state.assertDraft('dispatch');
    const queue = this.enqueue.queue;
    await this.checked();
    if (isDriver(target)) {
      const { serializer, ...pushOptions } = options;
      const result = await target.push([this.toEnvelope(serializer)], pushOptions);
      this.state.status = result.skipped.includes(this.id) ? 'skipped' : 'dispatched';
      const lookup = target.getJob === undefined ? undefined : (id: string, q: string) => lookupJob(target, id, { queue: q });
      return new JobHandle<TResult>(this.id, queue, result, lookup);
    }
    const result = await target.dispatch(this, options);
    this.state.status = result.skipped.includes(this.id) ? 'skipped' : 'dispatched';
    const getJob = target.getJob;
    const lookup = getJob === undefined ? undefined : (id: string, q: string) => getJob.call(target, id, { ...options, queue: q });
    return new JobHandle<TResult>(this.id, queue, result, lookup);
  }
}

function isDriver(target: QueueDriver | JobDispatcher): target is QueueDriver {
  return typeof (target as QueueDriver).push === 'function' && typeof (target as QueueDriver).reserve === 'function';
}

/** Builds envelopes for several jobs and pushes them in one call (bulk push where the driver has it). */
export async function dispatchMany(driver: QueueDriver, jobs: readonly Job[], options: DispatchOptions = {}): Promise<PushResult> {
  const { serializer, ...pushOptions } = options;
  await Promise.all(jobs.map((job) => job.checked()));
  const now = Date.now();
  const result = await driver.push(
    jobs.map((job) => {
      job.state.assertDraft('dispatch');
      return job.toEnvelope(serializer, now);
    }),
    pushOptions,
  );
  const skipped = new Set(result.skipped);
  for (const job of jobs) job.state.status = skipped.has(job.id) ? 'skipped' : 'dispatched';
  return result;
}
