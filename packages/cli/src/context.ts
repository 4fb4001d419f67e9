import { maskSensitiveText, type QueueDriver, quoteInput, withTimeout } from '@queuekit/core';
import { CliError } from './cli-error.js';
import type { CliConnection, LoadedConfig } from './config/config-types.js';
import { loadConfig } from './config/load-config.js';

/** Where a command writes, and the process facts it reads. */
export interface CliIO {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly cwd: string;
  readonly env: NodeJS.ProcessEnv;
  /** True when stdin is a terminal (confirmation prompts are possible). */
  readonly interactive: boolean;
  /** True when stdout is a terminal (`queue work` then prints a periodic status line). */
  readonly terminal?: boolean;
  /** Asks a yes/no question on the terminal. */
  readonly confirm: (question: string) => Promise<boolean>;
}

/** Shared state of one CLI invocation: the config, once loaded, and the drivers it opened. */
export class CliContext {
  readonly io: CliIO;
  readonly #configFile: string | undefined;
  #config: Promise<LoadedConfig> | undefined;
  readonly #drivers: QueueDriver[] = [];

  constructor(io: CliIO, configFile: string | undefined) {
    this.io = io;
    this.#configFile = configFile;
  }

  /** Writes a line to stdout. */
  out(line: string): void {
    this.io.stdout(`${line}\n`);
  }

  /** Writes a line to stderr, with `key=value` secrets (in error messages) masked. */
  err(line: string): void {
    this.io.stderr(`${maskSensitiveText(line)}\n`);
  }

  /** The config, loaded on first use. */
  config(): Promise<LoadedConfig> {
    this.#config ??= loadConfig({
      cwd: this.io.cwd,
      env: this.io.env,
      ...(this.#configFile === undefined ? {} : { configFile: this.#configFile }),
    });
    return this.#config;
  }

  /** The connection `name` (default: the config's default connection); CliError naming the flag when unknown. */
  async connection(name?: string): Promise<CliConnection> {
    const config = await this.config();
    const key = name ?? config.defaultConnection;
    const connection = config.connections.get(key);
    if (connection === undefined) {
      throw new CliError(`--connection: expected one of ${[...config.connections.keys()].join(', ')}, got ${quoteInput(key)}`);
    }
    return connection;
  }

  /** Creates the driver of a connection; it is closed by {@link CliContext.close}. */
  async open(connection: CliConnection): Promise<QueueDriver> {
    const driver = await connection.definition.create();
    this.#drivers.push(driver);
    return driver;
  }

  /** The queues to look at on a connection: flags, else the connection's own, else the config's. */
  async queuesFor(connection: CliConnection, flag: readonly string[] | undefined): Promise<readonly string[]> {
    if (flag !== undefined && flag.length > 0) return flag;
    return connection.queues ?? (await this.config()).queues;
  }

  /**
   * Starts closing a driver without waiting for it (one that cannot reach its server may take
   * long to give up); the binary exits regardless once its command is done.
   */
  discard(driver: QueueDriver): void {
    const index = this.#drivers.indexOf(driver);
    if (index >= 0) this.#drivers.splice(index, 1);
    driver.close().catch(() => {
      // Closing a driver whose server is gone may fail; there is nothing left to release.
    });
  }

  /** Closes every driver opened, each within `timeoutMs`. */
  async close(timeoutMs = 5_000): Promise<void> {
    const drivers = this.#drivers.splice(0);
    await Promise.allSettled(drivers.map((driver) => withTimeout(driver.close(), timeoutMs, `closing ${driver.name}`)));
  }
}
