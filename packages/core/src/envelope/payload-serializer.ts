import { PayloadTooLargeError } from '../errors/payload-too-large-error.js';
import { SerializationError } from '../errors/serialization-error.js';

/** A value that survives a JSON round trip unchanged. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue | undefined };

/** Default maximum size of an encoded envelope, in bytes (1 MiB). */
export const DEFAULT_MAX_PAYLOAD_BYTES = 1024 * 1024;

/** Options of {@link PayloadSerializer}. */
export interface PayloadSerializerOptions {
  /** Largest encoded size accepted, in bytes; defaults to {@link DEFAULT_MAX_PAYLOAD_BYTES}. */
  readonly maxBytes?: number;
}

/**
 * JSON encoding with a refusal of everything JSON would silently mangle: functions, symbols,
 * BigInt, non-finite numbers, `undefined` inside arrays, cycles, and objects that are not plain
 * (Date, Map, Set, class instances, buffers). Each refusal names the path of the offending value.
 */
export class PayloadSerializer {
  /** Largest encoded size accepted, in bytes. */
  readonly maxBytes: number;

  constructor(options: PayloadSerializerOptions = {}) {
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_PAYLOAD_BYTES;
  }

  /** Throws a {@link SerializationError} naming the first path JSON cannot carry faithfully. */
  assertSerializable(value: unknown, path = 'payload'): void {
    check(value, path, new Set());
  }

  /** Validates and encodes `value`; throws on mangled values and on sizes above `maxBytes`. */
  encode(value: unknown, path = 'payload'): string {
    this.assertSerializable(value, path);
    const text = JSON.stringify(value);
    this.assertSize(text, path);
    return text;
  }

  /** Throws a {@link PayloadTooLargeError} when `text` exceeds `maxBytes` once UTF-8 encoded. */
  assertSize(text: string, what = 'payload'): void {
    const bytes = Buffer.byteLength(text, 'utf8');
    if (bytes > this.maxBytes) {
      throw new PayloadTooLargeError(`${what}: encoded size ${bytes} bytes exceeds the maximum of ${this.maxBytes} bytes`);
    }
  }
}

function check(value: unknown, path: string, seen: Set<object>): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return;
    case 'number':
      if (!Number.isFinite(value))
        throw new SerializationError(`${path}: ${value} is not a finite number and JSON would turn it into null`);
      return;
    case 'bigint':
      throw new SerializationError(`${path}: BigInt cannot be serialized; encode it as a string`);
    case 'function':
      throw new SerializationError(`${path}: functions cannot be serialized`);
    case 'symbol':
      throw new SerializationError(`${path}: symbols cannot be serialized`);
    default:
      break;
  }
  if (value === null) return;
  const object = value as object;
  if (seen.has(object)) throw new SerializationError(`${path}: circular reference`);
  if (Array.isArray(object)) {
    seen.add(object);
    object.forEach((item, index) => {
      if (item === undefined) throw new SerializationError(`${path}[${index}]: undefined inside an array would become null`);
      check(item, `${path}[${index}]`, seen);
    });
    seen.delete(object);
    return;
  }
  const proto = Object.getPrototypeOf(object);
  if (proto !== Object.prototype && proto !== null) {
    const kind = (object as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    throw new SerializationError(`${path}: ${kind} instances cannot be serialized faithfully; pass a plain object, array or string`);
  }
  seen.add(object);
  for (const [key, item] of Object.entries(object)) {
    check(item, `${path}.${key}`, seen);
  }
  seen.delete(object);
}
