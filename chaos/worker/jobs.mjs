// The handlers the chaos runner's `queue work` processes run. Each run writes its start and its
// end to the ledger (CHAOS_LEDGER) before and after its work, so the runner can count runs,
// overlaps and follow-ups without asking the queue.
import { defineJob } from '@queuekit/core';
import { openLedgerWriter } from './ledger.mjs';

/** @type {ReturnType<typeof openLedgerWriter> | undefined} */
let ledgerWriter;
/** The ledger, opened on the first run (the runner imports this module only to build jobs). */
function ledger() {
  if (ledgerWriter === undefined) {
    const file = process.env.CHAOS_LEDGER;
    if (file === undefined) throw new Error('chaos jobs: CHAOS_LEDGER (the ledger file) is not set');
    ledgerWriter = openLedgerWriter(file);
  }
  return ledgerWriter;
}
const leaseMs = Number(process.env.CHAOS_LEASE_MS ?? 3_000);

/**
 * Waits `ms`, calling `tick` every `tickMs` meanwhile; rejects with the signal's reason when
 * `signal` (if given) aborts.
 * @param {number} ms
 * @param {AbortSignal | undefined} signal
 * @param {(() => void) | undefined} tick
 * @param {number} tickMs
 * @returns {Promise<void>}
 */
function work(ms, signal, tick, tickMs) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(signal.reason);
    const timer = setTimeout(done, ms);
    const ticker = tick === undefined ? undefined : setInterval(tick, tickMs);
    const onAbort = () => {
      cleanUp();
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    function cleanUp() {
      clearTimeout(timer);
      if (ticker !== undefined) clearInterval(ticker);
      signal?.removeEventListener('abort', onAbort);
    }
    function done() {
      cleanUp();
      resolve();
    }
  });
}

/**
 * Records a run around `body`: its start, any abort of its signal, and how it ended.
 * @template T
 * @param {import('@queuekit/core').JobContext} ctx
 * @param {() => Promise<T>} body
 * @param {string} [label] What the ledger calls the run; default the job name.
 * @returns {Promise<T>}
 */
async function recorded(ctx, body, label = ctx.name) {
  const run = ledger().start({ job: ctx.id, name: label, attempt: ctx.attempt, parent: ctx.parent?.id ?? null });
  const onAbort = () => ledger().aborted(run, String(ctx.signal.reason?.name ?? ctx.signal.reason));
  ctx.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const result = await body();
    ledger().end(run, 'ok');
    return result;
  } catch (error) {
    ledger().end(run, ctx.signal.aborted && error === ctx.signal.reason ? 'aborted' : 'failed');
    throw error;
  } finally {
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

/**
 * @typedef {object} ChaosWorkPayload
 * @property {number} ms How long the handler works, in ms.
 * @property {boolean} [extend] Call `ctx.extendLease()` every half lease while working.
 * @property {boolean} [ignoreSignal] Keep working when the worker aborts the run (a handler that never looks at its signal).
 * @property {'never' | 'once' | 'always'} [fail] Throw on the first attempt, or on every one.
 */

/** The work the runner pushes: sleeps, extends, fails as its payload says. */
export const chaosWork = defineJob('chaos-work', (/** @type {ChaosWorkPayload} */ payload, ctx) =>
  recorded(ctx, async () => {
    const tick =
      payload.extend === true
        ? () => {
            // A lost lease aborts the run through its signal; the rejection needs no more handling.
            ctx.extendLease().catch(() => undefined);
          }
        : undefined;
    await work(payload.ms, payload.ignoreSignal === true ? undefined : ctx.signal, tick, Math.max(10, leaseMs / 2));
    if (payload.fail === 'always' || (payload.fail === 'once' && ctx.attempt === 1)) {
      throw new Error(`chaos: planned failure on attempt ${ctx.attempt}`);
    }
    return { ranBy: process.pid };
  }),
);

/** A then/catch follow-up: records its run, named `chaos-follow-up:<kind>`, with the parent's id. */
export const chaosFollowUp = defineJob('chaos-follow-up', (/** @type {{ kind: 'then' | 'catch' }} */ payload, ctx) =>
  recorded(ctx, () => work(2, ctx.signal, undefined, 0), `${ctx.name}:${payload.kind}`),
);
