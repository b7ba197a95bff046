/**
 * Drawing the status table on a terminal (docs/lifecycle.md, 'status'): colour that honours NO_COLOR, widths that
 * skip escape sequences and count wide characters twice, and whole frames that redraw in place. Pure: the
 * terminal's size and whether it is one are passed in.
 */

/** Colour only on a terminal, and never with NO_COLOR set to anything (no-color.org) or `--no-color`. */
export function colorWanted(env: NodeJS.ProcessEnv, isTerminal: boolean, noColorFlag = false): boolean {
  return isTerminal && !noColorFlag && !env['NO_COLOR'];
}

const SGR = { reset: '\x1b[0m', bold: '\x1b[1m', red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', magenta: '\x1b[35m', dim: '\x1b[2m' } as const;
export type Style = Exclude<keyof typeof SGR, 'reset'>;

/** `text` in the given styles, reset after; unchanged when `on` is false. */
export function paint(text: string, styles: readonly Style[], on: boolean): string {
  return on && styles.length > 0 && text !== '' ? `${styles.map((style) => SGR[style]).join('')}${text}${SGR.reset}` : text;
}

/** CSI sequences (colours, cursor moves), OSC strings, and the two-byte escapes. */
const ESCAPE = /\x1b(?:\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[@-Z\\-_])/y;

/**
 * Columns a code point takes, as terminals (and tmux) count them: 0 for control characters, combining marks,
 * zero-width joiners and variation selectors; 2 for East Asian wide and fullwidth characters and emoji; else 1.
 * The ranges follow Unicode's East Asian Width table, compressed to the blocks that occur in practice.
 */
export function codePointWidth(code: number): number {
  if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return 0;
  if (code === 0x200b || code === 0x200c || code === 0x200d || (code >= 0xfe00 && code <= 0xfe0f) || (code >= 0xe0100 && code <= 0xe01ef)) return 0;
  if (COMBINING.test(String.fromCodePoint(code))) return 0;
  for (const [from, to] of WIDE) if (code >= from && code <= to) return 2;
  return 1;
}

const COMBINING = /^[\p{Mn}\p{Me}]$/u;
const WIDE: readonly (readonly [number, number])[] = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x23e9, 0x23ec],
  [0x23f0, 0x23f0],
  [0x23f3, 0x23f3],
  [0x25fd, 0x25fe],
  [0x2614, 0x2615],
  [0x2648, 0x2653],
  [0x267f, 0x267f],
  [0x2693, 0x2693],
  [0x26a1, 0x26a1],
  [0x26aa, 0x26ab],
  [0x26bd, 0x26be],
  [0x26c4, 0x26c5],
  [0x26ce, 0x26ce],
  [0x26d4, 0x26d4],
  [0x26ea, 0x26ea],
  [0x26f2, 0x26f5],
  [0x26fa, 0x26fd],
  [0x2705, 0x2705],
  [0x270a, 0x270b],
  [0x2728, 0x2728],
  [0x274c, 0x274c],
  [0x274e, 0x274e],
  [0x2753, 0x2755],
  [0x2757, 0x2757],
  [0x2795, 0x2797],
  [0x27b0, 0x27b0],
  [0x27bf, 0x27bf],
  [0x2b1b, 0x2b1c],
  [0x2b50, 0x2b50],
  [0x2b55, 0x2b55],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f004, 0x1f004],
  [0x1f0cf, 0x1f0cf],
  [0x1f18e, 0x1f18e],
  [0x1f191, 0x1f19a],
  [0x1f200, 0x1f251],
  [0x1f300, 0x1f64f],
  [0x1f680, 0x1f6ff],
  [0x1f7e0, 0x1f7eb],
  [0x1f90c, 0x1f9ff],
  [0x1fa70, 0x1faff],
  [0x20000, 0x3fffd],
];

/** Columns `text` takes on a terminal: escape sequences take none. */
export function visibleWidth(text: string): number {
  let width = 0;
  for (let index = 0; index < text.length; ) {
    ESCAPE.lastIndex = index;
    const escape = ESCAPE.exec(text);
    if (escape) {
      index += escape[0].length;
      continue;
    }
    const code = text.codePointAt(index)!;
    width += codePointWidth(code);
    index += code > 0xffff ? 2 : 1;
  }
  return width;
}

/**
 * `text` cut to at most `columns` columns. Escape sequences are kept (they take no room), a wide character that
 * would straddle the edge is left out, and a cut line that was coloured ends with a reset so the colour does not
 * run into what follows.
 */
export function cutToWidth(text: string, columns: number): string {
  let width = 0;
  let out = '';
  let styled = false;
  for (let index = 0; index < text.length; ) {
    ESCAPE.lastIndex = index;
    const escape = ESCAPE.exec(text);
    if (escape) {
      out += escape[0];
      styled = escape[0].endsWith('m') ? escape[0] !== SGR.reset : styled;
      index += escape[0].length;
      continue;
    }
    const code = text.codePointAt(index)!;
    const step = code > 0xffff ? 2 : 1;
    const cell = codePointWidth(code);
    if (width + cell > columns) return styled ? `${out}${SGR.reset}` : out;
    width += cell;
    out += text.slice(index, index + step);
    index += step;
  }
  return out;
}

/** The sequences around a redrawing view: the alternate screen with the cursor hidden, and back. */
export const ENTER_SCREEN = '\x1b[?1049h\x1b[?25l';
export const LEAVE_SCREEN = '\x1b[?25h\x1b[?1049l';

export interface ScreenSize {
  readonly columns: number;
  readonly rows: number;
}

/**
 * One whole frame for a terminal of `size`: home, then every line cut to the width and cleared to its end, then
 * everything below cleared — so a shorter line or a shorter table leaves nothing stale, in one write.
 * `footer` stays on the last line; when `lines` do not fit above it, the last one that fits says how many did not.
 *
 * A line exactly as wide as the terminal gets no clear-to-end: the cursor then sits on its last column (the
 * wrap is pending), and erasing from there would erase that column. Nothing is written after the last row, so
 * the screen never scrolls.
 */
export function frame(lines: readonly string[], footer: string, size: ScreenSize): string {
  const columns = Math.max(1, size.columns);
  const rows = Math.max(1, size.rows);
  const room = rows - 1;
  let body = [...lines];
  if (body.length > room) {
    const hidden = body.length - (room - 1);
    body = room >= 1 ? [...body.slice(0, room - 1), `… ${hidden} more line${hidden === 1 ? '' : 's'}: a taller terminal shows them`] : [];
  }
  const shown = [...body, footer].map((line) => {
    const cut = cutToWidth(line, columns);
    return visibleWidth(cut) < columns ? `${cut}\x1b[K` : cut;
  });
  return `\x1b[H${shown.join('\r\n')}${shown.length < rows ? '\r\n\x1b[J' : ''}`;
}
