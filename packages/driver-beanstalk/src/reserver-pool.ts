import type { BeanstalkClient } from './client/beanstalk-client.js';

/**
 * Connections for reserving. A waiting `reserve` blocks its connection (replies come strictly in
 * order) and a reserved job can only be settled on the connection that reserved it, so each
 * connection does one of these at a time: wait for a job, or hold one. Connections are made as
 * concurrency needs them and kept for reuse; one whose socket dropped reconnects on its next use,
 * replaying its watch list.
 */
export class ReserverPool {
  readonly #create: () => BeanstalkClient;
  readonly #free: BeanstalkClient[] = [];
  readonly #all = new Set<BeanstalkClient>();
  #closed = false;

  constructor(create: () => BeanstalkClient) {
    this.#create = create;
  }

  /** Connections open or idle. */
  get size(): number {
    return this.#all.size;
  }

  /** A connection for the caller alone, preferring an idle one already watching exactly `tubes`. */
  acquire(tubes: readonly string[]): BeanstalkClient {
    for (let i = this.#free.length - 1; i >= 0; i -= 1) {
      const client = this.#free[i] as BeanstalkClient;
      if (sameTubes(client.watching, tubes)) {
        this.#free.splice(i, 1);
        return client;
      }
    }
    const idle = this.#free.pop();
    if (idle !== undefined) return idle;
    const client = this.#create();
    this.#all.add(client);
    return client;
  }

  /** Hands a connection back once it neither waits for a job nor holds one. */
  release(client: BeanstalkClient): void {
    if (this.#closed) {
      client.close();
      return;
    }
    this.#free.push(client);
  }

  /** Closes every connection (the server makes the jobs they held available again). */
  close(): void {
    this.#closed = true;
    for (const client of this.#all) client.close();
    this.#all.clear();
    this.#free.length = 0;
  }
}

function sameTubes(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (const tube of b) if (!a.includes(tube)) return false;
  return true;
}
