import { LeaseLostError, type Reservation } from '@queuekit/core';

/**
 * The LeaseLostError of a settle that changed nothing: `present` tells a job another delivery now
 * holds from one that is gone (its lease ran out and the new holder settled it).
 */
export function leaseLostError(
  dialect: 'postgres' | 'sqlite',
  operation: string,
  reservation: Reservation,
  present: boolean,
): LeaseLostError {
  return new LeaseLostError(
    present
      ? `${dialect}: ${operation}: job ${reservation.id} is held by another delivery (its lease was lost)`
      : `${dialect}: ${operation}: job ${reservation.id} is gone (its lease was lost and the job settled)`,
  );
}
