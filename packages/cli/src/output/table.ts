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

/** An epoch-ms time as ISO 8601 (UTC), or `-`. */
export function formatTime(at: number | undefined): string {
  return at === undefined ? '-' : new Date(at).toISOString();
}
