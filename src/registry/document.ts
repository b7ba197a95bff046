import { Document, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, YAMLMap, YAMLSeq, type Node as YamlNode } from 'yaml';
import { RegistryError } from '../util/errors.js';
import { itemMap, itemValue, joinLayout, parseItem, renderItem, splitLayout, type Layout, type LayoutItem } from './layout.js';
import { parseEntry, type RegistryEntry } from './schema.js';

/**
 * The registry as the user wrote it (a yaml Document, so comments, key order and unknown fields survive
 * a rewrite) plus the entries that passed the schema. Entries that fail it are reported, never touched.
 */
export interface ParsedRegistry {
  readonly file: string;
  /** The whole file as one Document. A large registry builds it only when asked (it costs what `sessions` saves). */
  readonly document: Document;
  readonly entries: readonly RegistryEntry[];
  readonly invalid: readonly InvalidEntry[];
  /** Every name the file mentions, valid entry or not: a name already taken is never auto-registered. */
  readonly names: ReadonlySet<string>;
  /** Edits of session entries whose cost follows what they change, not the file's size; written by renderRegistry. */
  readonly sessions: SessionEdits;
}

export interface InvalidEntry {
  readonly index: number;
  readonly name: string | undefined;
  readonly line: number | undefined;
  readonly reason: string;
}

export const SESSIONS_KEY = 'tmux_sessions';

/**
 * Registries bigger than this are read item by item (src/registry/layout.ts) instead of as one yaml Document,
 * which costs tens of kilobytes of heap per entry; a smaller one is always read whole, as it was before.
 */
export const LAYOUT_ABOVE_BYTES = 512 * 1024;

export interface ParseOptions {
  /** Size from which the item-by-item reading is tried (tests lower it). */
  readonly layoutAboveBytes?: number;
}

export function parseRegistry(file: string, text: string, options: ParseOptions = {}): ParsedRegistry {
  if (text.length > (options.layoutAboveBytes ?? LAYOUT_ABOVE_BYTES)) {
    const layout = splitLayout(text);
    const parsed = layout && parseLayout(file, layout);
    if (parsed) return parsed;
  }
  return parseWhole(file, text);
}

function parseWhole(file: string, text: string): ParsedRegistry {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineOf = (offset: number | undefined): number | undefined =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;

  const [firstError] = document.errors;
  if (firstError) {
    const [start] = firstError.pos;
    const { line, col } = lineCounter.linePos(start);
    throw new RegistryError(file, `invalid YAML: ${firstLine(firstError.message)}`, { line, column: col });
  }

  const root = document.contents;
  if (root !== null && !isMap(root) && !(isScalar(root) && root.value === null)) {
    throw new RegistryError(file, `expected a mapping with a \`${SESSIONS_KEY}:\` list at the top`, {
      line: lineOf(root.range?.[0]),
    });
  }
  const sessions = isMap(root) ? root.get(SESSIONS_KEY, true) : undefined;
  if (sessions !== undefined && !isSeq(sessions) && !(isScalar(sessions) && sessions.value === null)) {
    throw new RegistryError(file, `\`${SESSIONS_KEY}\` must be a list of entries`, {
      line: lineOf((sessions as YamlNode).range?.[0]),
    });
  }

  const items = isSeq(sessions) ? sessions.items : [];
  const { entries, invalid, names } = validate(
    items.map((item) => ({ line: lineOf((item as YamlNode | null)?.range?.[0]), raw: item === null ? null : (item as YamlNode).toJSON() })),
  );
  return { file, document, entries, invalid, names, sessions: new SessionEdits(document) };
}

/** A large registry read item by item; undefined when any piece does not parse alone (the whole file then decides). */
function parseLayout(file: string, layout: Layout): ParsedRegistry | undefined {
  const skeleton = parseDocument(layout.head + layout.tail, { prettyErrors: false, uniqueKeys: true });
  if (skeleton.errors.length > 0 || !isMap(skeleton.contents)) return undefined;
  const sessions: unknown = skeleton.contents.get(SESSIONS_KEY, true);
  if (!isScalar(sessions) || sessions.value !== null) return undefined;
  // Each item's plain value is validated as soon as it is read and then dropped: holding all of them at once
  // beside the schema's copies was a third of a large pass's peak memory.
  let unreadable = false;
  const itemNames: (string | undefined)[] = [];
  function* values(): Generator<{ line: number; raw: unknown }> {
    for (const item of layout.items) {
      const value = itemValue(item, layout.indent);
      if (!value.ok) {
        unreadable = true;
        return;
      }
      itemNames.push(nameOf(value.value));
      yield { line: item.line, raw: value.value };
    }
  }
  const { entries, invalid, names } = validate(values());
  if (unreadable) return undefined;
  const edits = new SessionEdits(layout, itemNames);
  // The whole Document only for a caller that asks for it (pane records, hand-made edits): the old cost, once.
  return {
    file,
    get document() {
      return edits.document();
    },
    entries,
    invalid,
    names,
    sessions: edits,
  };
}

