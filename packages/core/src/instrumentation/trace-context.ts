import {
  type Context,
  createTraceState,
  isSpanContextValid,
  isValidSpanId,
  isValidTraceId,
  propagation,
  type SpanContext,
  trace,
} from '@opentelemetry/api';

const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';
const TRACEPARENT_PATTERN = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Formats a span context as a W3C `traceparent` header value (version 00). */
export function formatTraceparent(spanContext: SpanContext): string {
  return `00-${spanContext.traceId}-${spanContext.spanId}-${(spanContext.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** Parses a W3C `traceparent` (and `tracestate`) into a remote span context; `undefined` when invalid. */
export function parseTraceparent(traceparent: string, tracestate?: string): SpanContext | undefined {
  const match = TRACEPARENT_PATTERN.exec(traceparent.trim());
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match as unknown as [string, string, string, string, string, string | undefined];
  // Version ff is forbidden; version 00 has nothing after the flags. Later versions may add fields.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (!isValidTraceId(traceId) || !isValidSpanId(spanId)) return undefined;
  return {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16),
    isRemote: true,
    ...(tracestate === undefined || tracestate === '' ? {} : { traceState: createTraceState(tracestate) }),
  };
}

/**
 * The trace context of `ctx` as envelope headers, through the global propagator (W3C trace context
 * once an SDK registers one). When the propagator wrote no `traceparent` (none is registered) but
 * `ctx` holds a valid span context, writes `traceparent`/`tracestate` itself so that the trace
 * still crosses the queue. `undefined` when there is nothing to carry.
 */
export function injectTraceContext(ctx: Context): Record<string, string> | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(ctx, carrier);
  if (carrier[TRACEPARENT] === undefined) {
    const spanContext = trace.getSpanContext(ctx);
    if (spanContext !== undefined && isSpanContextValid(spanContext)) {
      carrier[TRACEPARENT] = formatTraceparent(spanContext);
      const state = spanContext.traceState?.serialize();
      if (state !== undefined && state !== '') carrier[TRACESTATE] = state;
    }
  }
  for (const _ in carrier) return carrier;
  return undefined;
}

/**
 * `base` with the remote span context (and whatever else the propagator reads, e.g. baggage) from
 * envelope headers, through the global propagator; parses `traceparent` itself when the propagator
 * found none (none is registered). Returns `base` unchanged when the headers carry no valid context.
 */
export function extractTraceContext(headers: Readonly<Record<string, string>>, base: Context): Context {
  const extracted = propagation.extract(base, headers);
  const before = trace.getSpanContext(base);
  const after = trace.getSpanContext(extracted);
  if (after !== undefined && after !== before) return extracted;
  const traceparent = headers[TRACEPARENT];
  if (traceparent === undefined) return extracted;
  const spanContext = parseTraceparent(traceparent, headers[TRACESTATE]);
  return spanContext === undefined ? extracted : trace.setSpanContext(extracted, spanContext);
}
