import type { QueueDriver, Reservation } from '@queuekit/core';
import { Priority } from '@queuekit/core';
import { describe, expect, it } from 'vitest';
import type { ContractFixture } from '../contract-fixture.js';
import { reserveEventually, reserveOrFail, testEnvelope } from '../helpers.js';

type BatchDriver = QueueDriver & Required<Pick<QueueDriver, 'claim' | 'ackAndClaim' | 'extendMany'>>;

/** The batch members a Worker uses to claim n jobs, settle a group while claiming the next n, renew many leases, and give back. */
export function describeBatch(f: ContractFixture): void {
  const caps = f.capabilities;

  describe.skipIf(!caps.batch || caps.inline)('batches (capability: batch)', () => {
    const driver = (): BatchDriver => {
      const d = f.driver();
      if (d.claim === undefined || d.ackAndClaim === undefined || d.extendMany === undefined) {
        throw new Error(`${d.name} declares capabilities.batch but lacks claim, ackAndClaim or extendMany`);
      }
      return d as BatchDriver;
    };

    /** Pushes `n` jobs one by one (so FIFO order is their push order); resolves their ids. */
    async function pushed(queue: string, n: number, priority?: number): Promise<string[]> {
      const ids: string[] = [];
      for (let i = 0; i < n; i += 1) {
        const envelope = testEnvelope(queue, { payload: { n: i }, ...(priority === undefined ? {} : { priority }) });
        await f.driver().push([envelope]);
        ids.push(envelope.id);
      }
      return ids;
    }

    it('claim() takes up to max jobs in priority, then FIFO order, each leased with its own token', async () => {
      const queue = f.queue();
      const low = await pushed(queue, 2, Priority.LOW);
      const high = await pushed(queue, 3, Priority.HIGH);
      const claimed = await driver().claim([queue], { leaseMs: 30_000, waitMs: 0, max: 4 });
      expect(claimed.map((r) => r.id)).toEqual(caps.priority ? [...high, low[0]] : [...low, ...high].slice(0, 4));
      expect(new Set(claimed.map((r) => r.token)).size).toBe(4);
      for (const reservation of claimed) expect(reservation).toMatchObject({ queue, attempt: 1, lostDeliveries: 0 });
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 1, reserved: 4 });
      const rest = await driver().claim([queue], { leaseMs: 30_000, waitMs: 0, max: 4 });
      expect(rest.map((r) => r.id)).toEqual(caps.priority ? [low[1]] : [high[2]]);
      expect(await driver().claim([queue], { leaseMs: 30_000, waitMs: 0, max: 4 })).toEqual([]);
    });

    it('claim() takes the queues in the order given', async () => {
      const first = f.queue();
      const second = f.queue();
      const inSecond = await pushed(second, 2);
      const inFirst = await pushed(first, 1);
      const claimed = await driver().claim([first, second], { leaseMs: 30_000, waitMs: 0, max: 10 });
      expect(claimed[0]?.id).toBe(inFirst[0]);
      // A driver may stop at the first queue that had work; what it takes of the next keeps FIFO order.
      expect(claimed.slice(1).map((r) => r.id)).toEqual(inSecond.slice(0, claimed.length - 1));
    });

    it('claim() waits for the first job when none is ready (blocking or polling)', async () => {
      const queue = f.queue();
      const waiting = driver().claim([queue], { leaseMs: 30_000, waitMs: 5_000, max: 5 });
      const [id] = await pushed(queue, 1);
      const claimed = await waiting;
      expect(claimed.map((r) => r.id)).toEqual([id]);
    });

    it('claim() with a signal that aborts ends with no job', async () => {
      const queue = f.queue();
      const controller = new AbortController();
      const waiting = driver().claim([queue], { leaseMs: 30_000, waitMs: 10_000, max: 5, signal: controller.signal });
      setTimeout(() => controller.abort(), 100);
      const started = Date.now();
      expect(await waiting).toEqual([]);
      expect(Date.now() - started).toBeLessThan(5_000);
    });

    it('ackAndClaim() acknowledges a group and claims the next jobs in order, in one call', async () => {
      const queue = f.queue();
      const ids = await pushed(queue, 6);
      const firstTwo = await driver().claim([queue], { leaseMs: 30_000, waitMs: 0, max: 2 });
      const result = await driver().ackAndClaim(firstTwo, [queue], { leaseMs: 30_000, max: 3 });
      expect(result.leaseLost).toEqual([]);
      expect(result.claimed.map((r) => r.id)).toEqual(ids.slice(2, 5));
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 1, reserved: 3 });
      const last = await driver().ackAndClaim(result.claimed, [queue], { leaseMs: 30_000, max: 0 });
      expect(last).toEqual({ leaseLost: [], claimed: [] });
      expect(await f.driver().stats(queue)).toMatchObject({ ready: 1, reserved: 0 });
    });

    it('ackAndClaim() fails only the ack whose lease was lost; the others are acknowledged', async () => {
      const queue = f.queue();
      await pushed(queue, 2);
      const [stale] = await driver().claim([queue], { leaseMs: 200, waitMs: 0, max: 1 });
      const [kept] = await driver().claim([queue], { leaseMs: 30_000, waitMs: 0, max: 1 });
      const holder = await reserveEventually(f.driver(), [queue], 30_000);
      expect(holder.id).toBe(stale!.id);
      expect(holder).toMatchObject({ attempt: 1, lostDeliveries: 1 });
      const result = await driver().ackAndClaim([stale!, kept!], [queue], { leaseMs: 30_000, max: 5 });
      expect(result.leaseLost).toEqual([stale]);
      expect(result.claimed).toEqual([]);
      expect(await f.driver().stats(queue)).toMatchObject({ reserved: 1, ready: 0 });
      await f.driver().ack(holder);
    });

    it('ackAndClaim() counts an ack of a job already gone as done', async () => {
      const queue = f.queue();
      await pushed(queue, 1);
      const reservation = await reserveOrFail(f.driver(), [queue]);
      await f.driver().ack(reservation);
      expect(await driver().ackAndClaim([reservation], [queue], { leaseMs: 30_000, max: 1 })).toEqual({ leaseLost: [], claimed: [] });
    });

    it('giveBack() of claimed jobs restores them first in their band, in order, uncounted', async () => {
      const queue = f.queue();
      const ids = await pushed(queue, 5);
      const claimed = await driver().claim([queue], { leaseMs: 30_000, waitMs: 0, max: 3 });
      expect(await f.driver().giveBack(claimed.slice(1))).toBe(2);
      const again = await driver().claim([queue], { leaseMs: 30_000, waitMs: 0, max: 4 });
      expect(again.map((r) => r.id)).toEqual(ids.slice(1));
      for (const reservation of again) expect(reservation).toMatchObject({ attempt: 1, lostDeliveries: 0 });
    });

    it('extendMany() renews every held lease in one call and reports a lost one as undefined', async () => {
      const queue = f.queue();
      await pushed(queue, 3);
      const [stale] = await driver().claim([queue], { leaseMs: 200, waitMs: 0, max: 1 });
      const held = await driver().claim([queue], { leaseMs: 1_000, waitMs: 0, max: 2 });
      const holder: Reservation = await reserveEventually(f.driver(), [queue], 30_000);
      expect(holder.id).toBe(stale!.id);
      const before = Date.now();
      const expiries = await driver().extendMany([held[0]!, stale!, held[1]!], 60_000);
      expect(expiries).toHaveLength(3);
      expect(expiries[1]).toBeUndefined();
      for (const expiresAt of [expiries[0], expiries[2]]) expect(expiresAt).toBeGreaterThan(before + 30_000);
    });
  });
}
