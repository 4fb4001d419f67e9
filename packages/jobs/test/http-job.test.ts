import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InvalidPayloadError, type JobDefinition, RetryPolicy } from '@queuekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpJob, type HttpJobResult, isRefusedAddress } from '../src/index.js';
import { runJob } from './fixtures/run-job.js';

const asDefinition = (definition: unknown) => definition as JobDefinition<never, unknown, never>;

/** A server on a loopback address; `handle` answers each request. */
async function listen(
  host: string,
  handle: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; base: string }> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return { server, base: `http://${host}:${(server.address() as AddressInfo).port}` };
}

// The job's server lives on 127.0.0.2, which the tests allow; 127.0.0.1 stays refused.
const allowed = '127.0.0.2';
let api: { server: Server; base: string };
let internal: { server: Server; base: string };
let internalHits = 0;
let flakyCalls = 0;
let bigClosedEarly: Promise<boolean>;
let resolveBig: (closedEarly: boolean) => void;

beforeAll(async () => {
  internal = await listen('127.0.0.1', (_req, res) => {
    internalHits += 1;
    res.end('internal secret');
  });
  bigClosedEarly = new Promise((resolve) => {
    resolveBig = resolve;
  });
  api = await listen(allowed, (req, res) => {
    switch (req.url) {
      case '/ok':
        res.writeHead(200, { 'content-type': 'application/json', etag: '"v1"', 'x-internal': 'not selected' });
        res.end(JSON.stringify({ method: req.method, auth: req.headers.authorization ?? null }));
        return;
      case '/flaky':
        flakyCalls += 1;
        if (flakyCalls === 1) res.writeHead(429, { 'retry-after': '1' }).end('slow down');
        else if (flakyCalls === 2) res.writeHead(503).end('down');
        else res.writeHead(200).end('finally');
        return;
      case '/missing':
        res.writeHead(404).end('no such thing');
        return;
      case '/redirect-internal':
        res.writeHead(302, { location: `${internal.base}/secret` }).end();
        return;
      case '/redirect-ok':
        res.writeHead(302, { location: '/ok' }).end();
        return;
      case '/big': {
        res.writeHead(200, { 'content-type': 'text/plain' });
        let sent = 0;
        const chunk = Buffer.alloc(64 * 1024, 'b');
        const pump = (): void => {
          while (sent < 50 * 1024 * 1024 && !res.destroyed) {
            sent += chunk.length;
            if (!res.write(chunk)) {
              res.once('drain', pump);
              return;
            }
          }
          res.end();
        };
        res.once('close', () => resolveBig(!res.writableFinished));
        pump();
        return;
      }
      case '/slow':
        return; // never answers
      default:
        res.writeHead(500).end('unexpected path');
    }
  });
});

