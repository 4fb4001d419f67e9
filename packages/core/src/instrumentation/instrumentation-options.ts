import type { MeterProvider, TracerProvider } from '@opentelemetry/api';

/** Options of {@link InstrumentedQueueDecorator}. */
export interface InstrumentationOptions {
  /**
   * Where metrics go; default the global provider (`metrics.getMeterProvider()`), read once when the
   * decorator is created — start the SDK before creating it.
   */
  readonly meterProvider?: MeterProvider;
  /** Where spans go; default the global provider, looked up on every operation (an SDK started later is picked up). */
  readonly tracerProvider?: TracerProvider;
  /** Records metrics; default true. */
  readonly metrics?: boolean;
  /** Creates spans and carries trace context in envelopes; default true. */
  readonly traces?: boolean;
}
