import { PayloadDecodeError } from '../errors/payload-decode-error.js';
import { quoteInput } from '../errors/quote-input.js';
import type { JsonValue } from './payload-serializer.js';

export type { JsonValue };

/** The envelope version this code writes. */
export const ENVELOPE_VERSION = 1;

/** Retry policy as stored in an envelope. Delays in milliseconds. */
export type RetrySpec =
  | { readonly type: 'none' }
  | { readonly type: 'fixed'; readonly delayMs: number }
  | {
      readonly type: 'exponential';
      /** Delay before the first retry, in ms. */
      readonly delayMs: number;
      /** Growth per attempt; defaults to 2. */
      readonly factor?: number;
      /** Upper bound of any delay, in ms. */
      readonly maxDelayMs?: number;
      /** Fraction (0..1) of the delay randomised away to spread retries. */
      readonly jitter?: number;
    };

/** A follow-up job stored inside its parent envelope and dispatched when the parent settles. */
export interface JobDescriptor {
  readonly name: string;
  readonly queue: string;
  readonly payload: JsonValue | undefined;
  readonly priority: number;
  /** Delay after the parent settles, in ms. */
  readonly delayMs: number;
  readonly maxAttempts: number;
  readonly retry: RetrySpec;
  readonly timeoutMs?: number;
  readonly uniqueKey?: string;
  readonly callbacks: JobCallbacks;
  readonly meta?: Record<string, JsonValue>;
  /** Version of the payload's shape (the job definition's `version`); absent = 1. */
  readonly payloadVersion?: number;
  /** The group the follow-up job belongs to (see {@link JobEnvelope.group}); absent = none. */
  readonly group?: string;
}

/** Durable callbacks: follow-up jobs per outcome of the parent. */
export interface JobCallbacks {
  /** Dispatched when the job completes. */
  readonly then: readonly JobDescriptor[];
  /** Dispatched when the job fails for good (dead-lettered). */
  readonly catch: readonly JobDescriptor[];
  /** Dispatched after either outcome. */
  readonly finally: readonly JobDescriptor[];
}

/** What a follow-up job learns of the job that triggered it (`ctx.parent`). */
export interface ParentInfo {
  readonly id: string;
  readonly name: string;
  readonly status: 'completed' | 'failed';
  /** The parent's return value, when it completed. */
  readonly result?: JsonValue;
  /** The parent's last error, when it failed. */
  readonly error?: ErrorInfo;
}

/** A serialisable description of an error. */
export interface ErrorInfo {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly code?: string;
}

/** Failure history carried across retries. Times are epoch ms. */
export interface FailureHistory {
  readonly firstFailedAt: number;
  readonly lastFailedAt: number;
  readonly lastError: ErrorInfo;
}

/** The versioned wire format every driver stores. Drivers see envelopes only, never Job objects. */
export interface JobEnvelope {
  readonly v: 1;
  /** Unique job id (UUID unless given). */
  readonly id: string;
  /** Registered job name that selects the handler. */
  readonly name: string;
  readonly queue: string;
  readonly payload: JsonValue | undefined;
  /** Lower runs first; see `Priority`. */
  readonly priority: number;
  /** Deliveries allowed before the job is dead-lettered (>= 1). */
  readonly maxAttempts: number;
  /** Epoch ms when the job was dispatched. */
  readonly createdAt: number;
  /** Epoch ms before which the job must not be delivered. */
  readonly availableAt: number;
  /** Per-delivery time limit in ms; absent means the worker's default. */
  readonly timeoutMs?: number;
  readonly retry: RetrySpec;
  /** While a job of the same queue with this key is queued, delayed or reserved, another push with it is skipped. */
  readonly uniqueKey?: string;
  readonly callbacks: JobCallbacks;
  readonly parent?: ParentInfo;
  /** W3C trace context (`traceparent`, `tracestate`) from the producer. */
  readonly trace?: Record<string, string>;
  readonly failure?: FailureHistory;
  readonly meta?: Record<string, JsonValue>;
  /**
   * Version of the payload's shape, from the job definition that dispatched it; absent = 1. A
   * worker whose definition is newer upgrades the payload before the handler sees it.
   */
  readonly payloadVersion?: number;
  /**
   * The group the job belongs to (a tenant, a customer): workers that claim group by group
   * (`Worker` option `groups`, drivers with `capabilities.groups`) take turns between the groups
   * of a queue and lease at most their per-group concurrency of one group at once. Absent = the
   * job is in no group (ungrouped jobs take their turn together, as one more group).
   */
  readonly group?: string;
}

