import path from 'node:path';
import { CONVERSATION_ID_PATTERN } from '../registry/patterns.js';
import type { Head } from './jsonl.js';
import { stringField, timeField } from './jsonl.js';
import type { AgentKind, ArtifactQuery, Conversation } from './types.js';

/**
 * Claude Code: transcripts at `<config>/projects/<key>/<sessionId>.jsonl` (docs/agents.md, 'Claude transcripts').
 * The session id comes from the file name (first lines may carry none); the launch cwd from the first
 * line that has one, because the key is lossy (`my-app` and `my_app` share it).
 */

const KEY_LIMIT = 200;

/**
 * Claude's `sanitizePath`: every UTF-16 code unit outside [a-zA-Z0-9] becomes `-` (an emoji is two
 * units, so two dashes). Keys over 200 characters keep the first 200 plus `-<hash>`; the hash differs
 * between the CLI (Bun.hash) and the SDK (djb2), so callers match long keys by prefix.
 */
export function claudeProjectKey(canonicalCwd: string): string {
  const sanitized = canonicalCwd.replace(/[^a-zA-Z0-9]/g, '-');
  if (sanitized.length <= KEY_LIMIT) return sanitized;
  return `${sanitized.slice(0, KEY_LIMIT)}-${Math.abs(djb2(canonicalCwd)).toString(36)}`;
}

function djb2(text: string): number {
  let hash = 0;
  for (let index = 0; index < text.length; index += 1) hash = ((hash << 5) - hash + text.charCodeAt(index)) | 0;
  return hash;
}

const projectsDir = (query: ArtifactQuery): string => path.join(query.roots.claude, 'projects');

/** The project directories that may hold `workspace`'s transcripts. */
async function projectDirs(workspace: string, query: ArtifactQuery): Promise<string[]> {
  const key = claudeProjectKey(await query.fs.canonicalPath(workspace));
  const root = projectsDir(query);
  if (key.length <= KEY_LIMIT) return (await query.fs.exists(path.join(root, key))) ? [path.join(root, key)] : [];
  const prefix = `${key.slice(0, KEY_LIMIT)}-`;
  const entries = await query.fs.list(root);
  return entries.filter((entry) => entry.isDirectory() && entry.name.startsWith(prefix)).map((entry) => path.join(root, entry.name));
}

const hasCwd = (head: Head): boolean => head.records.some((record) => stringField(record, 'cwd') !== undefined);

/** Live Claude processes and their session ids (`<config>/sessions/<pid>.json`, Claude 2.1.x). */
async function liveSessions(query: ArtifactQuery): Promise<Map<string, number>> {
  const directory = path.join(query.roots.claude, 'sessions');
  const bySession = new Map<string, number>();
  for (const entry of await query.fs.list(directory)) {
    if (!entry.isFile() || !/^\d+\.json$/.test(entry.name)) continue;
    const record = await query.fs.readJson(path.join(directory, entry.name), 64 * 1024);
    if (typeof record !== 'object' || record === null) continue;
    const { pid, sessionId } = record as { pid?: unknown; sessionId?: unknown };
    if (typeof pid === 'number' && typeof sessionId === 'string') bySession.set(sessionId, pid);
  }
  return bySession;
}

