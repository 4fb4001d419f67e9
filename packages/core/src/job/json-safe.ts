import type { JsonValue } from '../envelope/payload-serializer.js';

/** Values that reach JSON and come back as they were. */
// biome-ignore lint/suspicious/noConfusingVoidType: a handler that returns nothing has the result type void
type JsonScalar = string | number | boolean | null | undefined | void;

/** What the payload serializer refuses: these never survive a JSON round trip. */
type NotJson =
  | bigint
  | symbol
  | ((...args: never[]) => unknown)
  | Date
  | RegExp
  | Map<unknown, unknown>
  | Set<unknown>
  | WeakMap<object, unknown>
  | WeakSet<object>
  | Promise<unknown>
  | ArrayBuffer
  | ArrayBufferView
  | Error;

/**
 * `T` where it is plain JSON, `never` in each place the payload serializer would refuse at run time
 * (a Date, Map, Set, function, BigInt, class instance with methods …), so that `T extends
 * JsonSafe<T>` is a type error for such a payload or result. `unknown` and `any` pass (checked at
 * run time only).
 */
export type JsonSafe<T> = unknown extends T
  ? T
  : [T] extends [JsonValue]
    ? T
    : T extends JsonScalar
      ? T
      : T extends NotJson
        ? never
        : { [K in keyof T]: JsonSafe<T[K]> };
