import { Redis } from 'ioredis';

const adaptive = new WeakSet<Redis>();

/**
 * Lets `client` auto-pipeline only while it has commands in flight. ioredis auto-pipelining
 * batches the commands of one tick into one write, which pays off under concurrency but delays a
 * lone command to the next tick. Switching it on only while a reply is awaited keeps lone commands
 * direct; it cannot reorder commands, because a command goes direct only when nothing is queued.
 */
export function pipelineWhenBusy(client: Redis): void {
  adaptive.add(client);
}

/** Sets the client's auto-pipelining for the command about to be sent (no-op for other clients). */
export function choosePipelining(client: unknown): void {
  if (client instanceof Redis && adaptive.has(client)) {
    client.options.enableAutoPipelining = client.commandQueue.length > 0 || client.autoPipelineQueueSize > 0;
  }
}
