import { describe, expect, it } from 'vitest';
import { newJobId } from '../src/envelope/job-id.js';
import { createEnvelope } from '../src/index.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('job ids', () => {
  it('are UUIDs of version 7 whose first 48 bits are the time in ms', () => {
    const id = newJobId(0x0190_1234_5678);
    expect(id).toMatch(UUID_V7);
    expect(id.startsWith('01901234-5678-7')).toBe(true);
    expect(createEnvelope({ name: 'n' }).id).toMatch(UUID_V7);
  });

  it('sort by the millisecond they were made in, and do not repeat', () => {
    const ids = [newJobId(1_000), newJobId(1_001), newJobId(1_000), newJobId(2_000_000_000_000)];
    expect(ids[0]! < ids[1]!).toBe(true);
    expect(ids[2]! < ids[1]!).toBe(true);
    expect(ids[1]! < ids[3]!).toBe(true);
    const many = new Set(Array.from({ length: 10_000 }, () => newJobId(5)));
    expect(many.size).toBe(10_000);
  });
});
