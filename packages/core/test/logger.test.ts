import { describe, expect, it } from 'vitest';
import { createLogger, type LogRecord, MASK, maskSensitive, maskSensitiveText } from '../src/index.js';

describe('Logger', () => {
  it('masks sensitive keys recursively and case-insensitively, leaving the input intact', () => {
    const input = {
      user: 'ada',
      Password: 'p',
      nested: { accessToken: 't', list: [{ API_KEY: 'k', safe: 1 }] },
      Authorization: 'Bearer x',
    };
    const masked = maskSensitive(input) as typeof input;
    expect(masked).toEqual({
      user: 'ada',
      Password: MASK,
      nested: { accessToken: MASK, list: [{ API_KEY: MASK, safe: 1 }] },
      Authorization: MASK,
    });
    expect(input.Password).toBe('p');
  });

  it('masks configured keys at the logging boundary and honours the level', () => {
    const lines: LogRecord[] = [];
    const log = createLogger({ level: 'info', sensitiveKeys: ['ssn'], sink: (r) => lines.push(r) });
    log.debug('hidden');
    log.child({ job: 'x' }).info('visible', { ssn: '123', secret: 's', n: 1 });
    expect(lines).toHaveLength(1);
    expect(lines[0]?.fields).toEqual({ job: 'x', ssn: MASK, secret: MASK, n: 1 });
  });

  it('masks sensitive key=value pairs in free text, quoted or in JSON, and leaves other pairs alone', () => {
    expect(maskSensitiveText('connect failed: user=ada password=hunter2 host=db:5432')).toBe(
      `connect failed: user=ada password=${MASK} host=db:5432`,
    );
    expect(maskSensitiveText(`api_key='k 1', Access-Token="t\\"x", queue=mail`)).toBe(
      `api_key='${MASK}', Access-Token="${MASK}", queue=mail`,
    );
    expect(maskSensitiveText('{"user":"ada","password":"p","n":1}')).toBe(`{"user":"ada","password":"${MASK}","n":1}`);
    expect(maskSensitiveText('login failed: token=s.abc error: password: p')).toBe(`login failed: token=${MASK} error: password: ${MASK}`);
    expect(maskSensitiveText('secret=s', ['ssn'])).toBe('secret=s');
    expect(maskSensitiveText('ssn=123', ['ssn'])).toBe(`ssn=${MASK}`);
  });

  it('masks key=value pairs in string values, error messages and the log message', () => {
    const masked = maskSensitive({ note: 'token=abc', error: new Error('bad secret=s3') }) as Record<string, { message?: string }>;
    expect(masked.note).toBe(`token=${MASK}`);
    expect(masked.error?.message).toBe(`bad secret=${MASK}`);
    const lines: LogRecord[] = [];
    createLogger({ sink: (r) => lines.push(r) }).warn('retrying with password=p', { detail: 'apikey: k' });
    expect(lines[0]).toMatchObject({ message: `retrying with password=${MASK}`, fields: { detail: `apikey: ${MASK}` } });
  });
});