/** Schema check of every item: valid entries, the invalid ones with their reasons, and every name mentioned. */
function validate(items: Iterable<{ line: number | undefined; raw: unknown }>): Pick<ParsedRegistry, 'entries' | 'invalid' | 'names'> {
  const invalid: InvalidEntry[] = [];
  const names = new Set<string>();
  const valid: { index: number; line: number | undefined; entry: RegistryEntry }[] = [];
  const nameCount = new Map<string, number>();

  let index = -1;
  for (const { line, raw } of items) {
    index += 1;
    const rawName = nameOf(raw);
    if (rawName !== undefined) {
      names.add(rawName);
      nameCount.set(rawName, (nameCount.get(rawName) ?? 0) + 1);
    }
    const parsed = parseEntry(raw);
    if (parsed.success) valid.push({ index, line, entry: parsed.data });
    else invalid.push({ index, name: rawName, line, reason: describeIssues(parsed.error.issues) });
  }

  // A duplicated name makes every entry carrying it ambiguous: none of them is reconciled.
  const entries: RegistryEntry[] = [];
  for (const { index, line, entry } of valid) {
    const count = nameCount.get(entry.name) ?? 0;
    if (count > 1) invalid.push({ index, name: entry.name, line, reason: `duplicate name: ${count} entries are called ${entry.name}` });
    else entries.push(entry);
  }
  invalid.sort((a, b) => a.index - b.index);
  return { entries, invalid, names };
}

/** The fields a patch may set: the entry's own keys, written as plain YAML values. */
export type EntryFields = { readonly [K in keyof RegistryEntry]?: RegistryEntry[K] };

/** Sets top-level fields of the entry named `name`, in place, keeping everything else as it was. */
export function setEntryFields(document: Document, name: string, fields: EntryFields): boolean {
  const item = findEntryNode(document, name);
  if (!item) return false;
  setFieldsOn(document, item, fields);
  return true;
}

function setFieldsOn(document: Document, item: YAMLMap, fields: EntryFields): void {
  for (const [key, value] of Object.entries(fields)) {
    const previous: unknown = item.get(key, true);
    const plain = value === null || value === undefined || typeof value !== 'object';
    // Updating a scalar in place keeps the user's trailing comment on that line.
    if (isScalar(previous) && plain) {
      previous.value = value ?? null;
      continue;
    }
    const node = document.createNode(value ?? null);
    if (isNode(previous)) {
      node.comment = previous.comment;
      node.commentBefore = previous.commentBefore;
      // Keep a hand-written `pane: {pid: …}` in flow style when it is replaced.
      if (isMap(node) && isMap(previous) && previous.flow) node.flow = true;
    }
    item.set(key, node);
  }
}

/** Appends a new entry at the end of the list (creating the list if the file had none). */
export function appendEntry(document: Document, entry: RegistryEntry): void {
  if (!isMap(document.contents)) document.contents = document.createNode({}) as YAMLMap;
  const root = document.contents as YAMLMap;
  const existing: unknown = root.get(SESSIONS_KEY, true);
  let sessions: YAMLSeq;
  if (isSeq(existing)) sessions = existing;
  else root.set(SESSIONS_KEY, (sessions = new YAMLSeq()));
  // `tmux_sessions: []` is a flow sequence; entries inside it would be written on one line.
  sessions.flow = false;
  sessions.items.push(entryNode(document, entry));
}

function entryNode(document: Document, entry: RegistryEntry): YamlNode {
  const node = document.createNode(entry);
  if (isMap(node)) {
    const pane = node.get('pane', true);
    if (isMap(pane)) pane.flow = true;
  }
  return node;
}

/** Deletes top-level keys of the entry named `name` (bookkeeping that no longer applies); true when any was there. */
export function deleteEntryFields(document: Document, name: string, keys: readonly (keyof RegistryEntry & string)[]): boolean {
  const item = findEntryNode(document, name);
  if (!item) return false;
  let changed = false;
  for (const key of keys) changed = item.delete(key) || changed;
  return changed;
}

/** Removes the entry named `name` from the list; true when it was there. */
export function removeEntry(document: Document, name: string): boolean {
  const root = document.contents;
  const sessions = isMap(root) ? root.get(SESSIONS_KEY, true) : undefined;
  if (!isSeq(sessions)) return false;
  const index = sessions.items.findIndex((item) => isMap(item) && item.get('name') === name);
  if (index < 0) return false;
  sessions.items.splice(index, 1);
  return true;
}

export function stringifyRegistry(document: Document): string {
  return document.toString({ lineWidth: 0 });
}

/** The text to write for a registry after its edits; throws RegistryError rather than give text that does not read back. */
export function renderRegistry(registry: ParsedRegistry): string {
  return registry.sessions.render(registry.file);
}

