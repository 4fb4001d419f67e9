import { once } from 'node:events';
import { createServer, type Server, Socket } from 'node:net';

/**
 * A TCP proxy on loopback in front of a server, whose connections a test can cut as a network
 * failure would (both ends destroyed), and which can refuse new ones until it is up again. Also
 * exported as `@queuekit/driver-contract/cutting-proxy`, which loads no test runner (the chaos
 * runner uses it).
 */
export class CuttingProxy {
  /** The loopback port clients connect to. */
  readonly port: number;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #down = false;

  private constructor(server: Server, port: number) {
    this.#server = server;
    this.port = port;
  }

  /** Listens on a free loopback port and forwards every connection to `targetPort` on loopback. */
  static async start(targetPort: number): Promise<CuttingProxy> {
    const server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const proxy = new CuttingProxy(server, (server.address() as { port: number }).port);
    server.on('connection', (inbound) => proxy.#forward(inbound, targetPort));
    return proxy;
  }

  #forward(inbound: Socket, targetPort: number): void {
    if (this.#down) {
      inbound.destroy();
      return;
    }
    const outbound = new Socket();
    this.#sockets.add(inbound).add(outbound);
    const forget = () => {
      inbound.destroy();
      outbound.destroy();
      this.#sockets.delete(inbound);
      this.#sockets.delete(outbound);
    };
    inbound.on('error', forget).on('close', forget);
    outbound.on('error', forget).on('close', forget);
    outbound.connect(targetPort, '127.0.0.1', () => {
      inbound.pipe(outbound);
      outbound.pipe(inbound);
    });
  }

  /** Destroys every connection through the proxy (both ends); new ones are still accepted. Returns how many client connections were cut. */
  cut(): number {
    const count = this.#sockets.size / 2;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
    return count;
  }

  /** Cuts every connection and refuses new ones until {@link up}. */
  down(): void {
    this.#down = true;
    this.cut();
  }

  /** Accepts connections again. */
  up(): void {
    this.#down = false;
  }

  /** Stops accepting and cuts everything. */
  async close(): Promise<void> {
    this.down();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
