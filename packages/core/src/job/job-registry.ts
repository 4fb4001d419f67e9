import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import type { JobDefinition } from './job-definition.js';

/** Maps job names to their definitions in a worker process. */
export class JobRegistry {
  readonly #definitions = new Map<string, JobDefinition>();

  constructor(definitions: Iterable<JobDefinition<never, unknown>> = []) {
    for (const definition of definitions) this.register(definition);
  }

  /** Adds a definition; throws InvalidArgumentError when another one already has its name. */
  register(definition: JobDefinition<never, unknown>): this {
    const existing = this.#definitions.get(definition.name);
    if (existing !== undefined && existing !== (definition as unknown as JobDefinition)) {
      throw new InvalidArgumentError(`job "${definition.name}" is already registered`);
    }
    this.#definitions.set(definition.name, definition as unknown as JobDefinition);
    return this;
  }

  /** The definition for `name`, or undefined when none is registered. */
  get(name: string): JobDefinition | undefined {
    return this.#definitions.get(name);
  }

  /** Registered names. */
  names(): string[] {
    return [...this.#definitions.keys()];
  }
}
