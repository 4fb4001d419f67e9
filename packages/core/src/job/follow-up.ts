import { createEnvelope } from '../envelope/create-envelope.js';
import type { JobDescriptor, JobEnvelope, ParentInfo } from '../envelope/job-envelope.js';

/** Turns stored follow-up descriptors into envelopes that carry `parent`, due `delayMs` after `now`. */
export function followUpEnvelopes(descriptors: readonly JobDescriptor[], parent: ParentInfo, now: number = Date.now()): JobEnvelope[] {
  return descriptors.map((descriptor) =>
    createEnvelope({
      name: descriptor.name,
      queue: descriptor.queue,
      payload: descriptor.payload,
      priority: descriptor.priority,
      maxAttempts: descriptor.maxAttempts,
      retry: descriptor.retry,
      callbacks: descriptor.callbacks,
      createdAt: now,
      availableAt: now + descriptor.delayMs,
      parent,
      ...(descriptor.timeoutMs === undefined ? {} : { timeoutMs: descriptor.timeoutMs }),
      ...(descriptor.uniqueKey === undefined ? {} : { uniqueKey: descriptor.uniqueKey }),
      ...(descriptor.meta === undefined ? {} : { meta: descriptor.meta }),
      ...(descriptor.payloadVersion === undefined ? {} : { payloadVersion: descriptor.payloadVersion }),
      ...(descriptor.group === undefined ? {} : { group: descriptor.group }),
    }),
  );
}
