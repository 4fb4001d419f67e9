import { InvalidArgumentError, isValidQueueName, quoteInput } from '@queuekit/core';

/** A tube prefix: beanstalkd's name characters, not starting with `-`, at most 64. */
export const TUBE_PREFIX_PATTERN = /^[A-Za-z0-9+/;.$_()][A-Za-z0-9+/;.$_()-]{0,63}$/;

/** Name (after the prefix) of the tube holding the dead-letter records; no queue may use it. */
export const DEAD_LETTER_TUBE = 'queuekit.dead-letters';

/**
 * Start (after the prefix) of the tube holding a paused queue's pause marker: `(` and `)` are in
 * beanstalkd's names but never in queue names, so no queue's tube can be a marker tube.
 */
export const PAUSE_MARKER_TUBE = 'queuekit(paused)';

/**
 * Maps queue names to tube names. Queue names allow `:`, which beanstalkd's names do not: it
 * becomes `;`, which queue names never contain, so the mapping is one to one.
 */
export class Tubes {
  readonly #prefix: string;
  readonly #cache = new Map<string, string>();
  readonly #markers = new Map<string, string>();
  /** The tube of the dead-letter records. */
  readonly deadLetters: string;

  constructor(prefix: string) {
    this.#prefix = prefix;
    this.deadLetters = `${prefix}${DEAD_LETTER_TUBE}`;
  }

  /** The tube of `queue`; InvalidArgumentError for a name queuekit or beanstalkd refuses. */
  of(queue: string): string {
    const cached = this.#cache.get(queue);
    if (cached !== undefined) return cached;
    if (typeof queue !== 'string' || !isValidQueueName(queue)) {
      throw new InvalidArgumentError(
        `beanstalk: invalid queue name ${quoteInput(queue)}: expected 1-100 of letters, digits, '.', '_', '-', ':'`,
      );
    }
    if (queue === DEAD_LETTER_TUBE) {
      throw new InvalidArgumentError(`beanstalk: the queue name ${DEAD_LETTER_TUBE} is reserved for the dead-letter records`);
    }
    const tube = `${this.#prefix}${queue.replaceAll(':', ';')}`;
    if (tube.startsWith('-')) {
      throw new InvalidArgumentError(
        `beanstalk: invalid queue name ${quoteInput(queue)}: a tube name cannot start with '-' (set a tubePrefix)`,
      );
    }
    if (this.#cache.size > 10_000) this.#cache.clear();
    this.#cache.set(queue, tube);
    return tube;
  }

  /** The tube of the pause marker of the queue whose tube is `tube` (one made by {@link of}). */
  markerOf(tube: string): string {
    let marker = this.#markers.get(tube);
    if (marker === undefined) {
      marker = `${this.#prefix}${PAUSE_MARKER_TUBE}${tube.slice(this.#prefix.length)}`;
      if (this.#markers.size > 10_000) this.#markers.clear();
      this.#markers.set(tube, marker);
    }
    return marker;
  }
}