/**
 * Edits of session entries on either form of a parsed registry. On the whole Document they are the functions
 * above; on a large registry's layout each edit parses and renders again only the item it touches, and names are
 * found through an index instead of a scan of the list. Once the whole Document has been asked for, edits go to it.
 */
export class SessionEdits {
  private layout: Layout | undefined;
  private whole: Document | undefined;
  private readonly byName = new Map<string, LayoutItem>();

  constructor(source: Document | Layout, itemNames: readonly (string | undefined)[] = []) {
    if (source instanceof Document) {
      this.whole = source;
      return;
    }
    this.layout = source;
    source.items.forEach((item, index) => {
      const name = itemNames[index];
      // The first of a duplicated name, as findEntryNode finds it.
      if (name !== undefined && !this.byName.has(name)) this.byName.set(name, item);
    });
  }

  /** The whole Document; from a layout it is parsed once, from the text as edited so far. */
  document(): Document {
    if (!this.whole) {
      const text = joinLayout(this.layout!);
      this.whole = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
      this.layout = undefined;
      this.byName.clear();
    }
    return this.whole;
  }

  /** Sets top-level fields of the entry named `name`; false when there is none. */
  set(name: string, fields: EntryFields): boolean {
    if (this.whole) return setEntryFields(this.whole, name, fields);
    return this.editItem(name, (document, map) => {
      setFieldsOn(document, map, fields);
      return true;
    });
  }

  /** Deletes top-level keys of the entry named `name`; true when any was there. */
  unset(name: string, keys: readonly (keyof RegistryEntry & string)[]): boolean {
    if (this.whole) return deleteEntryFields(this.whole, name, keys);
    return this.editItem(name, (_document, map) => keys.reduce((changed, key) => map.delete(key) || changed, false));
  }

  append(entry: RegistryEntry): void {
    if (this.whole) return appendEntry(this.whole, entry);
    const document = new Document();
    const seq = new YAMLSeq();
    seq.items.push(entryNode(document, entry));
    document.contents = seq;
    const item: LayoutItem = { text: renderItem(document, this.layout!.indent), line: 0 };
    const last = this.layout!.items.at(-1);
    // A file that ends without a newline ends in its last item.
    if (last && !last.text.endsWith('\n')) last.text += '\n';
    this.layout!.items.push(item);
    this.byName.set(entry.name, item);
  }

  /** Removes every entry whose name is in `names`, in one pass over the list; returns how many were removed. */
  remove(names: ReadonlySet<string>): number {
    if (this.whole) {
      const root = this.whole.contents;
      const sessions = isMap(root) ? root.get(SESSIONS_KEY, true) : undefined;
      if (!isSeq(sessions)) return 0;
      const before = sessions.items.length;
      sessions.items = sessions.items.filter((item) => !(isMap(item) && names.has(String(item.get('name')))));
      return before - sessions.items.length;
    }
    const layout = this.layout!;
    const removed = new Set<LayoutItem>();
    for (const name of names) {
      const item = this.byName.get(name);
      if (item) removed.add(item);
      this.byName.delete(name);
    }
    layout.items = layout.items.filter((item) => !removed.has(item));
    return removed.size;
  }

  /** The registry's text with every edit; what is written is known to read back. */
  render(file: string): string {
    if (this.whole) {
      const text = stringifyRegistry(this.whole);
      // Never write what we could not read back: guards the file against a bug in a patch.
      parseRegistry(file, text);
      return text;
    }
    // Every item edited was read back as it was rendered (editItem); the rest is the file's own bytes.
    return joinLayout(this.layout!);
  }

  private editItem(name: string, edit: (document: Document, map: YAMLMap) => boolean): boolean {
    const item = this.byName.get(name);
    if (!item) return false;
    const document = parseItem(item.text);
    const map = document && itemMap(document);
    if (!document || !map) return false;
    if (!edit(document, map)) return false;
    const text = renderItem(document, this.layout!.indent);
    const check = parseItem(text);
    if (!check || !itemMap(check)) throw new RegistryError('registry', `an edit of ${name} would not read back; nothing written`);
    item.text = text;
    return true;
  }
}


function findEntryNode(document: Document, name: string): YAMLMap | undefined {
  const root = document.contents;
  if (!isMap(root)) return undefined;
  const sessions = root.get(SESSIONS_KEY, true);
  if (!isSeq(sessions)) return undefined;
  for (const item of sessions.items) {
    if (isMap(item) && item.get('name') === name) return item;
  }
  return undefined;
}

function describeIssues(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues
    .slice(0, 3)
    .map((issue) => (issue.path.length ? `${issue.path.map(String).join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

function firstLine(message: string): string {
  return message.split('\n', 1)[0] ?? message;
}

function nameOf(raw: unknown): string | undefined {
  return isRecord(raw) && typeof raw['name'] === 'string' ? raw['name'] : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
