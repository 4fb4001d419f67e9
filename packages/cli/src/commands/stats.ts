import { formatDuration, queueCountsJson } from '@queuekit/core';
import { EXIT_OK } from '../cli-error.js';
import type { CliContext } from '../context.js';
import { renderTable } from '../output/table.js';

/** `queue stats`: counts per queue of one connection. */
export async function runStats(
  ctx: CliContext,
  options: { connection?: string; queue?: readonly string[]; json?: boolean },
): Promise<number> {
  const connection = await ctx.connection(options.connection);
  const queues = await ctx.queuesFor(connection, options.queue);
  const driver = await ctx.open(connection);
  const stats = await Promise.all(queues.map((queue) => driver.stats(queue)));
  const now = Date.now();
  if (options.json === true) {
    ctx.out(
      JSON.stringify(
        {
          connection: connection.name,
          driver: driver.name,
          queues: stats.map((s) => ({ queue: s.queue, ...queueCountsJson(s, now) })),
        },
        null,
        2,
      ),
    );
    return EXIT_OK;
  }
  ctx.out(`${connection.name} (${driver.name})`);
  ctx.out(
    renderTable(
      [
        { header: 'QUEUE' },
        { header: 'READY', align: 'right' },
        { header: 'DELAYED', align: 'right' },
        { header: 'RESERVED', align: 'right' },
        { header: 'DEAD', align: 'right' },
        { header: 'OLDEST READY', align: 'right' },
        { header: 'COMPLETED', align: 'right' },
        { header: 'PAUSED' },
      ],
      stats.map((s) => [
        s.queue,
        String(s.ready),
        String(s.delayed),
        String(s.reserved),
        String(s.dead),
        s.oldestReadyAt === undefined ? '-' : formatDuration(Math.max(0, now - s.oldestReadyAt)),
        s.completed === undefined ? '-' : String(s.completed),
        s.paused === undefined ? '-' : s.paused ? 'yes' : 'no',
      ]),
    ),
  );
  return EXIT_OK;
}
