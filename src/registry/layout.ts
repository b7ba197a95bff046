import { isMap, isSeq, parseDocument, type Document, type YAMLMap } from 'yaml';

/**
 * A large registry cut into pieces of text: what comes before the `tmux_sessions:` list, one piece per list item,
 * and what follows it. The yaml package's Document costs about 0.4 ms and tens of kilobytes of heap per entry
 * (a 50 MB registry took minutes and gigabytes), so above a size the registry is read item by item and written by
 * splicing: only the items a change touches are parsed as Documents and rendered again, every other byte is kept
 * as it was, comments included.
 *
 * Cutting by lines is sound only for the usual shape, so anything else gives `undefined` and the caller parses the
 * whole file as before: the list must be the block value of a top-level `tmux_sessions:` line, each item starting
 * with `- ` at one indentation. No line of an item's content can start with `- ` at that indentation (block scalars,
 * flow collections and quoted scalars continue only on lines indented deeper), so each such line begins an item.
 */
export interface Layout {
  /** Up to and including the `tmux_sessions:` line. */
  readonly head: string;
  items: LayoutItem[];
  /** The rest of the file after the list (comment lines right after the last item included). */
  readonly tail: string;
  /** Columns before each item's `-`. */
  readonly indent: number;
}

export interface LayoutItem {
  /** The item's text: leading comment or blank lines, its `- ` line and its continuation lines, each ending in \n. */
  text: string;
  /** 1-based line of its `-` in the file it was read from. */
  readonly line: number;
}

