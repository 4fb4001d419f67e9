import { ConfigError, quoteInput } from '@queuekit/core';

/** Throws ConfigError unless the driver's options are an object. */
export function assertOptionsObject(dialect: 'postgres' | 'sqlite', options: unknown): void {
  if (typeof options !== 'object' || options === null) throw new ConfigError(`${dialect}: options: expected an object`);
}

/** `options.migrate`: `auto` (default) or `manual`; ConfigError otherwise. */
export function migrateOption(dialect: 'postgres' | 'sqlite', value: unknown): 'auto' | 'manual' {
  const migrate = value ?? 'auto';
  if (migrate !== 'auto' && migrate !== 'manual') {
    throw new ConfigError(`${dialect}: options.migrate: expected 'auto' or 'manual', got ${quoteInput(migrate)}`);
  }
  return migrate;
}

/** A finite number option >= `min` (`fallback` when undefined); ConfigError naming the key otherwise. */
export function numberOption(dialect: 'postgres' | 'sqlite', key: string, value: unknown, fallback: number, min: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isFinite(resolved) || resolved < min) {
    throw new ConfigError(`${dialect}: options.${key}: expected a number >= ${min}, got ${quoteInput(resolved)}`);
  }
  return resolved;
}

/** An integer option >= `min` (`fallback` when undefined); ConfigError naming the key otherwise. */
export function integerOption(dialect: 'postgres' | 'sqlite', key: string, value: unknown, fallback: number, min: number): number {
  const resolved = value ?? fallback;
  if (typeof resolved !== 'number' || !Number.isInteger(resolved) || resolved < min) {
    throw new ConfigError(`${dialect}: options.${key}: expected an integer >= ${min}, got ${quoteInput(resolved)}`);
  }
  return resolved;
}
