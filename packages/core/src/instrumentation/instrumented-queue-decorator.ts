import { createRequire } from 'node:module';
import { performance } from 'node:perf_hooks';
import {
  type Attributes,
  context,
  createNoopMeter,
  type Exception,
  isSpanContextValid,
  metrics,
  ProxyTracerProvider,
  type Span,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import type { CoordinationStore } from '../coordination/coordination-store.js';
import type { AckOptions } from '../driver/job-info.js';
import type {
  AckAndClaimOptions,
  AckAndClaimResult,
  ClaimOptions,
  DeadLetterStore,
  DriverCapabilities,
  JobFailure,
  PostponeOptions,
  PushOptions,
  PushResult,
  QueueDriver,
  QueueStats,
  ReleaseOptions,
  Reservation,
  ReserveOptions,
  SchemaMigrationResult,
} from '../driver/queue-driver.js';
import type { ErrorInfo, FailureHistory, JobEnvelope } from '../envelope/job-envelope.js';
import { UnsupportedError } from '../errors/unsupported-error.js';
import type { RateLimitStore } from '../rate-limit/rate-limit-store.js';
import type { InstrumentationOptions } from './instrumentation-options.js';
import { type Operation, QueueMetrics } from './queue-metrics.js';
import {
  ATTR_DEAD_LETTER_REASON,
  ATTR_ERROR_TYPE,
  ATTR_JOB_ATTEMPT,
  ATTR_JOB_NAME,
  ATTR_JOB_OUTCOME,
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_PUSH_SKIPPED,
  INSTRUMENTATION_SCOPE,
  type JobOutcome,
} from './semantic-conventions.js';
import { extractTraceContext, injectTraceContext } from './trace-context.js';

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
/** What the global proxy delegates to while no SDK has registered a tracer provider. */
const NOOP_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();
/** Deliveries tracked between reserve and settle; beyond this the oldest (abandoned) ones are dropped. */
const MAX_TRACKED_DELIVERIES = 10_000;

/** One delivery between reserve and settle. */
interface Delivery {
  readonly queue: string;
  readonly name: string;
  /** performance.now() when the reserve returned; undefined when it was not measured. */
  readonly reservedAt: number | undefined;
  span: Span | undefined;
  outcome: JobOutcome | undefined;
}

/**
 * Wraps any {@link QueueDriver} and records what passes through it with OpenTelemetry, through
 * `@opentelemetry/api` only: a no-op until the application installs an SDK.
 *
 * Metrics (see `METRIC`): jobs enqueued, reserved, reserve-empty, completed, failed, retried and
 * dead-lettered; processing duration (reserve to settle, per lease token), queue wait (availableAt
 * to first reservation), and the duration of every push, reserve, ack, release and dead-letter call.
 *
 * Traces: a `send <queue>` PRODUCER span per pushed envelope, whose W3C trace context is written into
 * the envelope's `trace`; a `process <queue>` CONSUMER span per delivery, opened in
 * {@link aroundExecution} with the producer's context as parent (and as a link, as the messaging
 * conventions ask) and made active for the whole delivery, so follow-ups pushed by the worker
 * continue the trace.
 *
 * A release counts as a retry after a failure when it carries an envelope whose `failure` record is
 * not the one the job was delivered with (RequeueHelper writes a fresh record on every failed
 * attempt); a release without one (shutdown, a job handed back) is outcome `released`.
 */
export class InstrumentedQueueDecorator implements QueueDriver {
  /** The wrapped driver's name. */
  readonly name: string;
  /** The wrapped driver's capabilities. */
  readonly capabilities: DriverCapabilities;
  /** The wrapped driver's dead-letter store. */
  readonly deadLetters: DeadLetterStore;
  /** The wrapped driver's `migrate()`, when it has one. */
  readonly migrate?: () => Promise<SchemaMigrationResult>;
  /** The wrapped driver's `createRateLimitStore()`, when it has one. */
  readonly createRateLimitStore?: () => RateLimitStore;
  /** The wrapped driver's lookup, progress, cancel and pause members, when it has them. */
  readonly getJob?: NonNullable<QueueDriver['getJob']>;
  readonly listJobs?: NonNullable<QueueDriver['listJobs']>;
  readonly setProgress?: NonNullable<QueueDriver['setProgress']>;
  readonly cancel?: NonNullable<QueueDriver['cancel']>;
  readonly pause?: NonNullable<QueueDriver['pause']>;
  readonly resume?: NonNullable<QueueDriver['resume']>;
  /** The wrapped driver's `createCoordinationStore()`, when it has one. */
  readonly createCoordinationStore?: () => CoordinationStore;
  /** The wrapped driver's `postpone()`, when it has one; the delivery ends with outcome `released`. */
  readonly postpone?: (reservation: Reservation, options: PostponeOptions) => Promise<void>;
  readonly #inner: QueueDriver;
  readonly #metrics: QueueMetrics | undefined;
  readonly #traces: boolean;
  readonly #explicitTracer: Tracer | undefined;
  #delegate: TracerProvider | undefined;
  #tracer: Tracer | undefined;
  readonly #deliveries = new Map<string, Delivery>();

  constructor(driver: QueueDriver, options: InstrumentationOptions = {}) {
    this.#inner = driver;
    this.name = driver.name;
    this.capabilities = driver.capabilities;
    this.deadLetters = driver.deadLetters;
    if (driver.migrate !== undefined) this.migrate = () => (driver.migrate as () => Promise<SchemaMigrationResult>).call(driver);
    if (driver.createRateLimitStore !== undefined)
      this.createRateLimitStore = () => (driver.createRateLimitStore as () => RateLimitStore).call(driver);
    if (driver.getJob !== undefined) this.getJob = driver.getJob.bind(driver);
    if (driver.listJobs !== undefined) this.listJobs = driver.listJobs.bind(driver);
    if (driver.setProgress !== undefined) this.setProgress = driver.setProgress.bind(driver);
    if (driver.cancel !== undefined) this.cancel = driver.cancel.bind(driver);
    if (driver.pause !== undefined) this.pause = driver.pause.bind(driver);
    if (driver.resume !== undefined) this.resume = driver.resume.bind(driver);
    if (driver.createCoordinationStore !== undefined)
      this.createCoordinationStore = () => (driver.createCoordinationStore as () => CoordinationStore).call(driver);
    if (driver.postpone !== undefined) {
      const postpone = driver.postpone;
      this.postpone = (reservation, postponeOptions) => {
        const call = () => postpone.call(driver, reservation, postponeOptions);
        if (this.#metrics === undefined && this.#deliveries.size === 0) return call();
        return this.#settle(reservation, 'release', call, 'released', undefined, undefined);
      };
    }
    if (options.metrics !== false) {
      const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE, VERSION);
      // With no SDK the API hands out its shared no-op meter: skip the bookkeeping entirely.
      if (meter !== createNoopMeter()) this.#metrics = new QueueMetrics(meter, driver.name);
    }
    this.#traces = options.traces !== false;
    if (this.#traces && options.tracerProvider !== undefined) {
      this.#explicitTracer = options.tracerProvider.getTracer(INSTRUMENTATION_SCOPE, VERSION);
    }
  }

  /** The decorated driver. */
  get inner(): QueueDriver {
    return this.#inner;
  }

  /** Pushes envelopes with a producer span each and their trace context written into `trace`. */
  push(envelopes: readonly JobEnvelope[], options?: PushOptions): Promise<PushResult> {
    const tracer = this.#activeTracer();
    if (tracer === undefined && this.#metrics === undefined) return this.#inner.push(this.#passThrough(envelopes), options);
    return this.#pushObserved(tracer, envelopes, options);
  }

  /**
   * With no tracer, a valid span context may still be active (propagated from upstream, or an SDK
   * with tracing off): it is passed on unchanged so the trace survives this hop.
   */
  #passThrough(envelopes: readonly JobEnvelope[]): readonly JobEnvelope[] {
    if (!this.#traces) return envelopes;
    const active = context.active();
    const spanContext = trace.getSpanContext(active);
    if (spanContext === undefined || !isSpanContextValid(spanContext)) return envelopes;
    const headers = injectTraceContext(active);
    return envelopes.map((envelope) => withTrace(envelope, headers));
  }

  async #pushObserved(
    tracer: Tracer | undefined,
    envelopes: readonly JobEnvelope[],
    options: PushOptions | undefined,
  ): Promise<PushResult> {
    let spans: Span[] | undefined;
    let outgoing = envelopes;
    if (tracer !== undefined) {
      const parent = context.active();
      spans = [];
      const traced: JobEnvelope[] = [];
      for (const envelope of envelopes) {
        const span = tracer.startSpan(
          `send ${envelope.queue}`,
          { kind: SpanKind.PRODUCER, attributes: this.#producerAttributes(envelope, envelopes.length) },
          parent,
        );
        spans.push(span);
        traced.push(withTrace(envelope, injectTraceContext(trace.setSpan(parent, span))));
      }
      outgoing = traced;
    } else {
      outgoing = this.#passThrough(envelopes);
    }
    const meter = this.#metrics;
    const startedAt = meter === undefined ? 0 : performance.now();
    let result: PushResult;
    try {
      result = await this.#inner.push(outgoing, options);
    } catch (error) {
      if (meter !== undefined) {
        const [queue, name] = common(envelopes);
        meter.operation('send', performance.now() - startedAt, queue, name, errorType(error));
        const type = errorType(error);
        countRuns(envelopes, envelopeQueue, envelopeName, (queue, name, count) => meter.enqueueFailed(queue, name, count, type));
      }
      if (spans !== undefined) for (const span of spans) endWithError(span, error);
      throw error;
    }
    if (meter !== undefined) {
      const [queue, name] = common(envelopes);
      meter.operation('send', performance.now() - startedAt, queue, name, '');
      const skipped = result.skipped.length === 0 ? undefined : new Set(result.skipped);
      const stored = skipped === undefined ? envelopes : envelopes.filter((envelope) => !skipped.has(envelope.id));
      countRuns(stored, envelopeQueue, envelopeName, (queue, name, count) => meter.enqueued(queue, name, count));
    }
    if (spans !== undefined) {
      const skipped = result.skipped.length === 0 ? undefined : new Set(result.skipped);
      spans.forEach((span, index) => {
        if (skipped?.has((envelopes[index] as JobEnvelope).id)) span.setAttribute(ATTR_PUSH_SKIPPED, true);
        span.end();
      });
    }
    return result;
  }

  /** Reserves through the wrapped driver, counting the result and timing the call. */
  reserve(queues: readonly string[], options: ReserveOptions): Promise<Reservation | undefined> {
    const meter = this.#metrics;
    if (meter === undefined) return this.#inner.reserve(queues, options);
    return this.#reserveMeasured(meter, queues, options);
  }

  async #reserveMeasured(meter: QueueMetrics, queues: readonly string[], options: ReserveOptions): Promise<Reservation | undefined> {
    const startedAt = performance.now();
    let reservation: Reservation | undefined;
    try {
      reservation = await this.#inner.reserve(queues, options);
    } catch (error) {
      meter.operation('receive', performance.now() - startedAt, '', '', errorType(error));
      throw error;
    }
    const reservedAt = performance.now();
    if (reservation === undefined) {
      meter.reserveEmpty();
      meter.operation('receive', reservedAt - startedAt, '', '', '', true);
      return undefined;
    }
    const envelope = reservation.envelope;
    const name = envelope?.name ?? '';
    meter.operation('receive', reservedAt - startedAt, reservation.queue, name, '');
    meter.reserved(reservation.queue, name, 1);
    this.#noteReserved(meter, reservation, reservedAt, Date.now());
    return reservation;
  }

  /**
   * Records a reserved job's queue wait and tracks its delivery until it settles (its count is the
   * caller's); `reservedAt` (performance.now()) and `now` (epoch ms) are read once per call or batch.
   */
  #noteReserved(meter: QueueMetrics, reservation: Reservation, reservedAt: number, now: number): void {
    const envelope = reservation.envelope;
    const name = envelope?.name ?? '';
    // Drivers keep availableAt across retries, so only a first run's wait is a queue wait.
    if (envelope !== undefined && reservation.attempt === 1 && reservation.lostDeliveries === 0) {
      meter.queueWait(reservation.queue, name, now - envelope.availableAt);
    }
    this.#track(reservation.token, { queue: reservation.queue, name, reservedAt, span: undefined, outcome: undefined });
  }

  /** Counts claimed jobs: one add per run of jobs of the same queue and name. */
  #countReserved(meter: QueueMetrics, reservations: readonly Reservation[]): void {
    countRuns(reservations, reservationQueue, reservationName, (queue, name, count) => meter.reserved(queue, name, count));
  }

  /** Claims through the wrapped driver's batch member, counting each job. */
  async claim(queues: readonly string[], options: ClaimOptions): Promise<Reservation[]> {
    const inner = this.#batchMember('claim');
    const meter = this.#metrics;
    if (meter === undefined) return inner.call(this.#inner, queues, options);
    const startedAt = performance.now();
    let reservations: Reservation[];
    try {
      reservations = await inner.call(this.#inner, queues, options);
    } catch (error) {
      meter.operation('receive', performance.now() - startedAt, '', '', errorType(error));
      throw error;
    }
    const reservedAt = performance.now();
    if (reservations.length === 0) meter.reserveEmpty();
    const [queue, name] = commonOf(reservations);
    meter.operation('receive', reservedAt - startedAt, queue, name, '', reservations.length === 0);
    this.#countReserved(meter, reservations);
    const now = Date.now();
    for (const reservation of reservations) this.#noteReserved(meter, reservation, reservedAt, now);
    return reservations;
  }

  /** Acknowledges and claims through the wrapped driver's batch member; counts completed and claimed jobs. */
  async ackAndClaim(acks: readonly Reservation[], queues: readonly string[], options: AckAndClaimOptions): Promise<AckAndClaimResult> {
    const inner = this.#batchMember('ackAndClaim');
    const meter = this.#metrics;
    if (meter === undefined && this.#deliveries.size === 0) return inner.call(this.#inner, acks, queues, options);
    const startedAt = performance.now();
    let result: AckAndClaimResult;
    try {
      result = await inner.call(this.#inner, acks, queues, options);
    } catch (error) {
      meter?.operation('ack', performance.now() - startedAt, '', '', errorType(error));
      throw error;
    }
    const settledAt = performance.now();
    const acked = result.leaseLost.length === 0 ? acks : withoutLost(acks, result.leaseLost);
    // Completions are counted below, one add per run of the same queue and name.
    for (const reservation of acked) this.#noteSettled(reservation, undefined, 0, settledAt, 'completed', undefined, undefined, false);
    if (meter !== undefined) {
      const [queue, name] = commonOf(acks);
      meter.operation('ack', settledAt - startedAt, queue, name, '');
      countRuns(acked, reservationQueue, reservationName, (runQueue, runName, count) => meter.completed(runQueue, runName, count));
      this.#countReserved(meter, result.claimed);
      const now = Date.now();
      for (const reservation of result.claimed) this.#noteReserved(meter, reservation, settledAt, now);
    }
    return result;
  }

  /** Delegates to the wrapped driver's batch member. */
  extendMany(reservations: readonly Reservation[], leaseMs: number): Promise<(number | 'cancelled' | undefined)[]> {
    return this.#batchMember('extendMany').call(this.#inner, reservations, leaseMs);
  }

  /** Hands jobs back unrun; their deliveries end with outcome `released`. */
  async giveBack(reservations: readonly Reservation[]): Promise<number> {
    const startedAt = performance.now();
    const given = await this.#inner.giveBack(reservations);
    if (this.#metrics !== undefined || this.#deliveries.size > 0) {
      const settledAt = performance.now();
      for (const reservation of reservations) this.#noteSettled(reservation, undefined, 0, settledAt, 'released', undefined, undefined);
      const [queue, name] = commonOf(reservations);
      this.#metrics?.operation('release', settledAt - startedAt, queue, name, '');
    }
    return given;
  }

  /** The wrapped driver's batch member `key`; UnsupportedError when it has none (its capabilities say so). */
  #batchMember<K extends 'claim' | 'ackAndClaim' | 'extendMany'>(key: K): NonNullable<QueueDriver[K]> {
    const member = this.#inner[key];
    if (member === undefined) throw new UnsupportedError(`${this.name}: ${key}() is not supported (capabilities.batch is false)`);
    return member as NonNullable<QueueDriver[K]>;
  }

  /** Acknowledges; counts a completed job. */
  ack(reservation: Reservation, options?: AckOptions): Promise<void> {
    if (this.#metrics === undefined && this.#deliveries.size === 0) return this.#inner.ack(reservation, options);
    return this.#settle(reservation, 'ack', () => this.#inner.ack(reservation, options), 'completed', undefined, undefined);
  }

  /** Releases; counts a retry when the release records a new failure (see the class notes). */
  release(reservation: Reservation, options: ReleaseOptions): Promise<void> {
    if (this.#metrics === undefined && this.#deliveries.size === 0) return this.#inner.release(reservation, options);
    const failure = newFailure(reservation, options);
    return this.#settle(
      reservation,
      'release',
      () => this.#inner.release(reservation, options),
      failure === undefined ? 'released' : 'retried',
      failure?.lastError,
      undefined,
    );
  }

  /** Dead-letters; counts a failed and dead-lettered job. */
  deadLetter(reservation: Reservation, failure: JobFailure): Promise<void> {
    if (this.#metrics === undefined && this.#deliveries.size === 0) return this.#inner.deadLetter(reservation, failure);
    return this.#settle(
      reservation,
      'dead_letter',
      () => this.#inner.deadLetter(reservation, failure),
      'dead-lettered',
      failure.error,
      failure.reason,
    );
  }

  /** Delegates. */
  extend(reservation: Reservation, leaseMs: number): Promise<number> {
    return this.#inner.extend(reservation, leaseMs);
  }

  /** Delegates. */
  stats(queue: string): Promise<QueueStats> {
    return this.#inner.stats(queue);
  }

  /** Delegates. */
  ping(): Promise<number> {
    return this.#inner.ping();
  }

  /** Delegates. */
  purge(queue: string): Promise<number> {
    return this.#inner.purge(queue);
  }

  /** Closes the wrapped driver and forgets tracked deliveries. */
  async close(): Promise<void> {
    await this.#inner.close();
    this.#deliveries.clear();
  }

  /**
   * Runs a delivery inside its consumer span: the producer's context (from `envelope.trace`) is the
   * parent, the span is active for the handler, follow-up pushes and settling, and it ends with the
   * delivery's outcome. Delegates to the wrapped driver's own `aroundExecution` inside the span.
   */
  aroundExecution<T>(reservation: Reservation, run: () => Promise<T>): Promise<T> {
    const inner = this.#inner;
    const call =
      inner.aroundExecution === undefined
        ? run
        : () => (inner.aroundExecution as NonNullable<QueueDriver['aroundExecution']>)(reservation, run);
    const tracer = this.#activeTracer();
    if (tracer === undefined && this.#metrics === undefined) {
      const headers = reservation.envelope?.trace;
      if (!this.#traces || headers === undefined) return call();
      return context.with(extractTraceContext(headers, context.active()), call);
    }
    return this.#observe(tracer, reservation, call);
  }

  async #observe<T>(tracer: Tracer | undefined, reservation: Reservation, call: () => Promise<T>): Promise<T> {
    let delivery = this.#deliveries.get(reservation.token);
    let active = context.active();
    let span: Span | undefined;
    if (tracer !== undefined) {
      const envelope = reservation.envelope;
      const parent = envelope?.trace === undefined ? active : extractTraceContext(envelope.trace, active);
      const producer = parent === active ? undefined : trace.getSpanContext(parent);
      const options: SpanOptions = { kind: SpanKind.CONSUMER, attributes: this.#consumerAttributes(reservation) };
      if (producer !== undefined) options.links = [{ context: producer }];
      span = tracer.startSpan(`process ${reservation.queue}`, options, parent);
      active = trace.setSpan(parent, span);
      if (delivery === undefined) {
        delivery = { queue: reservation.queue, name: reservation.envelope?.name ?? '', reservedAt: undefined, span, outcome: undefined };
        this.#track(reservation.token, delivery);
      } else {
        delivery.span = span;
      }
    } else if (this.#traces && reservation.envelope?.trace !== undefined) {
      active = extractTraceContext(reservation.envelope.trace, active);
    }
    let failure: unknown;
    try {
      return await context.with(active, call);
    } catch (error) {
      failure = error;
      if (span !== undefined) recordError(span, error);
      throw error;
    } finally {
      if (delivery !== undefined && delivery.outcome === undefined) {
        // Ended without a settle call: the lease was lost, or settling failed.
        this.#deliveries.delete(reservation.token);
        span?.setAttribute(ATTR_JOB_OUTCOME, 'unsettled');
        if (this.#metrics !== undefined && delivery.reservedAt !== undefined) {
          const type = failure === undefined ? '' : errorType(failure);
          this.#metrics.processed(delivery.queue, delivery.name, 'unsettled', type, performance.now() - delivery.reservedAt);
        }
      }
      span?.end();
    }
  }

  async #settle(
    reservation: Reservation,
    operation: Operation,
    call: () => Promise<void>,
    outcome: JobOutcome,
    error: ErrorInfo | undefined,
    reason: string | undefined,
  ): Promise<void> {
    const meter = this.#metrics;
    const startedAt = meter === undefined ? 0 : performance.now();
    try {
      await call();
    } catch (failure) {
      meter?.operation(operation, performance.now() - startedAt, reservation.queue, reservation.envelope?.name ?? '', errorType(failure));
      throw failure;
    }
    this.#noteSettled(reservation, operation, startedAt, meter === undefined ? 0 : performance.now(), outcome, error, reason);
  }

  /**
   * Records a settled delivery: its outcome on the span and in the metrics, and the duration of
   * its settle call when it had one of its own (`operation`; a batch call is timed once by its caller).
   * `settledAt` is performance.now() when the settle returned, read once per call or batch.
   */
  #noteSettled(
    reservation: Reservation,
    operation: Operation | undefined,
    startedAt: number,
    settledAt: number,
    outcome: JobOutcome,
    error: ErrorInfo | undefined,
    reason: string | undefined,
    countCompleted = true,
  ): void {
    const meter = this.#metrics;
    const queue = reservation.queue;
    const name = reservation.envelope?.name ?? '';
    const delivery = this.#deliveries.get(reservation.token);
    if (delivery !== undefined) {
      this.#deliveries.delete(reservation.token);
      delivery.outcome = outcome;
    }
    const type = error?.name ?? '';
    if (meter !== undefined) {
      if (operation !== undefined) meter.operation(operation, settledAt - startedAt, queue, name, '');
      if (outcome === 'completed') {
        if (countCompleted) meter.completed(queue, name);
      } else if (outcome === 'retried') meter.retried(queue, name, type);
      else if (outcome === 'dead-lettered') meter.deadLettered(queue, name, type, reason ?? '');
      if (delivery?.reservedAt !== undefined) meter.processed(queue, name, outcome, type, settledAt - delivery.reservedAt);
    }
    const span = delivery?.span;
    if (span !== undefined) {
      span.setAttribute(ATTR_JOB_OUTCOME, outcome);
      if (reason !== undefined) span.setAttribute(ATTR_DEAD_LETTER_REASON, reason);
      if (error !== undefined) {
        span.recordException(toException(error));
        span.setAttribute(ATTR_ERROR_TYPE, type);
        span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
      }
    }
  }

  #track(token: string, delivery: Delivery): void {
    if (this.#deliveries.size >= MAX_TRACKED_DELIVERIES) {
      // Reservations that were never settled nor run (a caller that dropped them): forget the oldest.
      const oldest = this.#deliveries.keys().next();
      if (oldest.done !== true) this.#deliveries.delete(oldest.value);
    }
    this.#deliveries.set(token, delivery);
  }

  /** The tracer to use now, or undefined while no SDK is registered (or traces are off). */
  #activeTracer(): Tracer | undefined {
    if (!this.#traces) return undefined;
    if (this.#explicitTracer !== undefined) return this.#explicitTracer;
    const provider = trace.getTracerProvider();
    const delegate = provider instanceof ProxyTracerProvider ? provider.getDelegate() : provider;
    if (delegate === NOOP_TRACER_PROVIDER) return undefined;
    if (delegate !== this.#delegate) {
      this.#delegate = delegate;
      this.#tracer = delegate.getTracer(INSTRUMENTATION_SCOPE, VERSION);
    }
    return this.#tracer;
  }

  #producerAttributes(envelope: JobEnvelope, batchSize: number): Attributes {
    const attributes: Attributes = {
      [ATTR_MESSAGING_SYSTEM]: this.name,
      [ATTR_MESSAGING_DESTINATION_NAME]: envelope.queue,
      [ATTR_MESSAGING_OPERATION_TYPE]: 'send',
      [ATTR_MESSAGING_OPERATION_NAME]: 'send',
      [ATTR_MESSAGING_MESSAGE_ID]: envelope.id,
      [ATTR_JOB_NAME]: envelope.name,
    };
    if (batchSize > 1) attributes[ATTR_MESSAGING_BATCH_MESSAGE_COUNT] = batchSize;
    return attributes;
  }

  #consumerAttributes(reservation: Reservation): Attributes {
    const attributes: Attributes = {
      [ATTR_MESSAGING_SYSTEM]: this.name,
      [ATTR_MESSAGING_DESTINATION_NAME]: reservation.queue,
      [ATTR_MESSAGING_OPERATION_TYPE]: 'process',
      [ATTR_MESSAGING_OPERATION_NAME]: 'process',
      [ATTR_MESSAGING_MESSAGE_ID]: reservation.id,
      [ATTR_JOB_ATTEMPT]: reservation.attempt,
    };
    if (reservation.envelope !== undefined) attributes[ATTR_JOB_NAME] = reservation.envelope.name;
    return attributes;
  }
}