afterAll(async () => {
  for (const { server } of [api, internal]) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

const allowApi = (address: string) => address === allowed;

describe('HttpJob', () => {
  it('returns the status, the selected headers and the body', async () => {
    const http = createHttpJob({ allowAddress: allowApi });
    const run = await runJob(asDefinition(http), http.create({ url: `${api.base}/ok`, method: 'POST', json: { a: 1 } }));
    const result = run.result as HttpJobResult;
    expect(result.status).toBe(200);
    expect(result.headers).toEqual({ 'content-type': 'application/json', etag: '"v1"' });
    expect(JSON.parse(result.body)).toEqual({ method: 'POST', auth: null });
    expect(result.truncated).toBe(false);
  });

  it('retries 429 and 5xx, waiting what Retry-After asks for, else the retry policy', async () => {
    const http = createHttpJob({ allowAddress: allowApi });
    const run = await runJob(asDefinition(http), http.create({ url: `${api.base}/flaky` }).attempts(3, RetryPolicy.fixed(50)));
    expect(run.retryDelays).toEqual([1_000, 50]);
    expect(run.failures[0]).toContain('answered 429');
    expect(run.failures[1]).toContain('answered 503');
    expect(run.result).toMatchObject({ status: 200, body: 'finally' });
  });

  it('dead-letters a 4xx at once, whatever attempts remain', async () => {
    const http = createHttpJob({ allowAddress: allowApi });
    const run = await runJob(asDefinition(http), http.create({ url: `${api.base}/missing` }).attempts(5, RetryPolicy.fixed(10)));
    expect(run.deadLetter?.reason).toBe('failed');
    expect(run.deadLetter?.attempts).toBe(1);
    expect(run.deadLetter?.error.message).toContain('answered 404: no such thing');
    expect(run.retryDelays).toEqual([]);
  });

  it('follows a redirect it may, and refuses one to 127.0.0.1 without connecting to it', async () => {
    const http = createHttpJob({ allowAddress: allowApi });
    const followed = await runJob(
      asDefinition(http),
      http.create({ url: `${api.base}/redirect-ok`, headers: { authorization: 'Bearer same-origin' } }),
    );
    expect(followed.result).toMatchObject({ status: 200, url: `${api.base}/ok` });
    expect(JSON.parse((followed.result as HttpJobResult).body)).toEqual({ method: 'GET', auth: 'Bearer same-origin' });
    const refused = await runJob(asDefinition(http), http.create({ url: `${api.base}/redirect-internal` }).attempts(3));
    expect(refused.deadLetter?.reason).toBe('failed');
    expect(refused.deadLetter?.attempts).toBe(1);
    expect(refused.deadLetter?.error.message).toContain('127.0.0.1 is a refused address');
    expect(internalHits).toBe(0);
  });

  it('refuses loopback, metadata and mapped addresses by default, names resolved through DNS included', async () => {
    const http = createHttpJob();
    const port = new URL(internal.base).port;
    for (const url of [
      `http://127.0.0.1:${port}/`,
      `http://localhost:${port}/`,
      'http://169.254.169.254/latest/meta-data/',
      `http://[::ffff:127.0.0.1]:${port}/`,
      `http://[::1]:${port}/`,
    ]) {
      const run = await runJob(asDefinition(http), http.create({ url }).attempts(3));
      expect(run.deadLetter?.attempts, url).toBe(1);
      expect(run.deadLetter?.error.message, url).toMatch(/refused address/);
    }
    expect(internalHits).toBe(0);
  });

  it('keeps at most maxResponseBytes of the body and closes the connection instead of reading the rest', async () => {
    const http = createHttpJob({ allowAddress: allowApi, maxResponseBytes: 1_000 });
    const run = await runJob(asDefinition(http), http.create({ url: `${api.base}/big` }));
    expect(run.result).toMatchObject({ status: 200, body: 'b'.repeat(1_000), truncated: true });
    expect(await bigClosedEarly).toBe(true);
  });

  it("aborts the request when the job's timeout runs out", async () => {
    const http = createHttpJob({ allowAddress: allowApi });
    const run = await runJob(asDefinition(http), http.create({ url: `${api.base}/slow` }).timeout(300));
    expect(run.deadLetter?.reason).toBe('timeout');
  });

  it('refuses what is not an http(s) request at dispatch', () => {
    const http = createHttpJob();
    expect(() => http.create({ url: 'file:///etc/passwd' })).toThrow(InvalidPayloadError);
    expect(() => http.create({ url: 'gopher://127.0.0.1/' })).toThrow(/url: only http: and https: URLs are allowed/);
    expect(() => http.create({ url: 'not a url' })).toThrow(/url: expected an absolute URL/);
    expect(() => http.create({ url: 'https://example.com', method: 'TRACE' as 'GET' })).toThrow(/method: expected one of/);
  });
});

describe('isRefusedAddress', () => {
  it('refuses loopback, private, link-local, metadata, CGNAT, ULA and mapped addresses; passes public ones', () => {
    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.100.100.200',
      '0.0.0.0',
      '::1',
      '::',
      'fe80::1',
      'fd00:ec2::254',
      '::ffff:10.0.0.1',
      '::ffff:7f00:1',
      '64:ff9b::a9fe:a9fe',
    ]) {
      expect(isRefusedAddress(address), address).toBe(true);
    }
    for (const address of ['93.184.215.14', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) {
      expect(isRefusedAddress(address), address).toBe(false);
    }
  });
});
