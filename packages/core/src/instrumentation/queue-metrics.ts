import type { Attributes, Counter, Histogram, Meter } from '@opentelemetry/api';
import {
  ATTR_DEAD_LETTER_REASON,
  ATTR_ERROR_TYPE,
  ATTR_JOB_NAME,
  ATTR_JOB_OUTCOME,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_RESERVE_EMPTY,
  type JobOutcome,
  METRIC,
} from './semantic-conventions.js';

/** Bucket boundaries the messaging conventions advise for operation durations, in seconds. */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Queue waits run from milliseconds to hours (delayed backlogs), in seconds. */
const WAIT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** Attribute sets kept for reuse; beyond this many (unbounded job or error names) they are built per call. */
const MAX_CACHED_ATTRIBUTE_SETS = 2_000;
/** (queue, job name) pairs whose per-job attribute sets are kept; beyond this many they are built per call. */
const MAX_CACHED_JOB_SETS = 2_000;

/** A messaging operation as recorded on `messaging.client.operation.duration`. */
export type Operation = 'send' | 'receive' | 'ack' | 'release' | 'dead_letter';

const OPERATION_TYPE: Record<Operation, string> = {
  send: 'send',
  receive: 'receive',
  ack: 'settle',
  release: 'settle',
  dead_letter: 'settle',
};

/**
 * The attribute sets of one (queue, job name) pair on the per-job path, built on first use and then
 * handed to the SDK as the very same frozen objects every time.
 */
interface JobSets {
  reserved?: Attributes;
  wait?: Attributes;
  completed?: Attributes;
  /** `messaging.process.duration` per outcome, without an error type. */
  readonly processed: Partial<Record<JobOutcome, Attributes>>;
  /** `messaging.client.operation.duration` per operation, success only. */
  readonly operations: Partial<Record<Operation, Attributes>>;
  enqueued?: Attributes;
}

/**
 * The instruments of one decorated driver and the attribute sets they record with. Attribute sets
 * are built once per (operation, queue, job name, …) and reused, so recording allocates nothing:
 * the per-job ones sit in one record per (queue, job name) reached through two map lookups (no key
 * string is built per call); the rare ones (errors, dead-letter reasons, empty reserves) through a
 * composite key. The SDK still hashes an attribute set on every recording (sdk-metrics 2.x keys its
 * aggregations by a string built from the set, identical object or not), so counters take a count:
 * a caller with many jobs of one (queue, name) records them in one add.
 */
export class QueueMetrics {
  readonly #system: string;
  readonly #cache = new Map<string, Attributes>();
  readonly #jobs = new Map<string, Map<string, JobSets>>();
  #jobSetCount = 0;
  readonly #enqueued: Counter;
  readonly #reserved: Counter;
  readonly #reserveEmpty: Counter;
  readonly #completed: Counter;
  readonly #failed: Counter;
  readonly #retried: Counter;
  readonly #deadLettered: Counter;
  readonly #processDuration: Histogram;
  readonly #operationDuration: Histogram;
  readonly #queueWait: Histogram;

