import { isMap, isSeq, YAMLMap, YAMLSeq, type Document } from 'yaml';
import { z } from 'zod';
import { AgentName, ConversationId } from '../registry/schema.js';
import { PANE_ID_PATTERN, WINDOW_ID_PATTERN } from './tmux.js';

/**
 * Agent panes live in the same registry file as sessions, under a top-level `tmux_panes:` list — the
 * seed's "Pane Lifecycle" table (pane id, role, spawner, status, and the close-down boxes: report-back
 * sent, session id saved, task done). Rows are loose objects, like session entries: fields a person or
 * a newer version adds survive every rewrite. A closed row is kept as history; pane ids are reused by
 * tmux, so the live row for a pane is the last one that is not closed.
 */
export const PANES_KEY = 'tmux_panes';

export const ROLE_PATTERN = /^[A-Za-z0-9_-]{1,32}$/;

export const PaneStatus = z.enum(['spawning', 'active', 'ready-to-close', 'closed']);
export type PaneStatus = z.infer<typeof PaneStatus>;

export const PaneRecord = z.looseObject({
  pane_id: z.string().regex(PANE_ID_PATTERN),
  /** The tmux socket name (`-L`); `default` for the default server. */
  tmux_server: z.string().min(1),
  role: z.string().regex(ROLE_PATTERN).nullish(),
  agent: AgentName.nullish(),
  status: PaneStatus,
  session: z.string().nullish(),
  window_id: z.string().regex(WINDOW_ID_PATTERN).nullish(),
  spawner_pane: z.string().regex(PANE_ID_PATTERN).nullish(),
  master_pane: z.string().regex(PANE_ID_PATTERN).nullish(),
  title: z.string().nullish(),
  color: z.string().nullish(),
  workspace: z.string().nullish(),
  task: z.string().nullish(),
  /** The agent's own conversation id (the seed's "Claude session ID saved"). */
  session_id: ConversationId.nullish(),
  report_back: z.boolean().nullish(),
  task_done: z.boolean().nullish(),
  /** The last delivery receipt: `<stage> <token>` and when. */
  last_delivery: z.string().nullish(),
  created_at: z.string().nullish(),
  closed_at: z.string().nullish(),
  /** How it closed: `exit-keys`, `kill-pane`, or `already-gone`. */
  close_mode: z.string().nullish(),
});
export type PaneRecord = z.infer<typeof PaneRecord>;

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
