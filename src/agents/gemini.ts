import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import path from 'node:path';
import { CONVERSATION_ID_PATTERN } from '../registry/patterns.js';
import type { ArtifactFs } from './fs.js';
import type { Head, JsonRecord } from './jsonl.js';
import { stringField, timeField } from './jsonl.js';
import type { AgentKind, ArtifactQuery, Conversation } from './types.js';

/**
 * Gemini CLI: chats at `~/.gemini/tmp/<projectId>/chats/session-<YYYY-MM-DDTHH-MM>-<id8>.jsonl`
 * (docs/agents.md, 'Gemini CLI'). `projectId` is the slug `projects.json` registers for the project root,
 * or, from older builds, the hex sha256 of the root. The first JSONL record is the session metadata;
 * older builds wrote one `.json` ConversationRecord instead. Subagent chats live one level deeper
 * (`chats/<parentSessionId>/`) and are never listed. One session can have several chat files: 0.61 starts a
 * new one on every `--resume` and goes on writing to the old one. Checked against the real CLI by test/gemini/.
 */

/** A legacy `.json` chat holds the whole conversation; beyond this we do not read it. */
const LEGACY_MAX_BYTES = 16 * 1024 * 1024;

/** `session-2026-08-01T10-00-7d2c9f4e.jsonl`; the fixed-width time makes the eight-character tail exact. */
const CHAT_NAME = /^session-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-([A-Za-z0-9_-]{1,8})\.(?:jsonl|json)$/;

/** projects.json is not ours: a slug must be one plain path segment before it goes into a path. */
const SAFE_SLUG = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

interface Session {
  readonly id: string;
  readonly startedMs: number | undefined;
}

function sessionOf(record: JsonRecord | undefined): Session | undefined {
  const id = stringField(record, 'sessionId');
  if (id === undefined || !CONVERSATION_ID_PATTERN.test(id) || record?.['kind'] === 'subagent') return undefined;
  return { id, startedMs: timeField(record, 'startTime') };
}

const hasSessionId = (head: Head): boolean => head.records.some((record) => stringField(record, 'sessionId') !== undefined);

/**
 * Legacy `.json` chats are rewritten whole on every message, so parse results are kept per ArtifactFs,
 * keyed by inode, size and mtime, rather than re-reading a large file every pass.
 */
const legacyCache = new WeakMap<ArtifactFs, Map<string, { key: string; session: Session | undefined }>>();

async function legacySession(file: string, stats: Stats, fs: ArtifactFs): Promise<Session | undefined> {
  let cache = legacyCache.get(fs);
  if (!cache) {
    cache = new Map();
    legacyCache.set(fs, cache);
  }
  const key = `${stats.ino}:${stats.size}:${stats.mtimeMs}`;
  const cached = cache.get(file);
  if (cached?.key === key) return cached.session;
  const value = await fs.readJson(file, LEGACY_MAX_BYTES);
  const record = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as JsonRecord) : undefined;
  const session = sessionOf(record);
  cache.set(file, { key, session });
  return session;
}

/** The session a chat file records, if it is a complete main-session chat. */
async function chatSession(file: string, stats: Stats, fs: ArtifactFs): Promise<Session | undefined> {
  if (file.endsWith('.json')) return legacySession(file, stats, fs);
  const head = await fs.jsonlHead(file, stats, hasSessionId);
  // The metadata record comes first; a torn or unreadable first line leaves nothing to attribute.
  return sessionOf(head?.records.find((record) => stringField(record, 'sessionId') !== undefined));
}

