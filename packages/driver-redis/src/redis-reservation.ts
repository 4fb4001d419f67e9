import type { JobEnvelope, Reservation } from '@queuekit/core';
import { fromBackend } from '@queuekit/core/driver';
import type { ScriptReply } from './lua-scripts.js';

/** A reservation of this driver: its body decoded once, at construction. */
export class RedisReservation implements Reservation {
  readonly token: string;
  readonly id: string;
  readonly queue: string;
  readonly attempt: number;
  readonly lostDeliveries: number;
  readonly leaseExpiresAt: number;
  readonly envelope?: JobEnvelope;
  readonly poison?: { readonly raw: string; readonly error: Error };

  constructor(queue: string, id: string, body: string, token: string, attempt: number, lostDeliveries: number, leaseExpiresAt: number) {
    this.token = token;
    this.id = id;
    this.queue = queue;
    this.attempt = attempt;
    this.lostDeliveries = lostDeliveries;
    this.leaseExpiresAt = leaseExpiresAt;
    try {
      this.envelope = fromBackend(body);
    } catch (error) {
      this.poison = { raw: body, error: error as Error };
    }
  }
}

/** Values per claimed job in a claim script's reply: id, body, attempt, lostDeliveries, leaseExpiresAt. */
const CLAIMED_FIELDS = 5;

/**
 * The reservations in a claim script's flat list of claimed jobs (reserve.lua, ack-and-claim.lua),
 * in claim order; the n-th (from 1) holds the token `<tokenBase>:<n>`.
 */
export function claimedReservations(queue: string, tokenBase: string, flat: readonly ScriptReply[]): RedisReservation[] {
  const reservations: RedisReservation[] = [];
  for (let i = 0, n = 1; i + CLAIMED_FIELDS <= flat.length; i += CLAIMED_FIELDS, n += 1) {
    reservations.push(
      new RedisReservation(
        queue,
        String(flat[i]),
        String(flat[i + 1]),
        `${tokenBase}:${n}`,
        Number(flat[i + 2]),
        Number(flat[i + 3]),
        Number(flat[i + 4]),
      ),
    );
  }
  return reservations;
}
