/**
 * Collects a stream's bytes up to `maxBytes`: the first bytes (`keep: 'head'`, for stdout, where a
 * result starts) or the last ones (`keep: 'tail'`, for stderr, where an error ends). Memory stays
 * bounded whatever the program writes.
 */
export class CappedOutput {
  readonly #maxBytes: number;
  readonly #keep: 'head' | 'tail';
  #chunks: Buffer[] = [];
  #size = 0;
  /** Bytes seen in all, kept or not. */
  total = 0;

  constructor(maxBytes: number, keep: 'head' | 'tail') {
    this.#maxBytes = maxBytes;
    this.#keep = keep;
  }

  /** Adds a chunk. */
  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.#keep === 'head') {
      const room = this.#maxBytes - this.#size;
      if (room <= 0) return;
      const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
      this.#chunks.push(part);
      this.#size += part.length;
      return;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.length;
    while (this.#size - (this.#chunks[0]?.length ?? 0) >= this.#maxBytes && this.#chunks.length > 1) {
      this.#size -= (this.#chunks.shift() as Buffer).length;
    }
  }

  /** True when bytes were dropped. */
  get truncated(): boolean {
    return this.total > this.#maxBytes;
  }

  /** What was kept, as UTF-8 text (a character cut at the edge becomes U+FFFD). */
  text(): string {
    const all = Buffer.concat(this.#chunks);
    const kept = all.length > this.#maxBytes ? all.subarray(all.length - this.#maxBytes) : all;
    return kept.toString('utf8');
  }
}
