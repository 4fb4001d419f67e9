import { describe, expect, it } from 'vitest';
import { createLogger, type LogRecord, MASK, maskSensitive } from '../src/index.js';

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
});
