import { defineJob, Worker } from '@queuekit/core';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { createSqliteDriver } from '../src/index.js';
import { tempDir } from './helpers.js';

// The README's quick start, as written, on a fresh SQLite file: no server, no setup step.
let dir: ReturnType<typeof tempDir>;
let previous: string;
beforeEach(() => {
  dir = tempDir();
  previous = process.cwd();
  process.chdir(dir.dir);
});
afterEach(() => {
  process.chdir(previous);
  dir.remove();
});

it('the quick start runs on ./queuekit.sqlite with zero setup', async () => {
  const driver = createSqliteDriver({ filename: './queuekit.sqlite' });
  const welcomed: string[] = [];
  const sendWelcome = defineJob('send-welcome-email', async (payload: { userId: string }) => {
    welcomed.push(payload.userId);
  });
  await sendWelcome.create({ userId: 'u1' }).onQueue('emails').dispatch(driver);
  const worker = new Worker({ driver, jobs: [sendWelcome], queues: ['emails'], concurrency: 4, stopWhenEmpty: true, waitMs: 100 });
  await worker.run();
  await driver.close();
  expect(welcomed).toEqual(['u1']);
  const again = createSqliteDriver();
  expect(again.filename).toBe('queuekit.sqlite');
  expect(await again.stats('emails')).toMatchObject({ ready: 0, reserved: 0, dead: 0 });
  await again.close();
});