/** Wraps `driver` in an {@link InstrumentedQueueDecorator} (a driver already wrapped is returned as is). */
export function instrumentDriver(driver: QueueDriver, options?: InstrumentationOptions): QueueDriver {
  return driver instanceof InstrumentedQueueDecorator ? driver : new InstrumentedQueueDecorator(driver, options);
}

/** The failure record a release adds, or undefined when it adds none (see the class notes). */
function newFailure(reservation: Reservation, options: ReleaseOptions): FailureHistory | undefined {
  const failure = options.envelope?.failure;
  if (failure === undefined) return undefined;
  const previous = reservation.envelope?.failure;
  if (failure === previous || (previous !== undefined && failure.lastFailedAt < previous.lastFailedAt)) return undefined;
  return failure;
}

function withTrace(envelope: JobEnvelope, headers: Record<string, string> | undefined): JobEnvelope {
  return headers === undefined ? envelope : { ...envelope, trace: { ...envelope.trace, ...headers } };
}

/** The acks whose lease was not lost, in order. */
function withoutLost(acks: readonly Reservation[], leaseLost: readonly Reservation[]): Reservation[] {
  const lost = new Set(leaseLost);
  return acks.filter((reservation) => !lost.has(reservation));
}

const envelopeQueue = (envelope: JobEnvelope): string => envelope.queue;
const envelopeName = (envelope: JobEnvelope): string => envelope.name;
const reservationQueue = (reservation: Reservation): string => reservation.queue;
const reservationName = (reservation: Reservation): string => reservation.envelope?.name ?? '';

