import { DEFAULT_SENSITIVE_KEYS, maskSensitive, maskSensitiveText } from './mask-sensitive.js';

/** Severity levels, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

/** Structured fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger. Sensitive keys are masked when a line is written, never in the queue. */
export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): Logger;
}

/** One line as handed to a sink, already masked. */
export interface LogRecord {
  readonly level: Exclude<LogLevel, 'silent'>;
  readonly time: number;
  readonly message: string;
  readonly fields: LogFields;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level written; default `info`. */
  readonly level?: LogLevel;
  /** Extra keys to mask, besides DEFAULT_SENSITIVE_KEYS. */
  readonly sensitiveKeys?: readonly string[];
  /** Where lines go; default: one JSON object per line on stderr. */
  readonly sink?: (record: LogRecord) => void;
  readonly bindings?: LogFields;
}

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

const stderrSink = (record: LogRecord): void => {
  process.stderr.write(
    `${JSON.stringify({ level: record.level, time: new Date(record.time).toISOString(), msg: record.message, ...record.fields })}\n`,
  );
};

/**
 * Creates a structured logger that masks sensitive keys (recursively, case-insensitively) and
 * sensitive `key=value` pairs in its message and string fields at write time.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = ORDER[options.level ?? 'info'];
  const sensitive = [...DEFAULT_SENSITIVE_KEYS, ...(options.sensitiveKeys ?? [])];
  const sink = options.sink ?? stderrSink;
  const bindings = options.bindings ?? {};
  const write = (level: Exclude<LogLevel, 'silent'>, message: string, fields?: LogFields) => {
    if (ORDER[level] < threshold) return;
    sink({
      level,
      time: Date.now(),
      message: maskSensitiveText(message, sensitive),
      fields: maskSensitive({ ...bindings, ...fields }, sensitive) as LogFields,
    });
  };
  return {
    debug: (message, fields) => write('debug', message, fields),
    info: (message, fields) => write('info', message, fields),
    warn: (message, fields) => write('warn', message, fields),
    error: (message, fields) => write('error', message, fields),
    child: (more) => createLogger({ ...options, bindings: { ...bindings, ...more } }),
  };
}

/** A logger that writes nothing. */
export const silentLogger: Logger = createLogger({ level: 'silent' });
