import type { JobCallbacks, JobDescriptor } from '../envelope/job-envelope.js';

/** Callbacks concern of a Job: durable follow-up descriptors per outcome. */
export class JobCallbackSet {
  readonly #then: JobDescriptor[] = [];
  readonly #catch: JobDescriptor[] = [];
  readonly #finally: JobDescriptor[] = [];

  /** Adds a follow-up dispatched when the job completes. */
  addThen(descriptor: JobDescriptor): void {
    this.#then.push(descriptor);
  }

  /** Adds a follow-up dispatched when the job fails for good. */
  addCatch(descriptor: JobDescriptor): void {
    this.#catch.push(descriptor);
  }

  /** Adds a follow-up dispatched after either outcome. */
  addFinally(descriptor: JobDescriptor): void {
    this.#finally.push(descriptor);
  }

  /**
   * Runs `steps` one after another once the job completes: each step is attached as the `then`
   * of the one before, so step n+1 starts only after step n succeeded.
   */
  addChain(steps: readonly JobDescriptor[]): void {
    if (steps.length === 0) return;
    let next: JobDescriptor | undefined;
    for (let index = steps.length - 1; index >= 0; index -= 1) {
      const step = steps[index] as JobDescriptor;
      next = next === undefined ? step : { ...step, callbacks: { ...step.callbacks, then: [...step.callbacks.then, next] } };
    }
    this.#then.push(next as JobDescriptor);
  }

  /** A snapshot for the envelope. */
  toJSON(): JobCallbacks {
    return { then: [...this.#then], catch: [...this.#catch], finally: [...this.#finally] };
  }
}