  constructor(meter: Meter, system: string) {
    this.#system = system;
    this.#enqueued = meter.createCounter(METRIC.enqueued, { description: 'Jobs stored by push.', unit: '{message}' });
    this.#reserved = meter.createCounter(METRIC.reserved, { description: 'Jobs reserved by a consumer.', unit: '{message}' });
    this.#reserveEmpty = meter.createCounter(METRIC.reserveEmpty, { description: 'Reserve calls that returned no job.', unit: '{call}' });
    this.#completed = meter.createCounter(METRIC.completed, { description: 'Deliveries acknowledged as completed.', unit: '{job}' });
    this.#failed = meter.createCounter(METRIC.failed, {
      description: 'Deliveries that failed (retried or dead-lettered).',
      unit: '{job}',
    });
    this.#retried = meter.createCounter(METRIC.retried, { description: 'Deliveries released for a retry after a failure.', unit: '{job}' });
    this.#deadLettered = meter.createCounter(METRIC.deadLettered, { description: 'Jobs moved to the dead-letter store.', unit: '{job}' });
    this.#processDuration = meter.createHistogram(METRIC.processDuration, {
      description: 'Time from reserving a job to settling it.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.#operationDuration = meter.createHistogram(METRIC.operationDuration, {
      description: 'Duration of driver operations: push (send), reserve (receive), ack/release/dead-letter (settle).',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.#queueWait = meter.createHistogram(METRIC.queueWait, {
      description: "Time a job waited from its availableAt to its first reservation (the worker's clock).",
      unit: 's',
      advice: { explicitBucketBoundaries: WAIT_BUCKETS },
    });
  }

  /** A push stored `count` jobs of `queue`/`name`. */
  enqueued(queue: string, name: string, count: number): void {
    const sets = this.#sets(queue, name);
    sets.enqueued ??= Object.freeze(this.#base(queue, name, 'send', 'send'));
    this.#enqueued.add(count, sets.enqueued);
  }

  /** A push of `count` jobs failed with `errorType`. */
  enqueueFailed(queue: string, name: string, count: number, errorType: string): void {
    this.#enqueued.add(
      count,
      this.#attributes('qe', queue, name, errorType, '', () => ({
        ...this.#base(queue, name, 'send', 'send'),
        [ATTR_ERROR_TYPE]: errorType,
      })),
    );
  }

  /** A reserve or claim returned `count` jobs of `queue`/`name`. */
  reserved(queue: string, name: string, count: number): void {
    const sets = this.#sets(queue, name);
    sets.reserved ??= Object.freeze(this.#base(queue, name, 'receive', 'receive'));
    this.#reserved.add(count, sets.reserved);
  }

  /** The queue wait of a job reserved for the first time (see the README). */
  queueWait(queue: string, name: string, waitMs: number): void {
    const sets = this.#sets(queue, name);
    sets.wait ??= Object.freeze(this.#job(queue, name));
    this.#queueWait.record(Math.max(0, waitMs) / 1000, sets.wait);
  }

  /** A reserve returned nothing. */
  reserveEmpty(): void {
    this.#reserveEmpty.add(
      1,
      this.#attributes('e', '', '', '', '', () => this.#system1()),
    );
  }

  /** How long a driver call took; `queue`/`name` empty when unknown or mixed; `errorType` empty on success. */
  operation(operation: Operation, durationMs: number, queue: string, name: string, errorType: string, empty = false): void {
    if (errorType === '' && !empty) {
      const sets = this.#sets(queue, name);
      let attributes = sets.operations[operation];
      if (attributes === undefined) {
        attributes = Object.freeze(this.#operationAttributes(operation, queue, name, '', false));
        sets.operations[operation] = attributes;
      }
      this.#operationDuration.record(durationMs / 1000, attributes);
      return;
    }
    const attributes = this.#attributes(`o${operation}${empty ? '0' : ''}`, queue, name, errorType, '', () =>
      this.#operationAttributes(operation, queue, name, errorType, empty),
    );
    this.#operationDuration.record(durationMs / 1000, attributes);
  }

  /** `count` deliveries of `queue`/`name` were acknowledged. */
  completed(queue: string, name: string, count = 1): void {
    const sets = this.#sets(queue, name);
    sets.completed ??= Object.freeze(this.#job(queue, name));
    this.#completed.add(count, sets.completed);
  }

  /** A delivery failed and was released for another attempt. */
  retried(queue: string, name: string, errorType: string): void {
    const attributes = this.#failedAttributes(queue, name, errorType);
    this.#failed.add(1, attributes);
    this.#retried.add(1, attributes);
  }

  /** A delivery was dead-lettered with `reason`. */
  deadLettered(queue: string, name: string, errorType: string, reason: string): void {
    const failed = this.#failedAttributes(queue, name, errorType);
    this.#failed.add(1, failed);
    this.#deadLettered.add(
      1,
      this.#attributes('d', queue, name, errorType, reason, () => ({ ...failed, [ATTR_DEAD_LETTER_REASON]: reason })),
    );
  }

  /** Reserve-to-settle time of one delivery. */
  processed(queue: string, name: string, outcome: JobOutcome, errorType: string, durationMs: number): void {
    let attributes: Attributes;
    if (errorType === '') {
      const sets = this.#sets(queue, name);
      const known = sets.processed[outcome];
      if (known === undefined) {
        attributes = Object.freeze(this.#processAttributes(queue, name, outcome, ''));
        sets.processed[outcome] = attributes;
      } else {
        attributes = known;
      }
    } else {
      attributes = this.#attributes('p', queue, name, errorType, outcome, () => this.#processAttributes(queue, name, outcome, errorType));
    }
    this.#processDuration.record(durationMs / 1000, attributes);
  }

  /** The per-job attribute sets of `queue`/`name`; beyond the cache bound a fresh (uncached) record. */
  #sets(queue: string, name: string): JobSets {
    let names = this.#jobs.get(queue);
    let sets = names?.get(name);
    if (sets !== undefined) return sets;
    sets = { processed: {}, operations: {} };
    if (this.#jobSetCount < MAX_CACHED_JOB_SETS) {
      if (names === undefined) {
        names = new Map();
        this.#jobs.set(queue, names);
      }
      names.set(name, sets);
      this.#jobSetCount += 1;
    }
    return sets;
  }

  #failedAttributes(queue: string, name: string, errorType: string): Attributes {
    return this.#attributes('f', queue, name, errorType, '', () => ({ ...this.#job(queue, name), [ATTR_ERROR_TYPE]: errorType }));
  }

  #operationAttributes(
    operation: Operation,
    queue: string,
    name: string,
    errorType: string,
    empty: boolean,
  ): Record<string, string | boolean> {
    const result: Record<string, string | boolean> = this.#base(queue, name, OPERATION_TYPE[operation], operation);
    if (errorType !== '') result[ATTR_ERROR_TYPE] = errorType;
    if (operation === 'receive') result[ATTR_RESERVE_EMPTY] = empty;
    return result;
  }

  #processAttributes(queue: string, name: string, outcome: JobOutcome, errorType: string): Record<string, string> {
    const result: Record<string, string> = { ...this.#base(queue, name, 'process', 'process'), [ATTR_JOB_OUTCOME]: outcome };
    if (errorType !== '') result[ATTR_ERROR_TYPE] = errorType;
    return result;
  }

  #attributes(kind: string, queue: string, name: string, a: string, b: string, build: () => Attributes): Attributes {
    const key = `${kind}\u0000${queue}\u0000${name}\u0000${a}\u0000${b}`;
    let attributes = this.#cache.get(key);
    if (attributes === undefined) {
      attributes = Object.freeze(build());
      if (this.#cache.size < MAX_CACHED_ATTRIBUTE_SETS) this.#cache.set(key, attributes);
    }
    return attributes;
  }

  #system1(): Record<string, string> {
    return { [ATTR_MESSAGING_SYSTEM]: this.#system };
  }

  #job(queue: string, name: string): Record<string, string> {
    const result = this.#system1();
    if (queue !== '') result[ATTR_MESSAGING_DESTINATION_NAME] = queue;
    if (name !== '') result[ATTR_JOB_NAME] = name;
    return result;
  }

  #base(queue: string, name: string, type: string, operation: string): Record<string, string> {
    const result = this.#job(queue, name);
    result[ATTR_MESSAGING_OPERATION_TYPE] = type;
    result[ATTR_MESSAGING_OPERATION_NAME] = operation;
    return result;
  }
}