/** The `tmp/<projectId>` directories that may hold `workspace`'s chats. */
async function projectDirs(workspace: string, query: ArtifactQuery): Promise<string[]> {
  const { fs } = query;
  const tmp = path.join(query.roots.gemini, 'tmp');
  const canonicalWorkspace = await fs.canonicalPath(workspace);
  const ids = new Set<string>();
  const registry = await fs.readJson(path.join(query.roots.gemini, 'projects.json'));
  const projects = typeof registry === 'object' && registry !== null ? (registry as { projects?: unknown }).projects : undefined;
  if (typeof projects === 'object' && projects !== null && !Array.isArray(projects)) {
    for (const [root, slug] of Object.entries(projects)) {
      if (typeof slug !== 'string' || !SAFE_SLUG.test(slug) || !path.isAbsolute(root)) continue;
      if (root === workspace || (await fs.canonicalPath(root)) === canonicalWorkspace) ids.add(slug);
    }
  }
  // Older builds: sha256 of the project root as Gemini saw it (its cwd, which the kernel resolves).
  for (const root of new Set([canonicalWorkspace, workspace])) ids.add(createHash('sha256').update(root).digest('hex'));
  const dirs: string[] = [];
  for (const id of ids) if ((await fs.stat(path.join(tmp, id)))?.isDirectory()) dirs.push(path.join(tmp, id));
  return dirs;
}

interface ChatFile {
  readonly file: string;
  /** The first eight characters of the session id, from the file name. */
  readonly id8: string;
}

/** The main-session chats directly in `<projectDir>/chats` (subagent chats sit in subdirectories). */
async function chatFiles(projectDir: string, fs: ArtifactFs): Promise<ChatFile[]> {
  const chats = path.join(projectDir, 'chats');
  const files: ChatFile[] = [];
  for (const entry of await fs.list(chats)) {
    const id8 = CHAT_NAME.exec(entry.name)?.[1];
    if (id8 !== undefined && entry.isFile()) files.push({ file: path.join(chats, entry.name), id8 });
  }
  return files;
}

/** Every chat file of session `id` in `projectDir`, newest first. */
async function chatsIn(projectDir: string, id: string, fs: ArtifactFs): Promise<{ file: string; modifiedMs: number }[]> {
  const found: { file: string; modifiedMs: number }[] = [];
  for (const { file, id8 } of await chatFiles(projectDir, fs)) {
    if (id8 !== id.slice(0, 8)) continue;
    const stats = await fs.stat(file);
    // Eight characters name the file; only the sessionId inside tells two sessions apart.
    if (stats?.isFile() && (await chatSession(file, stats, fs))?.id === id) found.push({ file, modifiedMs: stats.mtimeMs });
  }
  return found.sort((a, b) => b.modifiedMs - a.modifiedMs);
}

/** The project directories that hold chats of session `id`: the workspace's own first, then any other. */
async function sessionChats(id: string, workspace: string, query: ArtifactQuery): Promise<string[]> {
  const { fs } = query;
  const own = await projectDirs(workspace, query);
  for (const directory of own) {
    const found = await chatsIn(directory, id, fs);
    if (found.length > 0) return found.map((chat) => chat.file);
  }
  // The workspace may have moved or been re-registered under another slug since.
  const tmp = path.join(query.roots.gemini, 'tmp');
  for (const entry of await fs.list(tmp)) {
    const directory = path.join(tmp, entry.name);
    if (!entry.isDirectory() || own.includes(directory)) continue;
    const found = await chatsIn(directory, id, fs);
    if (found.length > 0) return found.map((chat) => chat.file);
  }
  return [];
}

