/** Alignment of a table column. */
export type Align = 'left' | 'right';

/** A column of {@link renderTable}. */
export interface Column {
  readonly header: string;
  /** Numbers read best right-aligned; default left. */
  readonly align?: Align;
  /** Longer cells are cut with `…`; default unlimited. */
  readonly maxWidth?: number;
}

const clip = (text: string, max: number | undefined) =>
  max === undefined || text.length <= max ? text : `${text.slice(0, Math.max(1, max - 1))}…`;

/**
 * Renders rows as an aligned plain-text table (columns separated by two spaces, no trailing
 * spaces), one line per row after the header. Cells are single-line: newlines become spaces.
 */
export function renderTable(columns: readonly Column[], rows: readonly (readonly string[])[]): string {
  const cells = rows.map((row) => columns.map((column, index) => clip((row[index] ?? '').replace(/\s*\n\s*/g, ' '), column.maxWidth)));
  const widths = columns.map((column, index) => Math.max(column.header.length, ...cells.map((row) => (row[index] ?? '').length)));
  const line = (row: readonly string[]) =>
    row
      .map((cell, index) => {
        const width = widths[index] ?? 0;
        return columns[index]?.align === 'right' ? cell.padStart(width) : cell.padEnd(width);
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((column) => column.header)), ...cells.map(line)].join('\n');
}

/** A duration for people: `850ms`, `12.3s`, `5m12s`, `2h03m`, `3d04h`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  if (ms < 1_000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(1)}s`;
  const s = Math.floor(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86_400) return `${Math.floor(s / 3_600)}h${String(Math.floor((s % 3_600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${String(Math.floor((s % 86_400) / 3_600)).padStart(2, '0')}h`;
}

/** An epoch-ms time as ISO 8601 (UTC), or `-`. */
export function formatTime(at: number | undefined): string {
  return at === undefined ? '-' : new Date(at).toISOString();
}
