import {
  ConfigError,
  defineJob,
  type JobContext,
  type JobDefaults,
  type JobDefinition,
  type JobMiddleware,
  type JsonValue,
  RetryLaterError,
  UnrecoverableError,
} from '@queuekit/core';
import { AddressRefusedError, HttpStatusError } from './http-errors.js';
import { type AddressAllowance, type HttpExchange, sendRequest } from './http-request.js';
import { type CheckIssue, isRecord, payloadSchema, stringRecordIssues } from './payload-check.js';
import { retryAfterMs } from './retry-after.js';

/** Methods an HttpJob sends. */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

const METHODS: ReadonlySet<string> = new Set<HttpMethod>(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

/** The payload of an HttpJob: one request. */
export interface HttpJobPayload {
  /** An `http:` or `https:` URL. */
  readonly url: string;
  /** Default GET. */
  readonly method?: HttpMethod;
  readonly headers?: Readonly<Record<string, string>>;
  /** A text body; or `json`, sent as JSON with its content type (not both). */
  readonly body?: string;
  readonly json?: JsonValue;
}

/** What an HttpJob returns for a 2xx (or a 3xx it was not to follow). */
export interface HttpJobResult {
  readonly status: number;
  /** The selected response headers (`responseHeaders`), lower-case names. */
  readonly headers: Record<string, string>;
  /** The body as UTF-8 text, at most `maxResponseBytes`. */
  readonly body: string;
  /** True when the body was longer than `maxResponseBytes` and was cut. */
  readonly truncated: boolean;
  /** The URL that answered (after redirects). */
  readonly url: string;
}

/** Options of {@link createHttpJob}, set by the application. */
export interface HttpJobOptions extends JobDefaults {
  /** Job name; default `http`. */
  readonly name?: string;
  /**
   * Lets a request reach an address the job refuses by default (loopback, private, link-local,
   * metadata …): called with each such address after DNS resolution; true allows it.
   */
  readonly allowAddress?: AddressAllowance;
  /** When given, only these host names (exact, lower case) may be requested, redirects included. */
  readonly allowedHosts?: readonly string[];
  /** Bytes of response body kept; default 1 MiB. */
  readonly maxResponseBytes?: number;
  /** Redirects followed (each re-checked); default 5, 0 returns the 3xx as the result. */
  readonly maxRedirects?: number;
  /** Response headers copied into the result; default content-type, content-length, etag, last-modified, location. */
  readonly responseHeaders?: readonly string[];
  /** Longest `Retry-After` honoured, in ms; default one hour. */
  readonly maxRetryAfterMs?: number;
  /** Headers sent with every request (a payload's headers override them). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Job middleware around the request. */
  readonly middleware?: readonly JobMiddleware<HttpJobPayload>[];
}

const DEFAULT_RESPONSE_HEADERS = ['content-type', 'content-length', 'etag', 'last-modified', 'location'];

interface HttpSettings {
  readonly name: string;
  readonly allow: AddressAllowance;
  readonly allowedHosts: ReadonlySet<string> | undefined;
  readonly maxResponseBytes: number;
  readonly maxRedirects: number;
  readonly responseHeaders: readonly string[];
  readonly maxRetryAfterMs: number;
  readonly headers: Readonly<Record<string, string>>;
}

/**
 * A job that sends one HTTP request (`http`/`https` only) with Node's own HTTP client and a guarded
 * DNS lookup: an address in a loopback, private, link-local or metadata range is refused after
 * resolution — redirects included — unless `allowAddress` allows it (SSRF). The job's timeout
 * aborts the request. A 5xx, 429 or 408 fails the attempt (retried, after `Retry-After` when the
 * server sent one); another 4xx, a refused address or too many redirects is unrecoverable
 * (dead-lettered at once). The result is the status, selected headers and the body up to a cap.
 */
export function createHttpJob(options: HttpJobOptions = {}): JobDefinition<HttpJobPayload, HttpJobResult> {
  const {
    name = 'http',
    allowAddress,
    allowedHosts,
    maxResponseBytes,
    maxRedirects,
    responseHeaders,
    maxRetryAfterMs,
    headers,
    middleware,
    ...defaults
  } = options;
  const settings: HttpSettings = {
    name,
    allow: allowAddress ?? (() => false),
    allowedHosts: allowedHosts === undefined ? undefined : new Set(allowedHosts.map((host) => host.toLowerCase())),
    maxResponseBytes: integerOption(name, 'maxResponseBytes', maxResponseBytes, 1024 * 1024, 1),
    maxRedirects: integerOption(name, 'maxRedirects', maxRedirects, 5, 0),
    responseHeaders: (responseHeaders ?? DEFAULT_RESPONSE_HEADERS).map((header) => header.toLowerCase()),
    maxRetryAfterMs: integerOption(name, 'maxRetryAfterMs', maxRetryAfterMs, 3_600_000, 0),
    headers: headers ?? {},
  };
  const schema = payloadSchema<HttpJobPayload>(httpPayloadIssues);
  return defineJob(name, (payload: HttpJobPayload, ctx: JobContext) => runRequest(payload, settings, ctx), {
    ...defaults,
    schema,
    ...(middleware === undefined ? {} : { middleware }),
  }) as JobDefinition<HttpJobPayload, HttpJobResult>;
}

function integerOption(job: string, key: string, value: number | undefined, fallback: number, min: number): number {
  const result = value ?? fallback;
  if (!(Number.isInteger(result) && result >= min))
    throw new ConfigError(`http job ${job}: ${key} must be an integer >= ${min}, got ${String(value)}`);
  return result;
}

function httpPayloadIssues(value: unknown): CheckIssue[] {
  if (!isRecord(value)) return [{ path: [], message: 'expected an object { url, method?, headers?, body? | json? }' }];
  const issues: CheckIssue[] = [];
  if (typeof value.url !== 'string' || !URL.canParse(value.url)) issues.push({ path: ['url'], message: 'expected an absolute URL' });
  else if (!['http:', 'https:'].includes(new URL(value.url).protocol))
    issues.push({ path: ['url'], message: 'only http: and https: URLs are allowed' });
  if (value.method !== undefined && (typeof value.method !== 'string' || !METHODS.has(value.method))) {
    issues.push({ path: ['method'], message: `expected one of ${[...METHODS].join(', ')}` });
  }
  issues.push(...stringRecordIssues(value.headers, 'headers'));
  if (value.body !== undefined && typeof value.body !== 'string') issues.push({ path: ['body'], message: 'expected a string' });
  if (value.body !== undefined && value.json !== undefined) issues.push({ path: ['json'], message: 'give body or json, not both' });
  return issues;
}

async function runRequest(payload: HttpJobPayload, settings: HttpSettings, ctx: JobContext): Promise<HttpJobResult> {
  let url = new URL(payload.url);
  let method: string = payload.method ?? 'GET';
  const requestHeaders: Record<string, string> = { ...settings.headers, ...payload.headers };
  let body = payload.body;
  if (payload.json !== undefined) {
    body = JSON.stringify(payload.json);
    if (!Object.keys(requestHeaders).some((key) => key.toLowerCase() === 'content-type'))
      requestHeaders['content-type'] = 'application/json';
  }
  for (let redirects = 0; ; redirects += 1) {
    const exchange = await exchangeOnce(url, method, requestHeaders, body, settings, ctx.signal);
    const location = exchange.headers.location;
    if (exchange.status >= 300 && exchange.status < 400 && location !== undefined && settings.maxRedirects > 0) {
      if (redirects >= settings.maxRedirects) {
        throw new UnrecoverableError(`http job ${settings.name}: more than ${settings.maxRedirects} redirects, the last from ${url.href}`);
      }
      const next = new URL(location, url);
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new UnrecoverableError(
          `http job ${settings.name}: ${url.href} redirected to a ${next.protocol} URL; only http: and https: are allowed`,
        );
      }
      if (next.origin !== url.origin) {
        // Credentials meant for one origin are not handed to another.
        for (const key of Object.keys(requestHeaders)) {
          if (['authorization', 'cookie', 'proxy-authorization'].includes(key.toLowerCase())) delete requestHeaders[key];
        }
      }
      if (exchange.status === 303 || ((exchange.status === 301 || exchange.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
      }
      url = next;
      continue;
    }
    return checkStatus(exchange, url, settings);
  }
}

async function exchangeOnce(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  settings: HttpSettings,
  signal: AbortSignal,
): Promise<HttpExchange> {
  if (settings.allowedHosts !== undefined && !settings.allowedHosts.has(url.hostname.toLowerCase())) {
    throw new UnrecoverableError(`http job ${settings.name}: host ${url.hostname} is not in allowedHosts`, {
      cause: new AddressRefusedError(`host ${url.hostname} is not in allowedHosts`, url.hostname, undefined),
    });
  }
  try {
    return await sendRequest(url, { method, headers, body, maxResponseBytes: settings.maxResponseBytes, allow: settings.allow, signal });
  } catch (error) {
    // Asking again will not make the address acceptable.
    if (error instanceof AddressRefusedError) {
      throw new UnrecoverableError(`http job ${settings.name}: ${url.href} refused: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

function checkStatus(exchange: HttpExchange, url: URL, settings: HttpSettings): HttpJobResult {
  const { status } = exchange;
  if (status < 400) {
    const headers: Record<string, string> = {};
    for (const name of settings.responseHeaders) {
      const value = exchange.headers[name];
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    return { status, headers, body: exchange.body, truncated: exchange.truncated, url: url.href };
  }
  const bodyStart = exchange.body.slice(0, 500);
  const error = new HttpStatusError(
    `http job ${settings.name}: ${url.href} answered ${status}${bodyStart === '' ? '' : `: ${bodyStart}`}`,
    status,
    bodyStart,
  );
  if (status >= 500 || status === 429 || status === 408) {
    const header = exchange.headers['retry-after'];
    const delayMs = retryAfterMs(Array.isArray(header) ? header[0] : header, settings.maxRetryAfterMs);
    if (delayMs !== undefined) throw new RetryLaterError(`${error.message} (retry after ${delayMs} ms)`, delayMs, { cause: error });
    throw error;
  }
  // Another 4xx: the same request will be refused again.
  throw new UnrecoverableError(error.message, { cause: error });
}
