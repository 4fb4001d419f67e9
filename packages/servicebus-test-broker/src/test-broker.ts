import type { AddressInfo, Server, Socket } from 'node:net';
import rhea, {
  type Connection,
  type Delivery,
  type EventContext,
  type Message,
  type Receiver,
  type Sender,
  type Source,
  type TerminusOptions,
} from 'rhea';
import { BrokerEntity, type QueueSettings } from './broker-entity.js';
import { handleManagementRequest, type ManagementResponse } from './management.js';
import { messagesOfTransfer, reorderGuidBytes, scheduledEnqueueTime, toWireMessage, uuidToBytes } from './wire-format.js';

/** Options of {@link startTestBroker}. */
export interface TestBrokerOptions {
  /** Loopback port to listen on; 0 (the default) picks a free one. */
  readonly port?: number;
  /** Address to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** Queues that exist from the start, with their settings (the rest take the defaults). */
  readonly queues?: Readonly<Record<string, Partial<QueueSettings>>>;
  /** Create a queue on first use (default true); when false, an unknown queue answers `amqp:not-found`. */
  readonly autoCreateQueues?: boolean;
  /** Lock duration of queues without their own, in ms; default 60,000 (the Service Bus default). */
  readonly lockDurationMs?: number;
  /** Max delivery count of queues without their own; default 10 (the Service Bus default). */
  readonly maxDeliveryCount?: number;
  /** Largest message a sender may send, in bytes; default 262,144 (Service Bus standard tier). */
  readonly maxMessageBytes?: number;
}

/** A running test broker. */
export interface TestBroker {
  readonly host: string;
  readonly port: number;
  /** A connection string for `ServiceBusClient` (plain TCP to the development-emulator port). */
  readonly connectionString: string;
  /** Creates a queue (or changes its settings). */
  createQueue(name: string, settings?: Partial<QueueSettings>): void;
  /** Whether a queue exists. */
  hasQueue(name: string): boolean;
  /** Stops listening and drops every connection. */
  close(): Promise<void>;
}

/** Delivery outcomes as rhea builds them (its typings leave these out). */
const outcomes = rhea.message as unknown as {
  accepted(): { described(): unknown };
  rejected(fields: { error: { condition: string; description: string } }): { described(): unknown };
};

const DEAD_LETTER_SUFFIX = '/$DeadLetterQueue';
const MANAGEMENT_SUFFIX = '/$management';
const TICK_MS = 20;

interface Consumer {
  readonly sender: Sender;
  /** Deliveries handed to rhea that may not be transferred yet (rhea takes credit only on transfer). */
  queued: Delivery[];
  /** A drain was answered and the receiver has not sent a flow since. */
  drainAnswered: boolean;
  readonly entity: BrokerEntity;
  readonly receiveAndDelete: boolean;
}

/**
 * Starts a broker on a loopback port that speaks enough of Azure Service Bus for
 * `@azure/service-bus`: claims-based auth (any token), send and batch send, peek-lock and
 * receive-and-delete receivers with drain, complete / abandon / defer / dead-letter by disposition or by
 * lock token, lock renewal, scheduled messages and their cancellation, peek, lock expiry and the
 * dead-letter sub-queue, deferred messages received by sequence number. State lives in memory.
 */
