import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import Long from 'long';

/** Messages asked for per peek round trip. */
const PEEK_PAGE = 250;

/**
 * Every message of an entity (active, locked and scheduled), in sequence order, up to `limit`: the
 * peek walks the entity by sequence number (never with the receiver's own cursor, which would
 * continue where an earlier peek stopped).
 */
export async function peekAll(receiver: ServiceBusReceiver, limit: number): Promise<ServiceBusReceivedMessage[]> {
  const found: ServiceBusReceivedMessage[] = [];
  let from = Long.ZERO;
  while (found.length < limit) {
    const page = await receiver.peekMessages(Math.min(PEEK_PAGE, limit - found.length), { fromSequenceNumber: from });
    if (page.length === 0) break;
    found.push(...page);
    const last = page[page.length - 1]?.sequenceNumber;
    if (last === undefined) break;
    from = Long.fromValue(last).add(1);
  }
  return found;
}

/** Whether the message with `sequenceNumber` is still in the entity (in any state). */
export async function stillThere(receiver: ServiceBusReceiver, sequenceNumber: number): Promise<boolean> {
  const [first] = await receiver.peekMessages(1, { fromSequenceNumber: Long.fromNumber(sequenceNumber) });
  return first?.sequenceNumber !== undefined && Long.fromValue(first.sequenceNumber).equals(Long.fromNumber(sequenceNumber));
}

/** The sequence number of a message as a number (Service Bus numbers fit in 2^53 for a long while). */
export function sequenceOf(message: ServiceBusReceivedMessage): number {
  return message.sequenceNumber === undefined ? -1 : Long.fromValue(message.sequenceNumber).toNumber();
}
