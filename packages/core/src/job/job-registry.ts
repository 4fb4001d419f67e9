import type { StandardSchemaV1 } from '@standard-schema/spec';
import { InvalidArgumentError } from '../errors/invalid-argument-error.js';
import type { JobHandler, PayloadUpgrade } from './job-definition.js';
import type { JobMiddleware } from './job-middleware.js';

/**
 * What a registry needs of a job definition: its name and handler (any payload type), and what
 * runs before the handler when the definition has it.
 */
export interface RegisteredJob {
  readonly name: string;
  readonly handler: JobHandler<never, unknown>;
  /** Run around the handler, outermost first. */
  readonly middleware?: readonly JobMiddleware<never>[];
  /** Payload schema checked before the handler runs. */
  readonly schema?: StandardSchemaV1 | undefined;
  /** Payload version the handler expects (1 when absent). */
  readonly version?: number;
  /** Upgrades a payload of an older version. */
  readonly upgrade?: PayloadUpgrade | undefined;
}

/** Maps job names to their definitions in a worker process. */
export class JobRegistry {
  readonly #definitions = new Map<string, RegisteredJob>();

  constructor(definitions: Iterable<RegisteredJob> = []) {
    for (const definition of definitions) this.register(definition);
  }

  /** Adds a definition; throws InvalidArgumentError when another one already has its name. */
  register(definition: RegisteredJob): this {
    const existing = this.#definitions.get(definition.name);
    if (existing !== undefined && existing !== definition) {
      throw new InvalidArgumentError(`job "${definition.name}" is already registered`);
    }
    this.#definitions.set(definition.name, definition);
    return this;
  }

  /** The definition for `name`, or undefined when none is registered. */
  get(name: string): RegisteredJob | undefined {
    return this.#definitions.get(name);
  }

  /** Registered names. */
  names(): string[] {
    return [...this.#definitions.keys()];
  }
}
