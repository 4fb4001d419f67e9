import { QueueError, type QueueErrorOptions } from '@queuekit/core';

/** An HttpJob response whose status is a failure (4xx, 5xx); the start of its body is kept for the dead-letter record. */
export class HttpStatusError extends QueueError {
  /** The response status. */
  readonly status: number;
  /** The first bytes of the response body (up to 500 characters). */
  readonly bodyStart: string;

  constructor(message: string, status: number, bodyStart: string, options: QueueErrorOptions = {}) {
    super('HTTP_FAILED', message, options);
    this.status = status;
    this.bodyStart = bodyStart;
  }
}

/**
 * An HttpJob request to an address the job refuses (loopback, private, link-local, metadata …)
 * that the application did not allow, or to a host outside its allow-list.
 */
export class AddressRefusedError extends QueueError {
  /** The host name of the request. */
  readonly host: string;
  /** The refused address, when the refusal came from one (after DNS resolution). */
  readonly address: string | undefined;

  constructor(message: string, host: string, address: string | undefined, options: QueueErrorOptions = {}) {
    super('ADDRESS_REFUSED', message, options);
    this.host = host;
    this.address = address;
  }
}
