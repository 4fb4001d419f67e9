import { describe, expect, it } from 'vitest';
import type { ContractFixture } from '../contract-fixture.js';
import { reserveOrFail, testEnvelope } from '../helpers.js';

/** What push() does with an id that is already taken and with a transaction it cannot honour: one meaning on every driver. */
export function describePushOutcomes(f: ContractFixture): void {
  const caps = f.capabilities;

  // A driver that enforces unique keys knows which jobs are live, so it can skip a taken id too;
  // one that cannot (declared uniqueKeys: false) skips this group, visibly.
  describe.skipIf(caps.inline || !caps.uniqueKeys)('duplicate job ids (capability: uniqueKeys)', () => {
    it('push() of an id a queued job holds is skipped, not an error, and the first job is kept', async () => {
      const queue = f.queue();
      const first = testEnvelope(queue, { payload: { n: 1 } });
      expect(await f.driver().push([first])).toEqual({ pushed: [first.id], skipped: [] });
      const again = { ...testEnvelope(queue, { payload: { n: 2 } }), id: first.id };
      expect(await f.driver().push([again])).toEqual({ pushed: [], skipped: [first.id] });
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 1 });
      const reservation = await reserveOrFail(f.driver(), [queue]);
      expect(reservation.envelope?.payload).toEqual({ n: 1 });
      await f.driver().ack(reservation);
    });

    it('the id stays taken while its job is reserved, and is free again once the job is acknowledged', async () => {
      const queue = f.queue();
      const first = testEnvelope(queue);
      await f.driver().push([first]);
      const reservation = await reserveOrFail(f.driver(), [queue]);
      expect(await f.driver().push([{ ...testEnvelope(queue), id: first.id }])).toEqual({ pushed: [], skipped: [first.id] });
      await f.driver().ack(reservation);
      expect(await f.driver().push([{ ...testEnvelope(queue), id: first.id }])).toEqual({ pushed: [first.id], skipped: [] });
    });

    it('the same id twice in one push is stored once: the first is pushed, the repeat skipped', async () => {
      const queue = f.queue();
      const first = testEnvelope(queue, { payload: { n: 1 } });
      const repeat = { ...testEnvelope(queue, { payload: { n: 2 } }), id: first.id };
      expect(await f.driver().push([first, repeat])).toEqual({ pushed: [first.id], skipped: [first.id] });
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 1 });
      const reservation = await reserveOrFail(f.driver(), [queue]);
      expect(reservation.envelope?.payload).toEqual({ n: 1 });
      await f.driver().ack(reservation);
      // The very same envelope object twice, too.
      const other = f.queue();
      const same = testEnvelope(other);
      expect(await f.driver().push([same, same])).toEqual({ pushed: [same.id], skipped: [same.id] });
      expect(await f.driver().stats(other)).toMatchObject({ ready: 1 });
    });

    it('a bulk push stores the new ids and skips the taken one', async () => {
      const queue = f.queue();
      const taken = testEnvelope(queue);
      await f.driver().push([taken]);
      const fresh = [testEnvelope(queue), testEnvelope(queue)];
      const result = await f.driver().push([fresh[0]!, { ...testEnvelope(queue), id: taken.id }, fresh[1]!]);
      expect({ pushed: [...result.pushed].sort(), skipped: result.skipped }).toEqual({
        pushed: fresh.map((e) => e.id).sort(),
        skipped: [taken.id],
      });
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 3 });
    });
  });

  describe.skipIf(caps.transactionalPush)('a transaction the driver cannot honour (capability: transactionalPush false)', () => {
    it('push(…, { transaction }) throws UnsupportedError naming the driver and stores nothing', async () => {
      const queue = f.queue();
      const driver = f.driver();
      await expect(Promise.resolve().then(() => driver.push([testEnvelope(queue)], { transaction: {} }))).rejects.toMatchObject({
        name: 'UnsupportedError',
        code: 'UNSUPPORTED',
        message: expect.stringMatching(new RegExp(`^${driver.name}: `)),
      });
      expect(await driver.stats(queue)).toMatchObject({ ready: 0, reserved: 0 });
    });
  });
}
