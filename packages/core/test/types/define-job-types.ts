// Compile-time checks of defineJob's payload and result types, run by `tsc` (the package's
// typecheck): each @ts-expect-error line must be an error, every other line must compile.
import { z } from 'zod';
import { defineJob, rateLimited, throttleExceptions, withoutOverlapping } from '../../src/index.js';

defineJob('plain', async (_p: { id: string; tags: string[] }) => ({ done: true }));
interface Declared {
  id: string;
  count?: number;
}
defineJob('declared-interface', async (_p: Declared) => undefined);
// @ts-expect-error a Date in a payload does not survive JSON
defineJob('date-payload', async (_p: { at: Date }) => 1);
// @ts-expect-error a Map as a result does not survive JSON
defineJob('map-result', async (_p: { id: string }) => new Map<string, number>());
// @ts-expect-error a Set nested in a result
defineJob('set-result', async () => ({ seen: new Set<string>() }));

const fromSchema = defineJob('from-schema', async (payload) => payload.email.length, {
  schema: z.object({ email: z.email() }),
});
fromSchema.create({ email: 'someone@example.com' });
// @ts-expect-error the payload type comes from the schema
fromSchema.create({ email: 3 });

// The README's middleware example: keys computed from the schema's payload type.
defineJob('sync-tenant', async (p) => p.tenantId.length, {
  schema: z.object({ tenantId: z.string() }),
  middleware: [
    throttleExceptions({ failures: 5, windowMs: 60_000, cooldownMs: 30_000 }),
    rateLimited('partner-api', { limit: 10, intervalMs: 1_000 }),
    withoutOverlapping((ctx) => `tenant:${ctx.payload.tenantId}`),
  ],
});
