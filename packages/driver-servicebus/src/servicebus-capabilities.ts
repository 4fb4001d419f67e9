import type { DriverCapabilities } from '@queuekit/core';

/**
 * What the Service Bus driver can do, with why for each `false` (the README's capability table says
 * the same). `maxMessageBytes` is the driver's option.
 */
export function serviceBusCapabilities(maxMessageBytes: number): DriverCapabilities {
  return Object.freeze({
    delay: 'native',
    // Service Bus has no priority; jobs of one queue run in order.
    priority: false,
    lease: 'native',
    extend: true,
    blockingReserve: true,
    deadLetter: 'native',
    bulkPush: true,
    transactionalPush: false,
    // Duplicate detection is per message id and time window, not per live job.
    uniqueKeys: false,
    inline: false,
    rewriteOnRelease: true,
    batch: false,
    // The data plane reads a message by sequence number only (peek), so finding a job by id means
    // peeking the whole queue (bounded by peekLimit, a round trip per 250 messages); a locked
    // message cannot be changed, so an active job's lease holder has nowhere to be kept; and a
    // real namespace's peek may not report locks, so waiting and active jobs cannot be told apart.
    lookup: false,
    // No store but queues: a side queue with a time-to-live could bound records by age, but not by
    // count, and reading them back needs the lookup above.
    retention: false,
    // A locked message's body and properties change only with its settlement.
    progress: false,
    // cancelScheduledMessages(sequenceNumber) removes a delayed job, but a waiting one can only be
    // taken by receiving the messages ahead of it, and an active one's lock answers only to its holder.
    cancel: false,
    // The data plane has no pause: a queue's status (ReceiveDisabled) is a management-plane setting
    // (ATOM over HTTPS, needing Manage rights), not a claim-side switch that waiting receives wake on.
    pause: false,
    // Receivers take messages in the broker's order; a claim cannot skip a group that is busy.
    groups: false,
    maxMessageBytes,
  });
}
