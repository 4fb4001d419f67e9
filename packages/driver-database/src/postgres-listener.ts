import pg from 'pg';

/** Callbacks of a {@link PostgresListener}. */
export interface PostgresListenerEvents {
  /** A NOTIFY arrived; `payload` is the queue name. */
  readonly onNotify: (payload: string) => void;
  /** The connection was (re)established: anything sent meanwhile may have been missed. */
  readonly onConnect: () => void;
  /** A connection attempt or the live connection failed (counted, then retried). */
  readonly onError: (error: Error) => void;
}

const FIRST_RETRY_MS = 50;
const MAX_RETRY_MS = 5_000;

/**
 * One dedicated connection that LISTENs on the driver's channel and reconnects with backoff when it
 * is dropped (server restart, pg_terminate_backend, network). `connected` tells waiting reserves
 * whether they may sleep long or must poll.
 */
export class PostgresListener {
  readonly #config: pg.ClientConfig;
  readonly #channel: string;
  readonly #events: PostgresListenerEvents;
  #client: pg.Client | undefined;
  #connected = false;
  #closed = false;
  #retryMs = FIRST_RETRY_MS;
  #retryTimer: NodeJS.Timeout | undefined;

  /** `channel` must already be a validated identifier. */
  constructor(config: pg.ClientConfig, channel: string, events: PostgresListenerEvents) {
    this.#config = config;
    this.#channel = channel;
    this.#events = events;
  }

  /** True while LISTEN is active. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Connects and LISTENs; resolves either way (a failure schedules a retry). */
  async start(): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client(this.#config);
    this.#client = client;
    client.on('notification', (message) => {
      if (message.channel === this.#channel) this.#events.onNotify(message.payload ?? '');
    });
    client.on('error', (error) => this.#dropped(client, error));
    client.on('end', () => this.#dropped(client, new Error('LISTEN connection ended')));
    try {
      await client.connect();
      await client.query(`LISTEN "${this.#channel}"`);
      if (this.#closed || this.#client !== client) {
        await client.end().catch(this.#endFailed);
        return;
      }
      this.#connected = true;
      this.#retryMs = FIRST_RETRY_MS;
      this.#events.onConnect();
    } catch (error) {
      this.#dropped(client, error instanceof Error ? error : new Error(String(error)));
    }
  }

  /** Stops listening and ends the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#connected = false;
    clearTimeout(this.#retryTimer);
    const client = this.#client;
    this.#client = undefined;
    if (client !== undefined) await client.end().catch(this.#endFailed);
  }

  /** Ending a connection failed: reported like any other listener error (nothing to retry). */
  readonly #endFailed = (error: unknown): void => {
    this.#events.onError(error instanceof Error ? error : new Error(String(error)));
  };

  #dropped(client: pg.Client, error: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    this.#connected = false;
    client.removeAllListeners('notification');
    client.on('error', () => undefined);
    client.end().catch(this.#endFailed);
    if (this.#closed) return;
    this.#events.onError(error);
    const delay = this.#retryMs;
    this.#retryMs = Math.min(MAX_RETRY_MS, this.#retryMs * 2);
    this.#retryTimer = setTimeout(() => void this.start(), delay);
    this.#retryTimer.unref();
  }
}
