import type { Reservation } from '@queuekit/core';
import { runScript, scripts } from './lua-scripts.js';
import type { RedisCallContext } from './redis-context.js';
import { leaseLostError } from './redis-errors.js';

/**
 * Hands a delivery back unrun, due after `delayMs`, neither count changed (postpone.lua).
 * LeaseLostError when its lease was lost.
 */
export async function postponeOne(ctx: RedisCallContext, reservation: Reservation, delayMs: number): Promise<void> {
  const keys = ctx.keysOf(reservation.queue);
  const reply = await runScript(
    ctx.client,
    scripts.postpone,
    [keys.ready, keys.delayed, keys.leased, keys.seq, keys.marker, keys.prios],
    [keys.jobPrefix + reservation.id, reservation.id, reservation.token, Math.max(0, Math.ceil(delayMs))],
  );
  if (reply === -1) throw leaseLostError('postpone', reservation);
}
