import { randomBytes } from 'node:crypto';
import { ServiceBusClient, type ServiceBusReceivedMessage } from '@azure/service-bus';
import Long from 'long';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, type TestBroker } from '../src/index.js';

const LOCK_MS = 1_500;

/** A queue name no other test uses. */
const queueName = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('servicebus test broker, driven by @azure/service-bus', () => {
  let broker: TestBroker;
  let client: ServiceBusClient;

  beforeAll(async () => {
    broker = await startTestBroker({ lockDurationMs: LOCK_MS, maxDeliveryCount: 3 });
    client = new ServiceBusClient(broker.connectionString);
  });
  afterAll(async () => {
    await client.close();
    await broker.close();
  });

  const peekLock = (queue: string, options: { subQueueType?: 'deadLetter' } = {}) =>
    client.createReceiver(queue, { maxAutoLockRenewalDurationInMs: 0, ...options });

  it('listens on a loopback port and hands out a development-emulator connection string', () => {
    expect(broker.port).toBeGreaterThan(0);
    expect(broker.connectionString).toBe(
      `Endpoint=sb://127.0.0.1:${broker.port};SharedAccessKeyName=test;SharedAccessKey=test;UseDevelopmentEmulator=true`,
    );
  });

  it('delivers single and batched sends in order, with sequence numbers, enqueued times and locks', async () => {
    const queue = queueName('order');
    const sender = client.createSender(queue);
    await sender.sendMessages({ body: 'one', applicationProperties: { k: 1 } });
    const batch = await sender.createMessageBatch();
    expect(batch.tryAddMessage({ body: 'two' })).toBe(true);
    expect(batch.tryAddMessage({ body: { three: 3 } })).toBe(true);
    await sender.sendMessages(batch);
    const receiver = peekLock(queue);
    const messages = await receiver.receiveMessages(3, { maxWaitTimeInMs: 2_000 });
    expect(messages.map((m) => m.body)).toEqual(['one', 'two', { three: 3 }]);
    expect(messages[0]?.applicationProperties).toEqual({ k: 1 });
    const sequence = messages.map((m) => Long.fromValue(m.sequenceNumber!).toNumber());
    expect(sequence).toEqual([...sequence].sort((a, b) => a - b));
    for (const message of messages) {
      expect(message.deliveryCount).toBe(0);
      expect(message.lockToken).toMatch(/^[0-9a-f-]{36}$/);
      expect(message.lockedUntilUtc!.getTime()).toBeGreaterThan(Date.now());
      expect(message.enqueuedTimeUtc!.getTime()).toBeLessThanOrEqual(Date.now());
      await receiver.completeMessage(message);
    }
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 0 })).toEqual([]);
  });

  it('an empty receive ends after its wait (the drain is answered)', async () => {
    const receiver = peekLock(queueName('empty'));
    const started = Date.now();
    expect(await receiver.receiveMessages(5, { maxWaitTimeInMs: 300 })).toEqual([]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('abandon puts a message back in its place with its delivery count raised and properties modified', async () => {
    const queue = queueName('abandon');
    await client.createSender(queue).sendMessages([{ body: 'a' }, { body: 'b' }]);
    const receiver = peekLock(queue);
    const [a] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    await receiver.abandonMessage(a!, { note: 'tried' });
    const again = await receiver.receiveMessages(2, { maxWaitTimeInMs: 2_000 });
    expect(again.map((m) => [m.body, m.deliveryCount, m.applicationProperties?.note])).toEqual([
      ['a', 1, 'tried'],
      ['b', 0, undefined],
    ]);
  });

  it('renews a lock, and a lock that runs out raises MessageLockLost and redelivers the message', async () => {
    const queue = queueName('lock');
    await client.createSender(queue).sendMessages({ body: 'x' });
    const receiver = peekLock(queue);
    const [first] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    const before = first!.lockedUntilUtc!.getTime();
    await sleep(50);
    expect((await receiver.renewMessageLock(first!)).getTime()).toBeGreaterThan(before);
    await sleep(LOCK_MS + 300);
    await expect(receiver.completeMessage(first!)).rejects.toMatchObject({ code: 'MessageLockLost' });
    const [second] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(second?.deliveryCount).toBe(1);
    await expect(receiver.renewMessageLock(first!)).rejects.toMatchObject({ code: 'MessageLockLost' });
    await receiver.completeMessage(second!);
  });

  it('dead-letters with a reason and description, and past the max delivery count', async () => {
    const queue = queueName('dead');
    await client.createSender(queue).sendMessages([{ body: 'bad' }, { body: 'tired' }]);
    const receiver = peekLock(queue);
    const [bad] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    await receiver.deadLetterMessage(bad!, { deadLetterReason: 'why', deadLetterErrorDescription: 'because', extra: 7 });
    for (let i = 0; i < 3; i += 1) {
      const [tired] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
      expect(tired?.body).toBe('tired');
      await receiver.abandonMessage(tired!);
    }
    const dead = await peekLock(queue, { subQueueType: 'deadLetter' }).peekMessages(10, { fromSequenceNumber: Long.ZERO });
    expect(dead.map((m) => [m.body, m.deadLetterReason, m.deadLetterErrorDescription])).toEqual([
      ['bad', 'why', 'because'],
      ['tired', 'MaxDeliveryCountExceeded', 'Message could not be consumed after 3 delivery attempts.'],
    ]);
    expect(dead[0]?.applicationProperties?.extra).toBe(7);
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 0 })).toEqual([]);
  });

  it('schedules messages (peeked as scheduled) and cancels them by sequence number', async () => {
    const queue = queueName('schedule');
    const sender = client.createSender(queue);
    const [keep] = await sender.scheduleMessages([{ body: 'soon' }], new Date(Date.now() + 300));
    const [cancel] = await sender.scheduleMessages([{ body: 'never' }], new Date(Date.now() + 300));
    const receiver = peekLock(queue);
    const peeked = await receiver.peekMessages(10, { fromSequenceNumber: Long.ZERO });
    expect(peeked.map((m) => [m.body, m.state])).toEqual([
      ['soon', 'scheduled'],
      ['never', 'scheduled'],
    ]);
    expect(Long.fromValue(peeked[0]!.sequenceNumber!).equals(keep!)).toBe(true);
    await sender.cancelScheduledMessages([cancel!]);
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 0 })).toEqual([]);
    const due = await receiver.receiveMessages(2, { maxWaitTimeInMs: 3_000 });
    expect(due.map((m) => m.body)).toEqual(['soon']);
  });

  it('settles by lock token through $management (another receiver of the queue)', async () => {
    const queue = queueName('token');
    await client.createSender(queue).sendMessages({ body: 'by token' });
    const [message] = await peekLock(queue).receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    const other = peekLock(queue);
    const tokenOnly = { lockToken: message!.lockToken, delivery: {}, body: undefined } as unknown as ServiceBusReceivedMessage;
    await other.completeMessage(tokenOnly);
    expect(await other.peekMessages(5, { fromSequenceNumber: Long.ZERO })).toEqual([]);
    await expect(other.completeMessage(tokenOnly)).rejects.toMatchObject({ code: 'MessageLockLost' });
  });

  it('defers a message: only a receive by sequence number hands it out, and it stays deferred until settled', async () => {
    const queue = queueName('defer');
    broker.createQueue(queue, { maxDeliveryCount: 10 });
    await client.createSender(queue).sendMessages([{ body: 'later' }, { body: 'now' }]);
    const receiver = peekLock(queue);
    const [later] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    await receiver.deferMessage(later!, { mark: 'm1' });
    const rest = await receiver.receiveMessages(5, { maxWaitTimeInMs: 300 });
    expect(rest.map((m) => m.body)).toEqual(['now']);
    await receiver.completeMessage(rest[0]!);
    const [peeked] = await receiver.peekMessages(5, { fromSequenceNumber: Long.ZERO });
    expect([peeked?.body, peeked?.state, peeked?.applicationProperties?.mark]).toEqual(['later', 'deferred', 'm1']);

    const [deferred] = await receiver.receiveDeferredMessages(later!.sequenceNumber!);
    expect([deferred?.body, deferred?.state, deferred?.deliveryCount, deferred?.applicationProperties?.mark]).toEqual([
      'later',
      'deferred',
      1,
      'm1',
    ]);
    expect(deferred!.lockToken).toMatch(/^[0-9a-f-]{36}$/);
    // Locked: a second receive by sequence number is refused.
    await expect(receiver.receiveDeferredMessages(later!.sequenceNumber!)).rejects.toMatchObject({ code: 'MessageNotFound' });
    expect((await receiver.renewMessageLock(deferred!)).getTime()).toBeGreaterThan(Date.now());
    // Abandoned (through $management, by lock token), it is deferred again, its count raised.
    await receiver.abandonMessage(deferred!, { mark: 'm2' });
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).toEqual([]);
    const [again] = await receiver.receiveDeferredMessages(later!.sequenceNumber!);
    expect([again?.deliveryCount, again?.applicationProperties?.mark]).toEqual([2, 'm2']);
    // Deferred again through $management, then left to its lock: still deferred.
    await receiver.deferMessage(again!, { mark: 'm3' });
    const [third] = await receiver.receiveDeferredMessages(later!.sequenceNumber!);
    expect([third?.deliveryCount, third?.applicationProperties?.mark]).toEqual([3, 'm3']);
    await sleep(LOCK_MS + 300);
    await expect(receiver.completeMessage(third!)).rejects.toMatchObject({ code: 'MessageLockLost' });
    expect(await receiver.receiveMessages(1, { maxWaitTimeInMs: 300 })).toEqual([]);
    const [fourth] = await receiver.receiveDeferredMessages(later!.sequenceNumber!);
    expect(fourth?.deliveryCount).toBe(4);
    await receiver.completeMessage(fourth!);
    expect(await receiver.peekMessages(5, { fromSequenceNumber: Long.ZERO })).toEqual([]);
    await expect(receiver.receiveDeferredMessages(later!.sequenceNumber!)).rejects.toMatchObject({ code: 'MessageNotFound' });
  });

  it('a receive by sequence number refuses a message that is not deferred', async () => {
    const queue = queueName('not-deferred');
    await client.createSender(queue).sendMessages({ body: 'active' });
    const receiver = peekLock(queue);
    const [peeked] = await receiver.peekMessages(1, { fromSequenceNumber: Long.ZERO });
    await expect(receiver.receiveDeferredMessages(peeked!.sequenceNumber!)).rejects.toMatchObject({ code: 'MessageNotFound' });
    const [active] = await receiver.receiveMessages(1, { maxWaitTimeInMs: 2_000 });
    expect(active?.deliveryCount).toBe(0);
    await receiver.completeMessage(active!);
  });

  it('receive-and-delete takes messages without locks', async () => {
    const queue = queueName('rad');
    await client.createSender(queue).sendMessages([{ body: 1 }, { body: 2 }]);
    const receiver = client.createReceiver(queue, { receiveMode: 'receiveAndDelete' });
    const got = await receiver.receiveMessages(5, { maxWaitTimeInMs: 500 });
    expect(got.map((m) => m.body)).toEqual([1, 2]);
    expect(got[0]?.lockToken).toBeUndefined();
    expect(await peekLock(queue).peekMessages(5, { fromSequenceNumber: Long.ZERO })).toEqual([]);
  });

  it('with auto-creation off, an unknown queue is not found and a configured one works', async () => {
    const strict = await startTestBroker({ autoCreateQueues: false, queues: { known: { lockDurationMs: 5_000 } } });
    const strictClient = new ServiceBusClient(strict.connectionString);
    try {
      await expect(strictClient.createSender('unknown').sendMessages({ body: 1 })).rejects.toMatchObject({
        code: 'MessagingEntityNotFound',
      });
      await strictClient.createSender('known').sendMessages({ body: 1 });
      const [message] = await strictClient.createReceiver('known').receiveMessages(1, { maxWaitTimeInMs: 2_000 });
      const lockMs = message!.lockedUntilUtc!.getTime() - Date.now();
      expect(lockMs).toBeGreaterThan(3_000);
      expect(lockMs).toBeLessThanOrEqual(5_000);
      expect(strict.hasQueue('unknown')).toBe(false);
    } finally {
      await strictClient.close();
      await strict.close();
    }
  });
});