/** Longest group key, in characters. */
export const GROUP_KEY_MAX_LENGTH = 200;

/** True when `key` is a valid group key: a string of 1–200 characters. */
export function isValidGroupKey(key: unknown): key is string {
  return typeof key === 'string' && key.length >= 1 && key.length <= GROUP_KEY_MAX_LENGTH;
}

/** Empty callbacks, shared. */
export const NO_CALLBACKS: JobCallbacks = Object.freeze({ then: [], catch: [], finally: [] });

/** Encodes an envelope for storage. The payload must already be validated by the serializer. */
export function encodeEnvelope(envelope: JobEnvelope): string {
  return JSON.stringify(envelope);
}

/**
 * Normalises what a driver read back (a string, bytes or an already parsed object) into a valid
 * envelope; throws a {@link PayloadDecodeError} naming what is wrong.
 */
export function fromBackend(raw: string | Uint8Array | object): JobEnvelope {
  let value: unknown = raw;
  if (typeof raw === 'string' || raw instanceof Uint8Array) {
    const text = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw new PayloadDecodeError(`envelope is not valid JSON: ${(error as Error).message}`, { cause: error });
    }
  }
  return validateEnvelope(value, value !== raw);
}

/** Checks an envelope read back; `owned` when it was parsed here, so it may be returned as it is. */
function validateEnvelope(value: unknown, owned: boolean): JobEnvelope {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PayloadDecodeError('envelope: expected an object');
  }
  const e = value as Record<string, unknown>;
  if (e.v !== ENVELOPE_VERSION)
    throw new PayloadDecodeError(`envelope.v: unsupported version ${quoteInput(e.v)} (this code reads ${ENVELOPE_VERSION})`);
  for (const key of ['id', 'name', 'queue'] as const) {
    if (typeof e[key] !== 'string' || e[key] === '') throw new PayloadDecodeError(`envelope.${key}: expected a non-empty string`);
  }
  for (const key of ['priority', 'maxAttempts', 'createdAt', 'availableAt'] as const) {
    if (typeof e[key] !== 'number' || !Number.isFinite(e[key])) throw new PayloadDecodeError(`envelope.${key}: expected a number`);
  }
  if (e.group !== undefined && !isValidGroupKey(e.group))
    throw new PayloadDecodeError(`envelope.group: expected a string of 1-${GROUP_KEY_MAX_LENGTH} characters, got ${quoteInput(e.group)}`);
  if (typeof e.retry !== 'object' || e.retry === null) throw new PayloadDecodeError('envelope.retry: expected a retry spec');
  const callbacks = (e.callbacks ?? NO_CALLBACKS) as Record<string, unknown>;
  for (const slot of ['then', 'catch', 'finally'] as const) {
    if (callbacks[slot] !== undefined && !Array.isArray(callbacks[slot]))
      throw new PayloadDecodeError(`envelope.callbacks.${slot}: expected an array`);
  }
  // What this code wrote has every callback list: a decoded object is used as it is, without a copy.
  if (owned && Array.isArray(callbacks.then) && Array.isArray(callbacks.catch) && Array.isArray(callbacks.finally)) {
    return e as unknown as JobEnvelope;
  }
  return {
    ...(e as unknown as JobEnvelope),
    callbacks: {
      then: (callbacks.then as JobDescriptor[] | undefined) ?? [],
      catch: (callbacks.catch as JobDescriptor[] | undefined) ?? [],
      finally: (callbacks.finally as JobDescriptor[] | undefined) ?? [],
    },
  };
}

/** Converts any thrown value into an {@link ErrorInfo}. */
export function toErrorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return {
      name: error.name,
      message: error.message,
      ...(error.stack === undefined ? {} : { stack: error.stack }),
      ...(typeof code === 'string' ? { code } : {}),
    };
  }
  return { name: 'Error', message: typeof error === 'string' ? error : (JSON.stringify(error) ?? String(error)) };
}
