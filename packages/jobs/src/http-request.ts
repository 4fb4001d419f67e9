import { type LookupAddress, lookup } from 'node:dns';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { isIP } from 'node:net';
import { isRefusedAddress } from './address-policy.js';
import { CappedOutput } from './capped-output.js';
import { AddressRefusedError } from './http-errors.js';

/** Decides whether a refused address may be reached after all (the application's exception). */
export type AddressAllowance = (address: string, host: string) => boolean;

/** One HTTP exchange without redirects. */
export interface HttpExchange {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly truncated: boolean;
}

/** What {@link sendRequest} needs besides the URL. */
export interface SendOptions {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body: string | undefined;
  readonly maxResponseBytes: number;
  readonly allow: AddressAllowance;
  readonly signal: AbortSignal;
}

/**
 * A DNS lookup that refuses the connection when any address the host resolves to is refused and
 * not allowed: the check runs on the addresses the socket connects to, so a name that resolves
 * differently a moment later (DNS rebinding) gains nothing.
 */
function guardedLookup(allow: AddressAllowance): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error !== null) {
        callback(error, '', 4);
        return;
      }
      const bad = addresses.find((entry) => isRefusedAddress(entry.address) && !allow(entry.address, hostname));
      if (bad !== undefined) {
        callback(
          new AddressRefusedError(
            `http job: ${hostname} resolves to ${bad.address}, a refused address`,
            hostname,
            bad.address,
          ) as NodeJS.ErrnoException,
          '',
          4,
        );
        return;
      }
      const first = addresses[0] as LookupAddress;
      if ((options as { all?: boolean }).all === true) (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      else callback(null, first.address, first.family);
    });
  };
}

/**
 * Sends one request (no redirect following) and reads at most `maxResponseBytes` of the body; a
 * longer body is cut there and the connection closed. An IP literal host is checked here, since
 * no lookup runs for it.
 */
export function sendRequest(url: URL, options: SendOptions): Promise<HttpExchange> {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (isIP(host) !== 0 && isRefusedAddress(host) && !options.allow(host, host)) {
    return Promise.reject(new AddressRefusedError(`http job: ${host} is a refused address`, host, host));
  }
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<HttpExchange>((resolve, reject) => {
    let settled = false;
    const settle = (error: unknown, exchange?: HttpExchange): void => {
      if (settled) return;
      settled = true;
      if (exchange !== undefined) resolve(exchange);
      else reject(error);
    };
    const request = send(
      url,
      { method: options.method, headers: options.headers, signal: options.signal, lookup: guardedLookup(options.allow) },
      (response) => {
        const body = new CappedOutput(options.maxResponseBytes, 'head');
        const done = (): void =>
          settle(undefined, { status: response.statusCode ?? 0, headers: response.headers, body: body.text(), truncated: body.truncated });
        response.on('data', (chunk: Buffer) => {
          body.push(chunk);
          if (body.truncated) {
            // Enough read: the rest is not wanted, so the connection goes.
            done();
            response.destroy();
          }
        });
        response.once('end', done);
        response.once('error', (error) => settle(error));
        response.once('close', () => {
          if (!response.complete) settle(new Error(`http job: the connection closed before the response from ${url.host} ended`));
        });
      },
    );
    request.once('error', (error) => settle(error));
    request.end(options.body);
  });
}