export async function startTestBroker(options: TestBrokerOptions = {}): Promise<TestBroker> {
  const host = options.host ?? '127.0.0.1';
  const defaults: QueueSettings = {
    lockDurationMs: options.lockDurationMs ?? 60_000,
    maxDeliveryCount: options.maxDeliveryCount ?? 10,
  };
  const autoCreate = options.autoCreateQueues ?? true;
  const maxMessageBytes = options.maxMessageBytes ?? 256 * 1024;
  const queues = new Map<string, BrokerEntity>();
  const consumers = new Set<Consumer>();
  const deliveries = new WeakMap<Delivery, { entity: BrokerEntity; token: string }>();
  let sequence = 0;
  const nextSequenceNumber = () => {
    sequence += 1;
    return sequence;
  };

  const createQueue = (name: string, settings: Partial<QueueSettings> = {}): BrokerEntity => {
    const existing = queues.get(name);
    const merged = { ...defaults, ...settings };
    if (existing !== undefined) {
      existing.settings = merged;
      return existing;
    }
    const deadLetter = new BrokerEntity(`${name}${DEAD_LETTER_SUFFIX}`, merged, nextSequenceNumber, undefined);
    const queue = new BrokerEntity(name, merged, nextSequenceNumber, deadLetter);
    queues.set(name, queue);
    return queue;
  };
  for (const [name, settings] of Object.entries(options.queues ?? {})) createQueue(name, settings);

  /** The entity an address names (`queue`, `queue/$DeadLetterQueue`, with or without `sb://host/`). */
  const resolve = (address: string | undefined): BrokerEntity | undefined => {
    const path = entityPath(address);
    const dead = path.endsWith(DEAD_LETTER_SUFFIX);
    const name = dead ? path.slice(0, -DEAD_LETTER_SUFFIX.length) : path;
    if (name === '' || name.startsWith('$')) return undefined;
    const queue = queues.get(name) ?? (autoCreate ? createQueue(name) : undefined);
    return dead ? queue?.deadLetterQueue : queue;
  };

  const pump = (entity: BrokerEntity): void => {
    for (const consumer of consumers) {
      if (consumer.entity !== entity || consumer.drainAnswered) continue;
      const { sender } = consumer;
      let credit = unusedCredit(consumer);
      for (; credit > 0; credit -= 1) {
        const stored = entity.nextAvailable();
        if (stored === undefined) break;
        if (consumer.receiveAndDelete) {
          entity.remove(stored.sequenceNumber);
          consumer.queued.push(sender.send(toWireMessage(stored)));
          continue;
        }
        const token = entity.lock(stored);
        const delivery = sender.send(toWireMessage(stored, { lockedUntil: stored.lock!.until }), reorderGuidBytes(uuidToBytes(token)));
        consumer.queued.push(delivery);
        deliveries.set(delivery, { entity, token });
      }
      // A draining receiver gets its unused credit back as consumed, or its receive never ends;
      // the answer waits until rhea has transferred what was queued, or it would spend their credit.
      if (isDraining(sender)) {
        unusedCredit(consumer);
        if (consumer.queued.length === 0) {
          sender.set_drained(true);
          // Nothing more goes out until the receiver's next flow: a transfer after the answer
          // would reach a receive that already ended, and its lock would run out unseen.
          consumer.drainAnswered = true;
        } else setTimeout(() => pump(entity), 1);
      }
    }
  };

  const container = rhea.create_container({ id: 'servicebus-test-broker' });
  const connectionsOpen = new Set<Connection>();

  container.on('connection_open', (context: EventContext) => {
    connectionsOpen.add(context.connection);
    acknowledgeEveryRead(context.connection);
  });
  container.on('disconnected', (context: EventContext) => {
    connectionsOpen.delete(context.connection);
    for (const consumer of consumers) if (consumer.sender.connection === context.connection) consumers.delete(consumer);
  });

  container.on('sender_open', (context: EventContext) => {
    const sender = context.sender!;
    const address = remoteAddress(sender, 'source');
    sender.set_source({ address: address ?? '' });
    sender.set_target((sender as unknown as { remote: { attach: { target?: TerminusOptions } } }).remote.attach.target ?? { address: '' });
    if (isReplyLink(address)) return;
    const entity = resolve(address);
    if (entity === undefined) {
      sender.close({ condition: 'amqp:not-found', description: `The messaging entity '${entityPath(address)}' could not be found.` });
      return;
    }
    const receiveAndDelete = (sender as unknown as { snd_settle_mode?: number }).snd_settle_mode === 1;
    answerEveryDrain(sender);
    consumers.add({ sender, entity, receiveAndDelete, queued: [], drainAnswered: false });
  });
  container.on('sender_close', (context: EventContext) => {
    for (const consumer of consumers) if (consumer.sender === context.sender) consumers.delete(consumer);
  });
  container.on('sender_flow', (context: EventContext) => {
    for (const consumer of consumers) if (consumer.sender === context.sender) consumer.drainAnswered = false;
  });
  container.on('sendable', (context: EventContext) => {
    for (const consumer of consumers) if (consumer.sender === context.sender) pump(consumer.entity);
  });
  container.on('sender_draining', (context: EventContext) => {
    for (const consumer of consumers) if (consumer.sender === context.sender) pump(consumer.entity);
  });

  container.on('receiver_open', (context: EventContext) => {
    const receiver = context.receiver!;
    const address = remoteAddress(receiver, 'target');
    receiver.set_target({ address: address ?? '' });
    receiver.set_source((receiver as unknown as { remote: { attach: { source?: Source } } }).remote.attach.source ?? { address: '' });
    (receiver as unknown as { local: { attach: { max_message_size: number } } }).local.attach.max_message_size = maxMessageBytes;
    if (address === '$cbs' || address?.endsWith(MANAGEMENT_SUFFIX)) return;
    if (resolve(address) === undefined) {
      receiver.close({ condition: 'amqp:not-found', description: `The messaging entity '${entityPath(address)}' could not be found.` });
    }
  });

  container.on('message', (context: EventContext) => {
    const receiver = context.receiver!;
    const address = remoteAddress(receiver, 'target');
    const delivery = context.delivery!;
    if (address === '$cbs') {
      reply(context.connection, context.message!, { statusCode: 200, description: 'OK' });
      delivery.accept();
      return;
    }
    if (address?.endsWith(MANAGEMENT_SUFFIX)) {
      const entity = resolve(address.slice(0, -MANAGEMENT_SUFFIX.length));
      const response =
        entity === undefined
          ? {
              statusCode: 404,
              errorCondition: 'amqp:not-found',
              description: `The messaging entity '${entityPath(address.slice(0, -MANAGEMENT_SUFFIX.length))}' could not be found.`,
            }
          : handleManagementRequest(entity, context.message!, { pump, maxMessageBytes });
      reply(context.connection, context.message!, response);
      delivery.accept();
      return;
    }
    const entity = resolve(address);
    if (entity === undefined) {
      delivery.reject({ condition: 'amqp:not-found', description: `The messaging entity '${entityPath(address)}' could not be found.` });
      return;
    }
    const format = (context as unknown as { format?: number }).format;
    for (const message of messagesOfTransfer(format, context.message)) {
      const properties = (message.message_id === undefined ? { ...message, message_id: rhea.generate_uuid() } : message) as Message;
      entity.enqueue(properties, scheduledEnqueueTime(properties));
    }
    delivery.accept();
    pump(entity);
  });

  const settle = (context: EventContext): void => {
    const delivery = context.delivery!;
    const held = deliveries.get(delivery);
    if (held === undefined) return;
    deliveries.delete(delivery);
    const state = delivery.remote_state as
      | {
          constructor: { composite_type?: string };
          undeliverable_here?: boolean;
          message_annotations?: Record<string, unknown>;
          error?: { condition?: string; info?: Record<string, unknown> };
        }
      | undefined;
    const kind = state?.constructor.composite_type;
    let ok: boolean;
    if (kind === 'accepted') ok = held.entity.complete(held.token);
    else if (kind === 'rejected') {
      const { DeadLetterReason, DeadLetterErrorDescription, ...rest } = state?.error?.info ?? {};
      ok = held.entity.deadLetter(
        held.token,
        { reason: DeadLetterReason as string | undefined, description: DeadLetterErrorDescription as string | undefined },
        rest,
      );
    } else if (kind === 'modified' && state?.undeliverable_here === true) {
      ok = held.entity.defer(held.token, state?.message_annotations);
    } else ok = held.entity.abandon(held.token, state?.message_annotations);
    const outcome = ok
      ? outcomes.accepted().described()
      : outcomes
          .rejected({
            error: { condition: 'com.microsoft:message-lock-lost', description: `The lock supplied is invalid (${held.entity.name}).` },
          })
          .described();
    delivery.update(true, outcome);
    pump(held.entity);
  };
  for (const event of ['accepted', 'rejected', 'released', 'modified'] as const) container.on(event, settle);

  // Errors of one client connection must not stop the broker; rhea reports them here.
  container.on('error', () => undefined);

  const server: Server = container.listen({
    port: options.port ?? 0,
    host,
    treat_modified_as_released: false,
    autosettle: false,
    autoaccept: false,
  } as Parameters<typeof container.listen>[0]);
  // Small frames answer each other; Nagle's algorithm would hold each one back for an ACK.
  server.on('connection', (socket: Socket) => socket.setNoDelay(true));
  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('listening', resolveListen);
    server.once('error', rejectListen);
  });
  const port = (server.address() as AddressInfo).port;

  const ticker = setInterval(() => {
    const now = Date.now();
    for (const queue of queues.values()) {
      const dead = queue.deadLetterQueue!;
      if (queue.tick(now)) {
        pump(queue);
        pump(dead);
      }
    }
  }, TICK_MS);
  ticker.unref();

  return {
    host,
    port,
    connectionString: `Endpoint=sb://${host}:${port};SharedAccessKeyName=test;SharedAccessKey=test;UseDevelopmentEmulator=true`,
    createQueue: (name, settings) => {
      createQueue(name, settings);
    },
    hasQueue: (name) => queues.has(name),
    close: async () => {
      clearInterval(ticker);
      for (const connection of connectionsOpen) connection.close();
      await new Promise<void>((resolveClose) => server.close(() => resolveClose()));
      for (const connection of connectionsOpen) (connection as unknown as { socket?: { destroy(): void } }).socket?.destroy();
    },
  };

  /** Sends a management or CBS response on the link the request named in `reply_to`. */
  function reply(connection: Connection, request: Message, response: ManagementResponse): void {
    const replyTo = String(request.reply_to ?? '');
    const link = findReplyLink(connection, replyTo);
    if (link === undefined) return;
    const applicationProperties: Record<string, unknown> = {
      statusCode: rhea.types.wrap_int(response.statusCode),
      statusDescription: response.description ?? '',
    };
    if (response.errorCondition !== undefined) applicationProperties.errorCondition = response.errorCondition;
    link.send({
      correlation_id: request.message_id,
      application_properties: applicationProperties,
      body: response.body ?? {},
    } as Message);
  }
}