const KEY_LINE = /^tmux_sessions[ \t]*:[ \t]*(?:#.*)?$/;
const ANY_KEY_LINE = /^tmux_sessions[ \t]*:/;
const BLANK_OR_COMMENT = /^[ \t]*(?:#.*)?$/;

export function splitLayout(text: string): Layout | undefined {
  // Offsets into `text` rather than split lines: every item's text is then one slice of the file, not a copy.
  const starts: number[] = [0];
  for (let at = text.indexOf('\n'); at >= 0 && at + 1 < text.length; at = text.indexOf('\n', at + 1)) starts.push(at + 1);
  const lineAt = (index: number): string => {
    const end = index + 1 < starts.length ? starts[index + 1]! - 1 : text.length;
    return text.slice(starts[index]!, text[end - 1] === '\r' ? end - 1 : end);
  };
  let keyIndex = -1;
  for (let index = 0; index < starts.length; index += 1) {
    const char = text[starts[index]!];
    // Document markers and directives: several documents or odd headers, for the full parser to judge.
    if (char === '-' && (text.startsWith('---', starts[index]) || false)) return undefined;
    if ((char === '.' && text.startsWith('...', starts[index])) || char === '%') return undefined;
    if (char === 't' && ANY_KEY_LINE.test(lineAt(index))) {
      if (keyIndex >= 0 || !KEY_LINE.test(lineAt(index))) return undefined;
      keyIndex = index;
    }
  }
  if (keyIndex < 0) return undefined;
  const offset = (index: number): number => (index < starts.length ? starts[index]! : text.length);
  const items: LayoutItem[] = [];
  let indent = -1;
  let pendingFrom = -1;
  let current: { from: number; line: number } | undefined;
  let tailFrom = starts.length;
  const close = (to: number): void => {
    if (current) items.push({ text: text.slice(offset(current.from), offset(to)), line: current.line });
    current = undefined;
  };
  for (let index = keyIndex + 1; index < starts.length; index += 1) {
    const line = lineAt(index);
    if (BLANK_OR_COMMENT.test(line)) {
      if (pendingFrom < 0) pendingFrom = index;
      continue;
    }
    const column = line.length - line.trimStart().length;
    if (line.slice(0, column).includes('\t')) return undefined;
    const dash = line[column] === '-' && (line[column + 1] === ' ' || line.length === column + 1);
    if (indent < 0) {
      if (!dash) return undefined;
      indent = column;
    }
    if (column === indent && dash) {
      // Comment lines before an item are its own, as the yaml package sees them.
      const from = pendingFrom >= 0 ? pendingFrom : index;
      close(from);
      current = { from, line: index + 1 };
    } else if (column <= indent || !current) {
      tailFrom = pendingFrom >= 0 ? pendingFrom : index;
      break;
    }
    pendingFrom = -1;
  }
  // Comment lines after the last item, with no item after them, stay where they are: in the tail.
  if (tailFrom === starts.length && pendingFrom >= 0) tailFrom = pendingFrom;
  close(tailFrom);
  if (items.length === 0) return undefined;
  return { head: text.slice(0, offset(keyIndex + 1)), items, tail: text.slice(offset(tailFrom)), indent };
}

export function joinLayout(layout: Layout): string {
  let text = layout.head;
  for (const item of layout.items) text += item.text;
  return text + layout.tail;
}

export type ItemValue = { readonly ok: true; readonly value: unknown } | { readonly ok: false };

/**
 * The plain value of one item. One-line flow maps of plain scalars (`- {name: s1, agent: claude, …}`, the compact
 * style scripts write) are read by a small parser with the YAML 1.2 core schema's rules; anything it does not accept
 * is handed to the yaml package. Not ok: the item does not parse on its own (the caller then parses the whole file,
 * which reports the error with its position).
 */
export function itemValue(item: LayoutItem, indent: number): ItemValue {
  const fast = flowLineValue(item.text, indent);
  if (fast !== undefined) return { ok: true, value: fast };
  const document = parseItem(item.text);
  if (!document) return { ok: false };
  const seq = document.contents;
  if (!isSeq(seq) || seq.items.length !== 1) return { ok: false };
  const node = seq.items[0];
  return { ok: true, value: node === null || node === undefined ? null : (node as { toJSON(): unknown }).toJSON() };
}

/** An item as its own yaml Document (a one-item list), or undefined when it does not parse alone. */
export function parseItem(text: string): Document | undefined {
  const document = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  return document.errors.length > 0 || document.warnings.length > 0 ? undefined : document;
}

/** The map of an item's Document, to edit in place with the same helpers as the whole file's. */
export function itemMap(document: Document): YAMLMap | undefined {
  const seq = document.contents;
  const node = isSeq(seq) && seq.items.length === 1 ? seq.items[0] : undefined;
  return isMap(node) ? node : undefined;
}

/** An item's Document rendered back at the list's indentation. */
export function renderItem(document: Document, indent: number): string {
  const text = document.toString({ lineWidth: 0 });
  if (indent === 0) return text;
  const pad = ' '.repeat(indent);
  return text
    .split('\n')
    .map((line) => (line === '' ? line : pad + line))
    .join('\n');
}

// -------------------------------------------------------------------------------------------------
// One-line flow maps

const FLOW_LINE_START = /^( *)- \{/;
const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Characters that make a scalar anything but plain and simple: quotes, comments, anchors, tags, nesting. */
const NOT_SIMPLE = /["'#&*!|>%@`{}[\]]|: |:$/;

function flowLineValue(text: string, indent: number): Record<string, unknown> | undefined {
  // Only a single line (no leading comment lines, no continuation).
  const end = text.indexOf('\n');
  if (end >= 0 && end !== text.length - 1) return undefined;
  const line = end >= 0 ? text.slice(0, end) : text;
  const start = FLOW_LINE_START.exec(line);
  if (!start || start[1]!.length !== indent) return undefined;
  const parser = new FlowParser(line.trimEnd(), indent + 2);
  const value = parser.map();
  return value !== undefined && parser.atEnd() ? value : undefined;
}

class FlowParser {
  constructor(
    private readonly text: string,
    private pos: number,
  ) {}

  atEnd(): boolean {
    return this.pos === this.text.length;
  }

  map(): Record<string, unknown> | undefined {
    if (this.text[this.pos] !== '{') return undefined;
    this.pos += 1;
    const result: Record<string, unknown> = {};
    this.spaces();
    if (this.text[this.pos] === '}') {
      this.pos += 1;
      return result;
    }
    for (;;) {
      const colon = this.text.indexOf(': ', this.pos);
      if (colon < 0) return undefined;
      const key = this.text.slice(this.pos, colon);
      if (!KEY.test(key) || Object.hasOwn(result, key)) return undefined;
      this.pos = colon + 2;
      this.spaces();
      const value = this.value('}');
      if (value === undefined) return undefined;
      result[key] = value.value;
      if (!this.next('}')) return this.closed ? result : undefined;
    }
  }

  private closed = false;

  /** After a value: `, ` continues (true), the closing bracket ends (false, `closed`), anything else fails. */
  private next(close: string): boolean {
    this.spaces();
    this.closed = false;
    if (this.text[this.pos] === ',') {
      this.pos += 1;
      this.spaces();
      // A trailing comma before the bracket is legal YAML, but rare: leave it to the yaml package.
      return this.text[this.pos] !== close && this.text[this.pos] !== undefined;
    }
    if (this.text[this.pos] === close) {
      this.pos += 1;
      this.closed = true;
    }
    return false;
  }

  private seq(): unknown[] | undefined {
    this.pos += 1;
    const result: unknown[] = [];
    this.spaces();
    if (this.text[this.pos] === ']') {
      this.pos += 1;
      return result;
    }
    for (;;) {
      const value = this.value(']');
      if (value === undefined) return undefined;
      result.push(value.value);
      if (!this.next(']')) return this.closed ? result : undefined;
    }
  }

  private value(close: string): { value: unknown } | undefined {
    const char = this.text[this.pos];
    if (char === '{') {
      const map = this.map();
      return map === undefined ? undefined : { value: map };
    }
    if (char === '[') {
      const seq = this.seq();
      return seq === undefined ? undefined : { value: seq };
    }
    let end = this.pos;
    while (end < this.text.length && this.text[end] !== ',' && this.text[end] !== close) end += 1;
    const raw = this.text.slice(this.pos, end).trimEnd();
    if (raw === '' || NOT_SIMPLE.test(raw) || raw.startsWith('- ') || raw.startsWith('? ') || raw === '-' || raw === '?') return undefined;
    this.pos = end;
    return resolvePlain(raw);
  }

  private spaces(): void {
    while (this.text[this.pos] === ' ') this.pos += 1;
  }
}

/** A plain scalar as the yaml package's YAML 1.2 core schema reads it; undefined for the rare forms left to it. */
function resolvePlain(raw: string): { value: unknown } | undefined {
  // Most scalars are names and paths: a first character no null, bool or number starts with settles it at once.
  if (!/^[-+.0-9~nNtTfF]/.test(raw)) return { value: raw };
  if (/^(?:~|[Nn]ull|NULL)$/.test(raw)) return { value: null };
  if (/^(?:[Tt]rue|TRUE)$/.test(raw)) return { value: true };
  if (/^(?:[Ff]alse|FALSE)$/.test(raw)) return { value: false };
  if (/^[-+]?[0-9]+$/.test(raw)) return { value: Number(raw) };
  if (/^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/.test(raw) || /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/.test(raw)) return { value: Number(raw) };
  // Octal, hexadecimal, infinities and NaN: the yaml package decides.
  if (/^0o[0-7]+$|^0x[0-9a-fA-F]+$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$/.test(raw)) return undefined;
  return { value: raw };
}
