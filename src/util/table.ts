/**
 * The width of each column of a text table: the longest of its title and its cells. A loop, not
 * `Math.max(...cells)`: spreading one argument per row overflows the call stack on a large registry
 * (~125k entries made `mam status` fail with "Maximum call stack size exceeded").
 */
export function columnWidths(header: readonly string[], rows: readonly (readonly string[])[]): number[] {
  const widths = header.map((title) => title.length);
  for (const row of rows) {
    for (let column = 0; column < widths.length; column++) widths[column] = Math.max(widths[column]!, row[column]?.length ?? 0);
  }
  return widths;
}
