import { describe, expect, it } from 'vitest';
import { BeanstalkClient } from '../src/index.js';
import { BEANSTALK_URL, randomTubePrefix } from './helpers.js';

function connect(): BeanstalkClient {
  const url = new URL(BEANSTALK_URL);
  return new BeanstalkClient({ host: url.hostname, port: Number(url.port), connectTimeoutMs: 2_000 });
}

describe('BeanstalkClient', () => {
  it('sendAll() resolves the replies of one line and of several, in order, between single commands', async () => {
    const client = connect();
    try {
      const tube = `${randomTubePrefix()}client`;
      const single = client.send(`use ${tube}`);
      const one = client.sendAll(['list-tube-used']);
      const many = client.sendAll(['list-tube-used', 'reserve-with-timeout 0', 'list-tube-used']);
      expect((await single).word).toBe('USING');
      expect((await one).map((r) => [r.word, ...r.args])).toEqual([['USING', tube]]);
      expect((await many).map((r) => r.word)).toEqual(['USING', 'TIMED_OUT', 'USING']);
      expect(await client.sendAll([])).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('reserveReady(), statsJobs() and deleteAll() work on groups, with NOT_FOUND per item', async () => {
    const client = connect();
    try {
      const tube = `${randomTubePrefix()}group`;
      await client.use(tube);
      const ids = await Promise.all([1, 2, 3].map((n) => client.put(0, 0, 10, Buffer.from(`job ${n}`))));
      await client.watchOnly([tube]);
      const jobs = await client.reserveReady(5);
      expect(jobs.map((j) => j.id)).toEqual(ids);
      expect(jobs.map((j) => j.body.toString())).toEqual(['job 1', 'job 2', 'job 3']);
      const stats = await client.statsJobs([...ids, 999_999_999]);
      expect(stats.slice(0, 3).map((s) => s?.state)).toEqual(['reserved', 'reserved', 'reserved']);
      expect(stats[3]).toBeUndefined();
      expect(await client.deleteAll([ids[0]!, 999_999_999, ids[1]!, ids[2]!])).toEqual([true, false, true, true]);
    } finally {
      client.close();
    }
  });
});
