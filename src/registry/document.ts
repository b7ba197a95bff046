import { Document, isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, YAMLMap, YAMLSeq, type Node as YamlNode } from 'yaml';
import { RegistryError } from '../errors.js';
import { RegistryEntry } from './schema.js';

/**
 * The registry as the user wrote it (a yaml Document, so comments, key order and unknown fields survive
 * a rewrite) plus the entries that passed the schema. Entries that fail it are reported, never touched.
 */
export interface ParsedRegistry {
  readonly file: string;
  readonly document: Document;
  readonly entries: readonly RegistryEntry[];
  readonly invalid: readonly InvalidEntry[];
  /** Every name the file mentions, valid entry or not: a name already taken is never auto-registered. */
  readonly names: ReadonlySet<string>;
}

export interface InvalidEntry {
  readonly index: number;
  readonly name: string | undefined;
  readonly line: number | undefined;
  readonly reason: string;
}

export const SESSIONS_KEY = 'tmux_sessions';

export function parseRegistry(file: string, text: string): ParsedRegistry {
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
  const invalid: InvalidEntry[] = [];
  const names = new Set<string>();
  const valid: { index: number; line: number | undefined; entry: RegistryEntry }[] = [];
  const nameCount = new Map<string, number>();

  items.forEach((item, index) => {
    const line = lineOf((item as YamlNode | null)?.range?.[0]);
    const raw: unknown = item === null ? null : (item as YamlNode).toJSON();
    const rawName = isRecord(raw) && typeof raw['name'] === 'string' ? raw['name'] : undefined;
    if (rawName !== undefined) {
      names.add(rawName);
      nameCount.set(rawName, (nameCount.get(rawName) ?? 0) + 1);
    }
    const parsed = RegistryEntry.safeParse(raw);
    if (parsed.success) valid.push({ index, line, entry: parsed.data });
    else invalid.push({ index, name: rawName, line, reason: describeIssues(parsed.error.issues) });
  });

  // A duplicated name makes every entry carrying it ambiguous: none of them is reconciled.
  const entries: RegistryEntry[] = [];
  for (const { index, line, entry } of valid) {
    const count = nameCount.get(entry.name) ?? 0;
    if (count > 1) invalid.push({ index, name: entry.name, line, reason: `duplicate name: ${count} entries are called ${entry.name}` });
    else entries.push(entry);
  }
  invalid.sort((a, b) => a.index - b.index);

  return { file, document, entries, invalid, names };
}

/** The fields a patch may set: the entry's own keys, written as plain YAML values. */
export type EntryFields = { readonly [K in keyof RegistryEntry]?: RegistryEntry[K] };

/** Sets top-level fields of the entry named `name`, in place, keeping everything else as it was. */
export function setEntryFields(document: Document, name: string, fields: EntryFields): boolean {
  const item = findEntryNode(document, name);
  if (!item) return false;
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
  return true;
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
  const node = document.createNode(entry);
  if (isMap(node)) {
    const pane = node.get('pane', true);
    if (isMap(pane)) pane.flow = true;
  }
  sessions.items.push(node);
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
