import { isMap, isSeq, YAMLMap, YAMLSeq, type Document } from 'yaml';
import { PaneRecord } from '../registry/schema.js';

/**
 * Agent panes live in the same registry file as sessions, under a top-level `tmux_panes:` list — the templates'
 * "Pane Lifecycle" table (docs/pane.md, 'The tmux_panes: list': pane id, role, spawner, status, and the close-down
 * boxes: report-back sent, session id saved, task done). Rows are loose objects, like session entries: fields a
 * person or a newer version adds survive every rewrite. A closed row is kept as history; pane ids are reused by
 * tmux, so the live row for a pane is the last one that is not closed.
 */
export const PANES_KEY = 'tmux_panes';

export { PaneRecord, PaneStatus, ROLE_PATTERN } from '../registry/schema.js';

export type PaneFields = { readonly [K in keyof PaneRecord]?: PaneRecord[K] };

function paneList(document: Document): YAMLSeq | undefined {
  const root = document.contents;
  if (!isMap(root)) return undefined;
  const list: unknown = root.get(PANES_KEY, true);
  return isSeq(list) ? list : undefined;
}

/** Every row that passes the schema, in file order. Rows that do not are left alone and never matched. */
export function paneRecords(document: Document): PaneRecord[] {
  const list = paneList(document);
  if (!list) return [];
  const rows: PaneRecord[] = [];
  for (const item of list.items) {
    const parsed = PaneRecord.safeParse(isMap(item) ? item.toJSON() : undefined);
    if (parsed.success) rows.push(parsed.data);
  }
  return rows;
}

/** The live row of a pane: the last row for (server, pane id) that is not closed, else the last closed one. */
export function findPane(rows: readonly PaneRecord[], server: string, paneId: string): PaneRecord | undefined {
  const matching = rows.filter((row) => row.pane_id === paneId && row.tmux_server === server);
  return matching.findLast((row) => row.status !== 'closed') ?? matching.at(-1);
}

/** Rows for the same pane id on other servers that are still open: "you addressed the wrong server". */
export function elsewhere(rows: readonly PaneRecord[], server: string, paneId: string): PaneRecord[] {
  return rows.filter((row) => row.pane_id === paneId && row.tmux_server !== server && row.status !== 'closed');
}

/**
 * Sets fields on the live row of (server, pane id), or appends a new row with them when there is none
 * (`create`). Returns false when there was no row and `create` was not asked for.
 */
export function setPaneFields(document: Document, server: string, paneId: string, fields: PaneFields, create = false): boolean {
  const list = paneList(document);
  const nodes = (list?.items ?? []).filter((item): item is YAMLMap => isMap(item) && item.get('pane_id') === paneId && item.get('tmux_server') === server);
  const node = nodes.findLast((item) => item.get('status') !== 'closed') ?? (create ? undefined : nodes.at(-1));
  if (node) {
    for (const [key, value] of Object.entries(fields)) node.set(key, value ?? null);
    return true;
  }
  if (!create) return false;
  if (!isMap(document.contents)) document.contents = document.createNode({}) as YAMLMap;
  const root = document.contents as YAMLMap;
  let target = list;
  if (!target) root.set(PANES_KEY, (target = new YAMLSeq()));
  target.flow = false;
  target.items.push(document.createNode({ pane_id: paneId, tmux_server: server, ...fields }));
  return true;
}
