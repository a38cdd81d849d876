/**
 * Tables that fit the terminal: column widths for cli-table3 so that the whole table is at
 * most `width` columns, narrowing the widest columns first (their cells wrap at words).
 * Off a terminal (width 0) tables keep their natural width.
 */
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const cellWidth = (s: string) => Math.max(0, ...s.split('\n').map((l) => [...l.replace(ANSI, '')].length));

/** cli-table3 colWidths (padding included), or undefined when the table fits as it is. */
export function fitColumns(head: string[], rows: string[][], width: number, min = 6): number[] | undefined {
  if (width <= 0) return undefined;
  const widths = head.map((h, i) => Math.max(cellWidth(h), ...rows.map((r) => cellWidth(r[i] ?? ''))) + 2);
  const total = () => widths.reduce((a, b) => a + b, 0) + widths.length + 1;
  if (total() <= width) return undefined;
  while (total() > width) {
    const widest = widths.indexOf(Math.max(...widths));
    if (widths[widest]! <= min + 2) break;
    widths[widest]!--;
  }
  return widths;
}
