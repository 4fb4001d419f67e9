import type pg from 'pg';

/** A client checked out of a pool for a transaction, heard from the moment the pool hands it over. */
export interface CheckedOutClient {
  readonly client: pg.PoolClient;
  /** Returns the client to the pool; one that emitted `error`, or when `error` is given, is destroyed instead. */
  release(error?: Error): void;
}

/**
 * Checks a client out of `pool` with an `error` listener attached in pg-pool's own callback. pg-pool
 * takes its idle listener off a client as it hands it over, and a client it has just connected is
 * handed over while pg is still reading the bytes that came with the connection's ReadyForQuery: a
 * FATAL that came in the same read (pg_terminate_backend right after the connect, or a process
 * paused meanwhile) is emitted before an `await pool.connect()` resumes, with no query in flight
 * to take it, and would end the process unheard. `onError` hears it (once per client); the
 * client's next query fails as well.
 */
export function checkOut(pool: pg.Pool, onError: (error: Error) => void): Promise<CheckedOutClient> {
  return new Promise((resolve, reject) => {
    pool.connect((error, client, done) => {
      if (error !== undefined && error !== null) {
        reject(error);
        return;
      }
      const checkedOut = client as pg.PoolClient;
      let broken: Error | undefined;
      const listener = (event: Error) => {
        if (broken !== undefined) return;
        broken = event;
        onError(event);
      };
      checkedOut.on('error', listener);
      resolve({
        client: checkedOut,
        release: (failure) => {
          checkedOut.removeListener('error', listener);
          done(broken ?? failure);
        },
      });
    });
  });
}
