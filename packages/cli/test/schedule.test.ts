import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type QueueDriver, Scheduler } from '@queuekit/core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BACKENDS, type BackendFixture, configSource } from './support/backends.js';
import { runCli, runJson, tempDir, writeConfig } from './support/cli.js';

interface ScheduleJson {
  name: string;
  connection: string;
  cron: string;
  timezone: string;
  nextTickAt: number;
  lastTickAt: number | null;
  lastTickJobId: string | null;
  lastOutcome: string | null;
  lastRunJobId: string | null;
  lastRunAt: number | null;
  times: { nextTickAt: string; lastTickAt: string | null; lastRunAt: string | null };
}

const SCHEDULES = `schedules: [
    { name: 'nightly', cron: '0 3 * * *', job: (tickAt) => record.create({ tickAt }) },
    { name: 'paris', cron: '30 9 * * 1', timezone: 'Europe/Paris', overlap: 'skip', job: (tickAt) => record.create({ tickAt, paris: true }) },
  ],`;

describe.each(['sqlite', 'redis', 'postgres'] as const)('queue schedule on %s', (backendName) => {
  let backend: BackendFixture;
  let dir: string;
  let removeDir: () => void;
  let driver: QueueDriver | undefined;
  const opts = () => ({ cwd: dir });

  beforeEach(() => {
    backend = BACKENDS[backendName]();
    ({ dir, remove: removeDir } = tempDir());
    writeConfig(dir, configSource(backend.connection, SCHEDULES));
  });

  afterEach(async () => {
    await driver?.close();
    driver = undefined;
    await backend.cleanup();
    removeDir();
  });

  const list = async () => {
    const { result, json } = await runJson<ScheduleJson[]>(['schedule', 'list', '--json'], opts());
    expect(result.code, result.stderr).toBe(0);
    return json;
  };

  it('schedule list shows the next tick, then the last tick a scheduler fired and its job state', async () => {
    const before = Date.now();
    const [nightly, paris] = await list();
    expect(nightly).toMatchObject({
      name: 'nightly',
      connection: 'main',
      cron: '0 3 * * *',
      timezone: 'UTC',
      lastTickAt: null,
      lastOutcome: null,
    });
    expect(nightly?.nextTickAt).toBe(Scheduler.nextTick({ name: 'nightly', cron: '0 3 * * *' }, before));
    expect(nightly?.times.nextTickAt).toMatch(/T03:00:00\.000Z$/);
    expect(paris).toMatchObject({ name: 'paris', timezone: 'Europe/Paris', lastRunJobId: null });

    // What a scheduler process records when it fires a tick: the tick, then its job.
    const pushed = await runJson<{ id: string }>(['push', 'record', '--payload', '{"tickAt":1}', '--json'], opts());
    expect(pushed.result.code, pushed.result.stderr).toBe(0);
    driver = backend.openDriver(dir);
    const tickAt = Scheduler.previousTick({ name: 'nightly', cron: '0 3 * * *' }, before);
    expect(await driver.createCoordinationStore?.().recordTick('nightly', tickAt, pushed.json.id)).toBe(true);

    const [fired] = await list();
    expect(fired).toMatchObject({ lastTickAt: tickAt, lastTickJobId: pushed.json.id, lastOutcome: 'waiting' });
    const work = await runCli(['work', '--once'], opts());
    expect(work.code, work.stderr).toBe(0);
    expect((await list())[0]).toMatchObject({ lastTickAt: tickAt, lastOutcome: 'completed' });

    const table = await runCli(['schedule', 'list'], opts());
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(/^SCHEDULE\s+CRON\s+NEXT TICK\s+LAST TICK\s+OUTCOME\s+LAST MANUAL RUN$/m);
    expect(table.stdout).toMatch(
      new RegExp(`^nightly\\s+0 3 \\* \\* \\*\\s+\\S+T03:00:00\\.000Z\\s+${new Date(tickAt).toISOString()}\\s+completed\\s+-$`, 'm'),
    );
    expect(table.stdout).toContain('30 9 * * 1 (Europe/Paris)');
  });

  it('schedule run pushes the job once as a manual run and leaves the last tick alone', async () => {
    const { result, json } = await runJson<{ schedule: string; jobId: string; manual: boolean }>(
      ['schedule', 'run', 'nightly', '--json'],
      opts(),
    );
    expect(result.code, result.stderr).toBe(0);
    expect(json).toMatchObject({ schedule: 'nightly', manual: true });
    const [nightly, paris] = await list();
    expect(nightly).toMatchObject({ lastRunJobId: json.jobId, lastTickAt: null });
    expect(nightly?.lastRunAt).toBeGreaterThan(Date.now() - 60_000);
    expect(paris?.lastRunJobId).toBeNull();

    const work = await runCli(['work', '--once'], opts());
    expect(work.code, work.stderr).toBe(0);
    const ran = readFileSync(join(dir, 'ran.log'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { id: string; payload: { tickAt: number } });
    expect(ran).toHaveLength(1);
    expect(ran[0]?.id).toBe(json.jobId);
    expect(typeof ran[0]?.payload.tickAt).toBe('number');

    const people = await runCli(['schedule', 'run', 'paris'], opts());
    expect(people.code, people.stderr).toBe(0);
    expect(people.stdout).toMatch(/^schedule paris: pushed job \S+ \(a manual run; the next tick is unchanged\)$/m);
  });

  it('schedule run with an unknown name fails naming the schedules there are', async () => {
    const result = await runCli(['schedule', 'run', 'weekly'], opts());
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('no schedule named "weekly" in the config (schedules: nightly, paris)');
  });
});

describe('queue schedule, refused', () => {
  let dir: string;
  let removeDir: () => void;
  beforeEach(() => {
    ({ dir, remove: removeDir } = tempDir());
  });
  afterEach(() => removeDir());

  it('a config with a bad cron names the schedule, the key and the file', async () => {
    writeConfig(
      dir,
      configSource(BACKENDS.sqlite().connection, `schedules: [{ name: 'broken', cron: 'every day', job: () => record.create({}) }],`),
    );
    const result = await runCli(['schedule', 'list'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/queue\.config\.mjs: schedules\[0\]: scheduler: schedule "broken": invalid cron "every day"/);
  });

  it("overlap 'skip' on a driver without job lookups is refused with the reason", async () => {
    const backend = BACKENDS.beanstalk();
    writeConfig(
      dir,
      configSource(
        backend.connection,
        `schedules: [{ name: 'guarded', cron: '0 3 * * *', overlap: 'skip', job: () => record.create({}) }],`,
      ),
    );
    const result = await runCli(['schedule', 'list'], { cwd: dir });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`schedule "guarded": overlap 'skip' needs job lookups`);
    writeConfig(dir, configSource(backend.connection, `schedules: [{ name: 'plain', cron: '0 3 * * *', job: () => record.create({}) }],`));
    const plain = await runCli(['schedule', 'run', 'plain'], { cwd: dir });
    expect(plain.code).toBe(1);
    expect(plain.stderr).toContain('the beanstalk driver keeps no coordination store, where the scheduler records fired ticks');
  });
});
