import type { BeanstalkClient } from './client/beanstalk-client.js';

/** What the pool knows of one connection. */
interface Slot {
  /** Jobs reserved on it and not settled yet. */
  jobs: number;
  /** A call is using it (a waiting reserve, a claim, a settle): nobody else may start a waiting reserve on it. */
  users: number;
}

/**
 * Connections for reserving. A reserved job can only be settled on the connection that reserved
 * it, and a waiting `reserve` blocks its connection (replies come strictly in order), so a waiting
 * reserve only ever goes to a connection that holds no job and that no call is using. A connection
 * holding jobs still takes pipelined commands (settles, renewals, claims that do not wait).
 * Connections are made as concurrency needs them and kept; one whose socket dropped reconnects on
 * its next use, replaying its watch list.
 */
export class ReserverPool {
  readonly #create: () => BeanstalkClient;
  readonly #slots = new Map<BeanstalkClient, Slot>();
  readonly #free: BeanstalkClient[] = [];
  #closed = false;

  constructor(create: () => BeanstalkClient) {
    this.#create = create;
  }

  /** Connections made so far. */
  get size(): number {
    return this.#slots.size;
  }

  /**
   * A connection that holds nothing, for the caller alone until {@link done}, preferring an idle one
   * already watching exactly `tubes`.
   */
  acquire(tubes: readonly string[]): BeanstalkClient {
    let index = this.#free.length - 1;
    for (let i = index; i >= 0; i -= 1) {
      if (sameTubes((this.#free[i] as BeanstalkClient).watching, tubes)) {
        index = i;
        break;
      }
    }
    const client = index >= 0 ? (this.#free.splice(index, 1)[0] as BeanstalkClient) : this.#make();
    (this.#slots.get(client) as Slot).users += 1;
    return client;
  }

  /** Marks a connection (that may hold jobs) as used by a call until {@link done}. */
  use(client: BeanstalkClient): void {
    const slot = this.#slots.get(client);
    if (slot === undefined) return;
    slot.users += 1;
    this.#unfree(client);
  }

  /** The call that acquired or used `client` is done with it. */
  done(client: BeanstalkClient): void {
    const slot = this.#slots.get(client);
    if (slot === undefined) return;
    slot.users = Math.max(0, slot.users - 1);
    this.#maybeFree(client, slot);
  }

  /** A job was reserved on `client`. */
  hold(client: BeanstalkClient): void {
    const slot = this.#slots.get(client);
    if (slot === undefined) return;
    slot.jobs += 1;
    this.#unfree(client);
  }

  /** A job reserved on `client` was settled or lost. */
  unhold(client: BeanstalkClient): void {
    const slot = this.#slots.get(client);
    if (slot === undefined) return;
    slot.jobs = Math.max(0, slot.jobs - 1);
    this.#maybeFree(client, slot);
  }

  /** True while a call uses `client`. */
  inUse(client: BeanstalkClient): boolean {
    return (this.#slots.get(client)?.users ?? 0) > 0;
  }

  /** Jobs held on `client`. */
  jobsOn(client: BeanstalkClient): number {
    return this.#slots.get(client)?.jobs ?? 0;
  }

  /** Closes every connection (the server makes the jobs they held available again). */
  close(): void {
    this.#closed = true;
    for (const client of this.#slots.keys()) client.close();
    this.#slots.clear();
    this.#free.length = 0;
  }

  #make(): BeanstalkClient {
    const client = this.#create();
    if (this.#closed) client.close();
    this.#slots.set(client, { jobs: 0, users: 0 });
    return client;
  }

  #maybeFree(client: BeanstalkClient, slot: Slot): void {
    if (slot.jobs === 0 && slot.users === 0 && !this.#free.includes(client)) this.#free.push(client);
  }

  #unfree(client: BeanstalkClient): void {
    const index = this.#free.indexOf(client);
    if (index >= 0) this.#free.splice(index, 1);
  }
}

function sameTubes(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (const tube of b) if (!a.includes(tube)) return false;
  return true;
}
