import path from 'node:path';
import { CONVERSATION_ID_PATTERN } from '../registry/patterns.js';
import type { AgentKind, ArtifactQuery, Conversation } from './types.js';

/**
 * Google Antigravity CLI (`agy`, closed source; docs/agents.md, 'agy': best effort).
 * `cache/last_conversations.json` maps an absolute cwd to its newest conversation id, and
 * `conversations/<id>.db` (SQLite, WAL; `<id>.pb` before June 2026) proves the conversation exists.
 * The database is never opened: existence and mtime are all `mam` needs from it.
 */

const conversationsDir = (query: ArtifactQuery): string => path.join(query.roots.agy, 'conversations');

interface Artifact {
  readonly path: string;
  readonly modifiedMs: number;
}

/** The conversation's file, and when it last changed (a WAL database is written through `-wal`). */
async function artifact(id: string, query: ArtifactQuery): Promise<Artifact | undefined> {
  if (!CONVERSATION_ID_PATTERN.test(id)) return undefined;
  const base = path.join(conversationsDir(query), id);
  const db = await query.fs.stat(`${base}.db`);
  if (db?.isFile()) {
    const wal = await query.fs.stat(`${base}.db-wal`);
    return { path: `${base}.db`, modifiedMs: Math.max(db.mtimeMs, wal?.isFile() ? wal.mtimeMs : 0) };
  }
  const pb = await query.fs.stat(`${base}.pb`);
  return pb?.isFile() ? { path: `${base}.pb`, modifiedMs: pb.mtimeMs } : undefined;
}

/** The conversation ids `last_conversations.json` records for `workspace` (one, or one per spelling). */
async function lastConversationIds(workspace: string, query: ArtifactQuery): Promise<Set<string>> {
  const ids = new Set<string>();
  const map = await query.fs.readJson(path.join(query.roots.agy, 'cache', 'last_conversations.json'));
  if (typeof map !== 'object' || map === null || Array.isArray(map)) return ids;
  const canonicalWorkspace = await query.fs.canonicalPath(workspace);
  for (const [cwd, id] of Object.entries(map)) {
    if (typeof id !== 'string' || !path.isAbsolute(cwd)) continue;
    if (cwd === workspace || (await query.fs.canonicalPath(cwd)) === canonicalWorkspace) ids.add(id);
  }
  return ids;
}

export const agy: AgentKind<'agy'> = {
  id: 'agy',
  conversationIdField: 'agy_conversation_id_own',
  command: 'agy',
  resumeArgs: (id) => ['--conversation', id],
  exitKeys: [{ key: 'C-d' }],
  conversationGone: /conversation[^\n]*not found/i,
  readyPattern: undefined,
  // Closed source and no published screens (docs/agents.md, 'agy'): nothing to match, so its status is
  // "the screen moves" (working) or "the screen stopped changing" (waiting), from src/watch/pane.ts.
  panePatterns: { busy: [], approval: [], idle: [] },

  // Under Gemini CLI's directory (docs/agents.md, 'agy'); no variable moves it.
  filesDir: (_env, home) => path.join(home, '.gemini', 'antigravity-cli'),

  matchesPaneCommand(command) {
    return command === 'agy';
  },

  artifactRoot(roots) {
    return path.join(roots.agy, 'conversations');
  },

  async conversations(workspace, query, sinceMs) {
    // agy records only the newest conversation per directory; older ones are not attributable.
    let newest: Conversation | undefined;
    for (const id of await lastConversationIds(workspace, query)) {
      const found = await artifact(id, query);
      if (!found || (sinceMs !== undefined && found.modifiedMs < sinceMs)) continue;
      if (newest && newest.modifiedMs >= found.modifiedMs) continue;
      // The start time is only inside the database, which is not read.
      newest = { id, path: found.path, modifiedMs: found.modifiedMs, startedMs: undefined };
    }
    return newest ? [newest] : [];
  },

  async locate(id, _workspace, query) {
    return (await artifact(id, query))?.path ?? null;
  },

  async purgePaths(id, _workspace, query) {
    if (!CONVERSATION_ID_PATTERN.test(id)) return [];
    const base = path.join(conversationsDir(query), id);
    const candidates = [`${base}.db`, `${base}.db-wal`, `${base}.db-shm`, `${base}.pb`, path.join(query.roots.agy, 'brain', id)];
    const present: string[] = [];
    for (const candidate of candidates) if (await query.fs.exists(candidate)) present.push(candidate);
    return present;
  },
};