/**
 * Calls `record(queue, name, count)` once per run of consecutive items of the same queue and job
 * name: a batch of one kind of job is one counter add (the SDK hashes the attributes per add).
 */
function countRuns<T>(
  items: readonly T[],
  queueOf: (item: T) => string,
  nameOf: (item: T) => string,
  record: (queue: string, name: string, count: number) => void,
): void {
  let queue = '';
  let name = '';
  let count = 0;
  for (const item of items) {
    const itemQueue = queueOf(item);
    const itemName = nameOf(item);
    if (count > 0 && itemQueue === queue && itemName === name) {
      count += 1;
      continue;
    }
    if (count > 0) record(queue, name, count);
    queue = itemQueue;
    name = itemName;
    count = 1;
  }
  if (count > 0) record(queue, name, count);
}

/** The queue and job name shared by all reservations, each '' when they differ (or a body did not decode). */
function commonOf(reservations: readonly Reservation[]): [string, string] {
  const first = reservations[0];
  if (first === undefined) return ['', ''];
  let queue = first.queue;
  let name = first.envelope?.name ?? '';
  for (const reservation of reservations) {
    if (reservation.queue !== queue) queue = '';
    if ((reservation.envelope?.name ?? '') !== name) name = '';
  }
  return [queue, name];
}

/** The queue and job name shared by all envelopes, each '' when they differ. */
function common(envelopes: readonly JobEnvelope[]): [string, string] {
  const first = envelopes[0];
  if (first === undefined) return ['', ''];
  let queue = first.queue;
  let name = first.name;
  for (const envelope of envelopes) {
    if (envelope.queue !== queue) queue = '';
    if (envelope.name !== name) name = '';
  }
  return [queue, name];
}

function errorType(error: unknown): string {
  return error instanceof Error ? error.name : 'Error';
}

function toException(error: ErrorInfo): Exception {
  return {
    name: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(error.code === undefined ? {} : { code: error.code }),
  };
}

function recordError(span: Span, error: unknown): void {
  span.recordException(error instanceof Error ? error : String(error));
  span.setAttribute(ATTR_ERROR_TYPE, errorType(error));
  span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
}

function endWithError(span: Span, error: unknown): void {
  recordError(span, error);
  span.end();
}