export const gemini: AgentKind<'gemini'> = {
  id: 'gemini',
  conversationIdField: 'gemini_session_id_own',
  command: 'gemini',
  resumeArgs: (id) => ['--resume', id],
  // Ctrl-C twice within 3 s runs /quit (and cancels a turn in flight). Typing /quit is not reliable: its completion
  // popup takes the Enter that follows it about two times in three (0.61.0).
  exitKeys: [{ key: 'C-c' }, { key: 'C-c' }],
  conversationGone: /(no|invalid) session|session[^\n]*not found/i,
  readyPattern: /Type your message/,
  // docs/agents.md, 'Pane patterns' (ToolConfirmationMessage.tsx, LoadingIndicator.tsx, ccmanager, agent-deck).
  panePatterns: {
    busy: [/\(esc to cancel, \d+/i],
    approval: [
      /Apply this change\?/,
      /Allow execution of\b/,
      /Do you want to proceed\?/,
      /Allow once/,
      /No, suggest changes \(esc\)/,
      /waiting for user confirmation/i,
    ],
    idle: [/Type your message/, /^\s*gemini>/m],
    // Esc in a confirmation dialog fires no hook at all (docs/agents.md, 'Gemini CLI').
    approvalClosesUnseen: true,
  },

  // GEMINI_CLI_HOME stands in for the home directory Gemini keeps `.gemini/` in.
  filesDir: (env, home) => path.join(env['GEMINI_CLI_HOME'] || home, '.gemini'),
  environment: ['GEMINI_', 'GOOGLE_'],

  matchesPaneCommand(command) {
    return command === 'gemini';
  },

  artifactRoot(roots) {
    return path.join(roots.gemini, 'tmp');
  },

  async conversations(workspace, query, sinceMs) {
    const { fs } = query;
    const found = new Map<string, Conversation>();
    for (const directory of await projectDirs(workspace, query)) {
      for (const { file, id8 } of await chatFiles(directory, fs)) {
        const stats = await fs.stat(file);
        if (!stats?.isFile() || (sinceMs !== undefined && stats.mtimeMs < sinceMs)) continue;
        const session = await chatSession(file, stats, fs);
        // A name that does not fit the id inside would never be found again by locate.
        if (!session || session.id.slice(0, 8) !== id8) continue;
        // A session seen in both a slug and a not-yet-migrated hash directory counts once, newest copy.
        const previous = found.get(session.id);
        if (previous && previous.modifiedMs >= stats.mtimeMs) continue;
        found.set(session.id, { id: session.id, path: file, modifiedMs: stats.mtimeMs, startedMs: session.startedMs });
      }
    }
    return [...found.values()].sort((a, b) => b.modifiedMs - a.modifiedMs);
  },

  async locate(id, workspace, query) {
    if (!CONVERSATION_ID_PATTERN.test(id)) return null;
    return (await sessionChats(id, workspace, query))[0] ?? null;
  },

  async purgePaths(id, workspace, query) {
    if (!CONVERSATION_ID_PATTERN.test(id)) return [];
    const chats = await sessionChats(id, workspace, query);
    if (chats.length === 0) return [];
    // Subagent chats of this session: chats/<sessionId>/.
    const subagents = path.join(path.dirname(chats[0]!), id);
    return (await query.fs.stat(subagents))?.isDirectory() ? [...chats, subagents] : chats;
  },

  /**
   * settings.json with Gemini's own event names, the same `{matcher?, hooks:[…]}` groups, but a timeout in
   * milliseconds. No matcher: for tool events it is a regex and for lifecycle events an exact string, so "*" would
   * mean different things; an absent one matches everything. See docs/agents.md, 'Gemini CLI'.
   */
  hooks: {
    label: 'Gemini CLI',
    help: '~/.gemini/settings.json; project: <project>/.gemini/settings.json (the timeout is written in milliseconds)',
    events: ['SessionStart', 'SessionEnd', 'BeforeAgent', 'AfterAgent', 'BeforeTool', 'AfterTool', 'Notification'],
    eventAliases: [
      { event: 'BeforeAgent', means: 'UserPromptSubmit' },
      { event: 'AfterAgent', means: 'Stop' },
      { event: 'BeforeTool', means: 'PreToolUse' },
      { event: 'AfterTool', means: 'PostToolUse' },
      // A tool call waiting for the person's confirmation; 0.61 fires it right after BeforeTool (docs/agents.md, 'Gemini CLI').
      { event: 'Notification', when: { notification_type: 'ToolPermission' }, means: 'PermissionRequest' },
    ],
    settingsFile: (scope, roots, projectDir) => (scope === 'project' ? path.join(projectDir, '.gemini', 'settings.json') : path.join(roots.gemini, 'settings.json')),
    // Gemini CLI's settings.json may hold comments.
    settingsMayHaveComments: true,
    group: (command, timeoutSeconds) => ({ hooks: [{ name: 'mam', type: 'command', command, timeout: timeoutSeconds * 1000 }] }),
  },
};
