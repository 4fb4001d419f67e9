import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import { quoteInput } from '../errors/quote-input.js';
import { ENVELOPE_VERSION, GROUP_KEY_MAX_LENGTH, isValidGroupKey, type JobEnvelope, NO_CALLBACKS } from './job-envelope.js';
import { newJobId } from './job-id.js';

/** Fields of {@link createEnvelope}; everything but `name` and `queue` has a default. */
export type EnvelopeInit = Partial<Omit<JobEnvelope, 'v'>> & Pick<JobEnvelope, 'name'>;

/** Default queue name. */
export const DEFAULT_QUEUE = 'default';

/** Builds a v1 envelope with defaults (id, times, priority 20, one attempt, no retry, no callbacks). */
export function createEnvelope(init: EnvelopeInit): JobEnvelope {
  const now = Date.now();
  const envelope: JobEnvelope = {
    v: ENVELOPE_VERSION,
    id: init.id ?? newJobId(now),
    name: init.name,
    queue: init.queue ?? DEFAULT_QUEUE,
    payload: init.payload,
    priority: init.priority ?? 20,
    maxAttempts: init.maxAttempts ?? 1,
    createdAt: init.createdAt ?? now,
    availableAt: init.availableAt ?? init.createdAt ?? now,
    retry: init.retry ?? { type: 'none' },
    callbacks: init.callbacks ?? NO_CALLBACKS,
    ...(init.timeoutMs === undefined ? {} : { timeoutMs: init.timeoutMs }),
    ...(init.uniqueKey === undefined ? {} : { uniqueKey: init.uniqueKey }),
    ...(init.parent === undefined ? {} : { parent: init.parent }),
    ...(init.trace === undefined ? {} : { trace: init.trace }),
    ...(init.failure === undefined ? {} : { failure: init.failure }),
    ...(init.meta === undefined ? {} : { meta: init.meta }),
    ...(init.payloadVersion === undefined ? {} : { payloadVersion: init.payloadVersion }),
    ...(init.group === undefined ? {} : { group: init.group }),
  };
  if (envelope.group !== undefined && !isValidGroupKey(envelope.group)) {
    throw new InvalidArgumentError(`group: expected a string of 1-${GROUP_KEY_MAX_LENGTH} characters, got ${quoteInput(envelope.group)}`);
  }
  if (!Number.isInteger(envelope.maxAttempts) || envelope.maxAttempts < 1) {
    throw new InvalidArgumentError(`maxAttempts: expected an integer >= 1, got ${envelope.maxAttempts}`);
  }
  return envelope;
}
