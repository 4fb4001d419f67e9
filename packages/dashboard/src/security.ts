import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';

/** Name of the cookie that carries a token-authenticated session. */
export const SESSION_COOKIE = 'queuekit_dashboard';

/** Name of the form field (or `X-CSRF-Token` header) that carries the CSRF token. */
export const CSRF_FIELD = '_csrf';

/** Secrets of one dashboard instance, made fresh per instance. */
export class DashboardSecrets {
  readonly #key = randomBytes(32);
  /** The CSRF token every form of this instance carries. */
  readonly csrfToken: string;

  constructor() {
    this.csrfToken = this.sign('csrf');
  }

  /** HMAC of `value` under this instance's key, base64url. */
  sign(value: string): string {
    return createHmac('sha256', this.#key).update(value).digest('base64url');
  }
}

/** Compares two strings in time independent of where they differ. */
export function safeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

/** Options of {@link securityMiddleware}. */
export interface SecurityOptions {
  readonly secrets: DashboardSecrets;
  readonly token: string | undefined;
  readonly readOnly: boolean;
  /** Cookie path (the mount point). */
  readonly cookiePath: string;
}

const text = (status: 401 | 403, message: string) =>
  new Response(`${message}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });

/**
 * Token check on every request (when a token is set), then, for POSTs: refused when read-only,
 * refused from another origin, refused without this instance's CSRF token. Adds security headers
 * (a strict Content-Security-Policy: scripts and styles only from the dashboard itself).
 */
export function securityMiddleware(options: SecurityOptions): MiddlewareHandler {
  const session = options.token === undefined ? undefined : options.secrets.sign(`session:${options.token}`);
  return async (c, next) => {
    if (options.token !== undefined && session !== undefined) {
      const auth = c.req.header('authorization');
      const bearer = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
      const cookie = cookieValue(c.req.header('cookie'), SESSION_COOKIE);
      const query = c.req.query('token');
      const ok =
        (bearer !== undefined && safeEqual(bearer, options.token)) ||
        (cookie !== undefined && safeEqual(cookie, session)) ||
        (query !== undefined && safeEqual(query, options.token));
      if (!ok) return text(401, 'queuekit dashboard: a valid token is required (Authorization: Bearer <token>, or ?token=<token> once)');
      if (query !== undefined && c.req.method === 'GET') {
        // Trade the token in the address for a cookie, so it leaves the address bar and history.
        const url = new URL(c.req.url);
        url.searchParams.delete('token');
        return new Response(null, {
          status: 303,
          headers: {
            location: `${url.pathname}${url.search}`,
            'set-cookie': `${SESSION_COOKIE}=${session}; Path=${options.cookiePath}; HttpOnly; SameSite=Strict`,
          },
        });
      }
    }
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD') {
      if (options.readOnly) return text(403, 'queuekit dashboard: read-only; actions are refused');
      const origin = c.req.header('origin');
      if (origin !== undefined && origin !== 'null' && new URL(origin).host !== new URL(c.req.url).host) {
        return text(403, 'queuekit dashboard: cross-origin request refused');
      }
      let given = c.req.header('x-csrf-token');
      if (given === undefined) {
        const type = c.req.header('content-type') ?? '';
        if (type.startsWith('application/x-www-form-urlencoded') || type.startsWith('multipart/form-data')) {
          const field = (await c.req.parseBody())[CSRF_FIELD];
          if (typeof field === 'string') given = field;
        }
      }
      if (given === undefined || !safeEqual(given, options.secrets.csrfToken))
        return text(403, 'queuekit dashboard: missing or wrong CSRF token');
    }
    await next();
    c.res.headers.set(
      'content-security-policy',
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    c.res.headers.set('x-content-type-options', 'nosniff');
    c.res.headers.set('referrer-policy', 'no-referrer');
    c.res.headers.set('x-frame-options', 'DENY');
  };
}