/** The broker's sending link a request/response client receives on: named (or addressed) by `reply_to`. */
function findReplyLink(connection: Connection, replyTo: string): Sender | undefined {
  const links = (connection as unknown as { find_sender(filter: (link: Sender) => boolean): Sender | undefined }).find_sender(
    (link: Sender) =>
      link.name === replyTo ||
      (link as unknown as { remote: { attach?: { target?: { address?: string } } } }).remote.attach?.target?.address === replyTo,
  );
  return links;
}

/** The consumer's credit minus the deliveries queued in rhea but not transferred yet. */
function unusedCredit(consumer: Consumer): number {
  const outgoing = (consumer.sender.session as unknown as { outgoing: { next_pending_delivery: number } }).outgoing;
  consumer.queued = consumer.queued.filter((delivery) => (delivery as unknown as { id: number }).id >= outgoing.next_pending_delivery);
  return (consumer.sender as unknown as { credit: number }).credit - consumer.queued.length;
}

/** An empty AMQP frame (a heartbeat): size 8, data offset 2, type AMQP, channel 0. */
const EMPTY_FRAME = Buffer.from([0, 0, 0, 8, 2, 0, 0, 0]);

/**
 * Answers every read with an empty frame once the connection is open. A client that leaves
 * Nagle's algorithm on (the SDK does until it attaches a receiver) holds each small frame until
 * the previous one is acknowledged, and a broker with nothing to say back acknowledges late
 * (delayed ACK, about 40 ms on Linux): every link set-up then costs tens of milliseconds more.
 */
