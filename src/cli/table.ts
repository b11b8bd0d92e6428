/**
 * A bordered text table in the style calicoctl printed (prettytable): cells left-aligned, padded to the widest
 * cell of their column. Cells are single-line; control characters are shown escaped so a stored value can
 * never break the layout.
 */
export type TableCell = string | number | undefined;

const printable = (cell: TableCell): string =>
  cell === undefined
    ? ''
    : String(cell).replace(/[\u0000-\u001f\u007f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);

export function formatTable(headers: readonly string[], rows: readonly (readonly TableCell[])[]): string[] {
  const cells = rows.map((row) => headers.map((_, i) => printable(row[i])));
  const widths = headers.map((header, i) => Math.max(header.length, ...cells.map((row) => row[i]!.length)));
  const border = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (values: readonly string[]): string => `| ${values.map((v, i) => v.padEnd(widths[i]!)).join(' | ')} |`;
  return [border, line(headers), border, ...cells.map(line), ...(cells.length > 0 ? [border] : [])];
}