export const claude: AgentKind<'claude'> = {
  id: 'claude',
  conversationIdField: 'claude_session_id_own',
  command: 'claude',
  resumeArgs: (id) => ['--resume', id],
  exitKeys: [{ text: '/exit' }, { key: 'Enter' }],
  conversationGone: /No conversation found with session ID/i,
  // The hint under Claude's idle prompt box (a trust or API-key dialog also shows `❯`, so not that).
  readyPattern: /\? for shortcuts/,
  // Long input arriving fast is shown as a paste placeholder, not echoed.
  collapsedInput: /\[Pasted text #\d+/,
  // docs/agents.md, 'Pane patterns' (ccmanager, NTM, agent-deck, claude-squad) and the screens of 2.1.x.
  panePatterns: {
    busy: [
      /(?:esc|ctrl\+c) to interrupt/i,
      // The status line above the box: a spinner frame, a gerund and an ellipsis ("✶ Deliberating… (4s"). Not
      // `●`/`⏺`, which start Claude's own messages and stay on screen after the turn. 2.1.x draws a plain `*` too.
      /^\s*[·*✢✳✶✻✽✱✲✴✵✷✸✹✺✼✾✿❀❁❂❃❇❈❉❊❋✣✤✥✦✧✨⊛⊕⊙◉◎◍⁂⁕※⍟☼★☆∙⋅]\s+\S+…/m,
      /\([^)]*\d[^)]*tokens\s*\)/,
    ],
    approval: [
      // "Do you want to proceed?" / "Would you like to proceed?" followed by a numbered menu with the cursor.
      /(?:do you want|would you like)[^\n]*\n[\s\S]*?❯\s*\d+\.\s/i,
      /No, and tell Claude what to do differently/,
      /\d+\.\s*deny\s*\(esc\)/i,
      /\bEsc to cancel\b/,
      /Do you trust the files in this folder\?/,
    ],
    // The prompt box (`❯` with an NBSP after it, or typed text) and the hint below it.
    idle: [/^\s*❯(?:\s|$)/m, /\? for shortcuts/],
    // 2.1.197 with an API key: `● API Error: Request rejected (429) · <the API's message>`; signed in to a plan:
    // `You've hit your session limit · resets 3pm (Europe/Berlin)` (docs/agents.md, 'Claude usage limits').
    limit: [/API Error: Request rejected \(429\)/, /usage limit reached/i, /You've hit your [^\n]*limit/, /Server is temporarily limiting requests/],
    inputBoxRule: /^\s*─{8,}$/,
  },

  filesDir: (env, home) => env['CLAUDE_CONFIG_DIR'] || path.join(home, '.claude'),
  environment: ['CLAUDE_', 'ANTHROPIC_'],

  matchesPaneCommand(command) {
    // In tmux Claude's process often shows as its version number (e.g. `2.1.11`), not `claude`.
    return command === 'claude' || /^\d+\.\d+\.\d+$/.test(command);
  },

  artifactRoot(roots) {
    return path.join(roots.claude, 'projects');
  },

  async conversations(workspace, query, sinceMs) {
    const canonicalWorkspace = await query.fs.canonicalPath(workspace);
    const live = await liveSessions(query);
    const found: Conversation[] = [];
    for (const directory of await projectDirs(workspace, query)) {
      for (const entry of await query.fs.list(directory)) {
        if (!entry.isFile() || !entry.name.endsWith('.jsonl')) continue;
        const id = entry.name.slice(0, -'.jsonl'.length);
        if (!CONVERSATION_ID_PATTERN.test(id) || id.startsWith('agent-')) continue;
        const file = path.join(directory, entry.name);
        const stats = await query.fs.stat(file);
        if (!stats || (sinceMs !== undefined && stats.mtimeMs < sinceMs)) continue;
        const head = await query.fs.jsonlHead(file, stats, hasCwd);
        // No complete line yet: the first message has not been written, so the conversation does not exist.
        if (!head || head.completeLines === 0) continue;
        const cwd = head.records.map((record) => stringField(record, 'cwd')).find((value) => value !== undefined);
        // The key is lossy; a transcript that says it was started elsewhere belongs to another project.
        if (cwd !== undefined && (await query.fs.canonicalPath(cwd)) !== canonicalWorkspace) continue;
        const startedMs = head.records.map((record) => timeField(record, 'timestamp')).find((value) => value !== undefined);
        found.push({ id, path: file, modifiedMs: stats.mtimeMs, startedMs, livePid: live.get(id) });
      }
    }
    return found.sort((a, b) => b.modifiedMs - a.modifiedMs);
  },

  async locate(id, workspace, query) {
    if (!CONVERSATION_ID_PATTERN.test(id)) return null;
    const name = `${id}.jsonl`;
    for (const directory of await projectDirs(workspace, query)) {
      if (await query.fs.exists(path.join(directory, name))) return path.join(directory, name);
    }
    // The workspace may have moved or been renamed since; Claude's own resume looks further too.
    const root = projectsDir(query);
    for (const entry of await query.fs.list(root)) {
      if (entry.isDirectory() && (await query.fs.exists(path.join(root, entry.name, name)))) return path.join(root, entry.name, name);
    }
    return null;
  },

  async purgePaths(id, workspace, query) {
    const transcript = await this.locate(id, workspace, query);
    if (!transcript) return [];
    // Subagent transcripts and overflowing tool output live in a directory named after the session.
    const sidecar = path.join(path.dirname(transcript), id);
    return (await query.fs.stat(sidecar))?.isDirectory() ? [transcript, sidecar] : [transcript];
  },

  /** docs/agents.md, 'Claude hooks': settings.json, `{matcher, hooks:[{type, command, timeout (s)}]}` per event. */
  hooks: {
    label: 'Claude',
    help: '$CLAUDE_CONFIG_DIR/settings.json or ~/.claude/settings.json; project: <project>/.claude/settings.json (matcher "*")',
    events: ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PermissionRequest', 'PostToolUse', 'PostToolUseFailure', 'Stop', 'StopFailure', 'SubagentStart', 'SubagentStop', 'SessionEnd'],
    settingsFile: (scope, roots, projectDir) => (scope === 'project' ? path.join(projectDir, '.claude', 'settings.json') : path.join(roots.claude, 'settings.json')),
    group: (command, timeoutSeconds) => ({ matcher: '*', hooks: [{ type: 'command', command, timeout: timeoutSeconds }] }),
  },

  /**
   * docs/agents.md, 'Claude session files': 2.1.197 keeps `status` there — `busy` in a turn or while a background
   * subagent runs, `shell` when idle with a background shell running, `waiting` while a dialog shows, else `idle`.
   */
  liveState: {
    file: (pid, roots) => path.join(roots.claude, 'sessions', `${pid}.json`),
    parse(record) {
      if (typeof record !== 'object' || record === null) return undefined;
      const status = (record as { status?: unknown }).status;
      return status === 'idle' ? 'idle' : status === 'busy' ? 'busy' : status === 'shell' ? 'background' : status === 'waiting' ? 'dialog' : undefined;
    },
  },

  // Claude 2.1.197 answers under each: `⎿  Session color set to: red`, `⎿  Session renamed to: dev-agent`.
  identity: (role, color) => [
    { command: `/color ${color}`, confirms: new RegExp(`Session color set to: ${color}\\b`) },
    { command: `/rename ${role}-agent`, confirms: new RegExp(`Session renamed to: ${role}-agent\\b`) },
  ],
};