function acknowledgeEveryRead(connection: Connection): void {
  const socket = (connection as unknown as { socket?: Socket }).socket;
  socket?.on('data', () => {
    if (!socket.destroyed && socket.writable) socket.write(EMPTY_FRAME);
  });
}

/** Whether the receiver asked this link to drain its credit. */
function isDraining(sender: Sender): boolean {
  return (sender as unknown as { _draining?: boolean })._draining === true;
}

/**
 * rhea answers a drain only while credit is left; when a transfer crossed the drain request and
 * used the last credit, no answer goes out and the receiver waits until it gives the link up.
 * Service Bus answers every drain, so the broker does too: the answer then consumes no credit.
 */
function answerEveryDrain(sender: Sender): void {
  const link = sender as unknown as {
    _draining: boolean;
    _drained: boolean;
    credit: number;
    delivery_count: number;
    _get_drain(): boolean;
  };
  link._get_drain = function getDrain(this: typeof link): boolean {
    if (!this._draining || !this._drained) return false;
    while (this.credit > 0) {
      this.delivery_count += 1;
      this.credit -= 1;
    }
    return true;
  };
}

/** The address the peer gave a link's source or target when attaching. */
function remoteAddress(link: Sender | Receiver, end: 'source' | 'target'): string | undefined {
  const attach = (link as unknown as { remote: { attach?: Record<string, { address?: string } | undefined> } }).remote.attach;
  return attach?.[end]?.address;
}

/** Reply links of request/response clients ($cbs, $management) carry no entity. */
function isReplyLink(address: string | undefined): boolean {
  return address === '$cbs' || (address?.endsWith(MANAGEMENT_SUFFIX) ?? false);
}

/** The entity path of an address: what follows `sb://host/` when present. */
function entityPath(address: string | undefined): string {
  if (address === undefined) return '';
  const match = /^[a-z]+:\/\/[^/]+\/(.*)$/i.exec(address);
  return match?.[1] ?? address;
}
