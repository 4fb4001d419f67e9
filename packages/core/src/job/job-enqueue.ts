import { isValidQueueName } from '../driver/default-capabilities.js';
import { DEFAULT_QUEUE } from '../envelope/create-envelope.js';
import { GROUP_KEY_MAX_LENGTH, isValidGroupKey, type RetrySpec } from '../envelope/job-envelope.js';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { quoteInput } from '../errors/quote-input.js';
import { RetryPolicy } from '../retry/retry-policy.js';
import { Priority, type PriorityInput, resolvePriority } from './priority.js';

/** Enqueue concern of a Job: where, when, how urgently, how retried and how long it may run. */
export class JobEnqueue {
  #queue = DEFAULT_QUEUE;
  #delayMs = 0;
  #runAt: number | undefined;
  #priority: number = Priority.MEDIUM;
  #retry: RetrySpec = { type: 'none' };
  #timeoutMs: number | undefined;
  #group: string | undefined;

  get queue(): string {
    return this.#queue;
  }

  set queue(name: string) {
    if (typeof name !== 'string' || !isValidQueueName(name)) {
      throw new InvalidArgumentError(`queue: expected 1-100 characters of letters, digits and . _ : -, got ${quoteInput(name)}`);
    }
    this.#queue = name;
  }

  /** A relative delay in ms, or an absolute Date. */
  setDelay(delay: number | Date): void {
    if (delay instanceof Date) {
      const at = delay.getTime();
      if (!Number.isFinite(at)) throw new InvalidArgumentError('delay: invalid Date');
      this.#runAt = at;
      this.#delayMs = 0;
      return;
    }
    if (!Number.isFinite(delay) || delay < 0) throw new InvalidArgumentError(`delay: expected ms >= 0 or a Date, got ${quoteInput(delay)}`);
    this.#delayMs = delay;
    this.#runAt = undefined;
  }

  /** Epoch ms at which the job becomes available when dispatched at `now`. */
  availableAt(now: number): number {
    return this.#runAt ?? now + this.#delayMs;
  }

  /** Delay relative to `now`, in ms (for follow-up descriptors). */
  delayFrom(now: number): number {
    return Math.max(0, this.availableAt(now) - now);
  }

  get priority(): number {
    return this.#priority;
  }

  set priority(input: PriorityInput) {
    this.#priority = resolvePriority(input);
  }

  get retry(): RetrySpec {
    return this.#retry;
  }

  set retry(spec: RetrySpec | RetryPolicy) {
    this.#retry = spec instanceof RetryPolicy ? spec.spec : RetryPolicy.validate(spec);
  }

  get timeoutMs(): number | undefined {
    return this.#timeoutMs;
  }

  set timeoutMs(value: number | undefined) {
    if (value !== undefined && !(Number.isFinite(value) && value > 0)) {
      throw new InvalidArgumentError(`timeoutMs: expected a number > 0, got ${quoteInput(value)}`);
    }
    this.#timeoutMs = value;
  }

  /** The group the job belongs to (see JobEnvelope.group); undefined = none. */
  get group(): string | undefined {
    return this.#group;
  }

  set group(key: string | undefined) {
    if (key !== undefined && !isValidGroupKey(key)) {
      throw new InvalidArgumentError(`group: expected a string of 1-${GROUP_KEY_MAX_LENGTH} characters, got ${quoteInput(key)}`);
    }
    this.#group = key;
  }
}
