import type { Dirent } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { CONVERSATION_ID_PATTERN } from '../registry/patterns.js';
import type { ArtifactFs } from './fs.js';
import type { Head, JsonRecord } from './jsonl.js';
import { recordField, stringField, timeField } from './jsonl.js';
import type { AgentKind, Conversation } from './types.js';

/**
 * OpenAI Codex CLI: rollouts at `<CODEX_HOME>/sessions/YYYY/MM/DD/rollout-<local time>-<id>.jsonl`, or
 * the directory layout `rollout-<local time>-<id>/rollout.jsonl` (docs/agents.md, 'Codex'). The first
 * line is `session_meta`, whose payload carries the thread id and the launch cwd; archived rollouts
 * move to `<CODEX_HOME>/archived_sessions/`, where only `locate` looks. Checked against the real CLI by
 * test/codex/ (docs/codex-gemini-harness.md).
 */

const DAY_MS = 24 * 60 * 60 * 1000;

/** The longest SessionEnd hook Codex 0.171 lets run. */
const SESSION_END_MAX_SECONDS = 3;

/**
 * session_meta carries the whole base instructions (about 21 KB seen) and any dynamic tool specs, so
 * its one line can outgrow the default 64 KB head; past this we give up on the file.
 */
const HEAD_BYTES = 1024 * 1024;

/** `rollout-2026-06-03T05-51-37-<id>` with an optional `.jsonl`; the fixed-width date makes the id exact. */
const ROLLOUT_NAME = /^rollout-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-(.+?)(\.jsonl)?$/;

interface Rollout {
  readonly id: string;
  /** The JSONL file itself, also for the directory layout. */
  readonly file: string;
}

/** A rollout file or directory entry, or undefined for anything else (including hostile names). */
function rolloutOf(directory: string, entry: Dirent): Rollout | undefined {
  const match = ROLLOUT_NAME.exec(entry.name);
  const id = match?.[1];
  if (id === undefined || !CONVERSATION_ID_PATTERN.test(id)) return undefined;
  const isJsonl = match?.[2] !== undefined;
  if (isJsonl && entry.isFile()) return { id, file: path.join(directory, entry.name) };
  if (!isJsonl && entry.isDirectory()) return { id, file: path.join(directory, entry.name, 'rollout.jsonl') };
  return undefined;
}

const sessionMeta = (head: Head): JsonRecord | undefined =>
  head.records.find((record) => record['type'] === 'session_meta' && recordField(record, 'payload') !== undefined);

const hasSessionMeta = (head: Head): boolean => sessionMeta(head) !== undefined;

/** Threads Codex spawns for itself (review, compaction, sub-agents) record where they came from. */
function isSubAgent(payload: JsonRecord): boolean {
  const source = recordField(payload, 'source');
  return source !== undefined && ('subagent' in source || 'internal' in source);
}

const digits = (name: string, width: number): number | undefined =>
  name.length === width && /^\d+$/.test(name) ? Number(name) : undefined;

/**
 * Whether a date directory (local time, like Codex names them) ended more than a day before `sinceMs`.
 * The day of slack absorbs clock and time-zone changes between writing the tree and reading it.
 */
const endedBefore = (endMs: number, sinceMs: number | undefined): boolean => sinceMs !== undefined && endMs + DAY_MS < sinceMs;

/** Every rollout under `sessions/YYYY/MM/DD/`, skipping date directories too old for `sinceMs`. */
async function datedRollouts(sessions: string, fs: ArtifactFs, sinceMs: number | undefined): Promise<Rollout[]> {
  const rollouts: Rollout[] = [];
  for (const year of await fs.list(sessions)) {
    const y = digits(year.name, 4);
    if (y === undefined || !year.isDirectory() || endedBefore(new Date(y + 1, 0, 1).getTime(), sinceMs)) continue;
    const yearDir = path.join(sessions, year.name);
    for (const month of await fs.list(yearDir)) {
      const m = digits(month.name, 2);
      if (m === undefined || !month.isDirectory() || endedBefore(new Date(y, m, 1).getTime(), sinceMs)) continue;
      const monthDir = path.join(yearDir, month.name);
      for (const day of await fs.list(monthDir)) {
        const d = digits(day.name, 2);
        if (d === undefined || !day.isDirectory() || endedBefore(new Date(y, m - 1, d + 1).getTime(), sinceMs)) continue;
        const dayDir = path.join(monthDir, day.name);
        for (const entry of await fs.list(dayDir)) {
          const rollout = rolloutOf(dayDir, entry);
          if (rollout) rollouts.push(rollout);
        }
      }
    }
  }
  return rollouts;
}

/** The rollout of `id` directly in `directory`, if it is there and its JSONL file exists. */
async function rolloutIn(directory: string, id: string, fs: ArtifactFs): Promise<string | undefined> {
  for (const entry of await fs.list(directory)) {
    const rollout = rolloutOf(directory, entry);
    if (rollout?.id === id && (await fs.stat(rollout.file))?.isFile()) return rollout.file;
  }
  return undefined;
}

/** Depth-first search for the rollout of `id` under `directory` (date trees are three levels deep). */
async function findRollout(directory: string, id: string, fs: ArtifactFs, depth: number): Promise<string | undefined> {
  const here = await rolloutIn(directory, id, fs);
  if (here !== undefined || depth === 0) return here;
  for (const entry of await fs.list(directory)) {
    if (!entry.isDirectory() || entry.name.startsWith('rollout-')) continue;
    const found = await findRollout(path.join(directory, entry.name), id, fs, depth - 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Codex thread ids are UUIDv7, whose first 48 bits are the creation time in ms: the local date
 * directories around it are where the rollout should be. Older builds used v4 ids, which give none.
 */
function uuidV7Days(id: string): string[] {
  const match = /^([0-9a-f]{8})-([0-9a-f]{4})-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/i.exec(id);
  if (!match) return [];
  const createdMs = Number.parseInt(`${match[1]}${match[2]}`, 16);
  return [0, -DAY_MS, DAY_MS].map((offset) => {
    const date = new Date(createdMs + offset);
    const pad = (value: number): string => String(value).padStart(2, '0');
    return path.join(String(date.getFullYear()), pad(date.getMonth() + 1), pad(date.getDate()));
  });
}

export const codex: AgentKind<'codex'> = {
  id: 'codex',
  conversationIdField: 'codex_session_id_own',
  command: 'codex',
  // Without it, Codex (0.14x on) hands its threads to a shared background app-server that outlives the pane: /quit
  // only disconnects ("any running work continues"), and every hook runs in that server with the environment of
  // whichever TUI started it, so MAM_SESSION and the pane are another session's (docs/agents.md, 'Codex').
  launchArgs: ['--no-daemon'],
  resumeArgs: (id) => ['resume', id],
  // Ctrl-C twice quits an idle Codex, typed input or not. During a turn the first interrupts it and the second is lost,
  // so /quit follows — with Enter twice, as keys that come in a burst are taken for a paste, whose Enter is a newline
  // (0.171: /quit and one Enter left Codex running four times in six). docs/agents.md, 'Codex'.
  exitKeys: [{ key: 'C-c' }, { key: 'C-c' }, { text: '/quit' }, { key: 'Enter' }, { key: 'Enter' }],
  conversationGone: /no (saved )?(session|rollout|thread)[^\n]*found|session[^\n]*not found/i,
  readyPattern: undefined,
  // docs/agents.md, 'Pane patterns' (codex-rs approval_overlay.rs via NTM, ccmanager).
  panePatterns: {
    busy: [/esc to interrupt/i, /^\s*[•·◦◐◑◒◓⬤]\s*(?:Working|Waiting for background|Thinking)\b/m],
    approval: [
      /Would you like to run the following command\?/,
      /Would you like to make the following edits\?/,
      /Do you want to approve network access to/,
      /Would you like to grant these permissions\?/,
      /Yes, proceed \(y\)/,
      /No, and tell Codex what to do differently/,
      /Press enter to confirm or esc to cancel/i,
    ],
    idle: [/^\s*›(?:\s|$)/m, /\? for shortcuts/, /\d+% context left/],
    // 0.171 fires PermissionRequest for a command approval; patch and network approvals, and older builds (issue 6),
    // were not seen to fire one, so the screen is still looked at.
    approvalOnlyOnScreen: true,
  },

  filesDir: (env, home) => env['CODEX_HOME'] || path.join(home, '.codex'),
  environment: ['CODEX_', 'OPENAI_'],

  matchesPaneCommand(command) {
    // No other process name (such as a platform-suffixed native binary) has been seen; stay exact.
    return command === 'codex';
  },

  artifactRoot(roots) {
    return path.join(roots.codex, 'sessions');
  },

  async conversations(workspace, query, sinceMs) {
    const { fs } = query;
    const canonicalWorkspace = await fs.canonicalPath(workspace);
    const canonical = new Map<string, Promise<string>>();
    const found: Conversation[] = [];
    for (const rollout of await datedRollouts(path.join(query.roots.codex, 'sessions'), fs, sinceMs)) {
      const stats = await fs.stat(rollout.file);
      if (!stats?.isFile() || (sinceMs !== undefined && stats.mtimeMs < sinceMs)) continue;
      const head = await fs.jsonlHead(rollout.file, stats, hasSessionMeta, Math.min(HEAD_BYTES, Math.max(stats.size, 1)));
      // No complete session_meta line yet (or a torn one): the rollout cannot be attributed.
      const meta = head && sessionMeta(head);
      const payload = recordField(meta, 'payload');
      const cwd = stringField(payload, 'cwd');
      if (!meta || !payload || cwd === undefined || isSubAgent(payload)) continue;
      let resolved = canonical.get(cwd);
      if (!resolved) {
        resolved = fs.canonicalPath(cwd);
        canonical.set(cwd, resolved);
      }
      if ((await resolved) !== canonicalWorkspace) continue;
      const startedMs = timeField(payload, 'timestamp') ?? timeField(meta, 'timestamp');
      found.push({ id: rollout.id, path: rollout.file, modifiedMs: stats.mtimeMs, startedMs });
    }
    return found.sort((a, b) => b.modifiedMs - a.modifiedMs);
  },

  async locate(id, _workspace, query) {
    if (!CONVERSATION_ID_PATTERN.test(id)) return null;
    const { fs } = query;
    const sessions = path.join(query.roots.codex, 'sessions');
    for (const day of uuidV7Days(id)) {
      const found = await rolloutIn(path.join(sessions, day), id, fs);
      if (found !== undefined) return found;
    }
    // Not where its id says: a v4 id, a clock change, or an archived rollout (flat or dated).
    for (const root of [sessions, path.join(query.roots.codex, 'archived_sessions')]) {
      const found = await findRollout(root, id, fs, 3);
      if (found !== undefined) return found;
    }
    return null;
  },

  async purgePaths(id, workspace, query) {
    const rollout = await this.locate(id, workspace, query);
    if (!rollout) return [];
    // The directory layout keeps segments beside rollout.jsonl: the whole directory is this thread's.
    const paths = [path.basename(rollout) === 'rollout.jsonl' ? path.dirname(rollout) : rollout];
    // Files named after the thread alone (0.171): its shell snapshots, and what the background server keeps per thread.
    const root = query.roots.codex;
    for (const entry of await query.fs.list(path.join(root, 'shell_snapshots'))) {
      if (entry.isFile() && entry.name.startsWith(`${id}.`) && entry.name.endsWith('.sh')) paths.push(path.join(root, 'shell_snapshots', entry.name));
    }
    for (const file of [path.join(root, 'thread-writer-locks', `${id}.lock`), path.join(root, 'tui-thread-reference-capabilities', id)]) {
      if ((await query.fs.stat(file))?.isFile()) paths.push(file);
    }
    return paths;
  },

  /**
   * Claude-compatible hooks.json in `$CODEX_HOME` (user) or `<repo>/.codex/` (project). No matcher: Codex supports one
   * only on some events, and an absent matcher matches everything. 0.171 runs a hook only once the person has trusted
   * it, and knows no PostToolUseFailure or Notification; StopFailure (in newer sources) it ignores. See
   * docs/agents.md, 'Codex'.
   */
  hooks: {
    label: 'Codex',
    help: '$CODEX_HOME/hooks.json or ~/.codex/hooks.json; project: <project>/.codex/hooks.json (Codex reads it for trusted projects). Codex runs a new or changed hook only once you trust it: at its next start choose "Trust all and continue" (or review them in /hooks).',
    events: ['SessionStart', 'UserPromptSubmit', 'PreToolUse', 'PermissionRequest', 'PostToolUse', 'Stop', 'StopFailure', 'Interrupt', 'SubagentStart', 'SubagentStop', 'SessionEnd'],
    // An interrupted turn (Esc, or Esc in an approval dialog) fires Interrupt and no Stop: the turn is over all the same.
    eventAliases: [{ event: 'Interrupt', means: 'Stop' }],
    settingsFile: (scope, roots, projectDir) => (scope === 'project' ? path.join(projectDir, '.codex', 'hooks.json') : path.join(roots.codex, 'hooks.json')),
    // Codex cuts a SessionEnd hook off after 3 s and warns about any longer timeout in its hook list.
    group: (command, timeoutSeconds, event) => ({ hooks: [{ type: 'command', command, timeout: event === 'SessionEnd' ? Math.min(timeoutSeconds, SESSION_END_MAX_SECONDS) : timeoutSeconds }] }),
    async readiness(roots) {
      // Trust is recorded per hook in config.toml, `[hooks.state."<hooks.json>:<event>:<group>:<hook>"]` with a
      // `trusted_hash`; Codex computes the hash, so mam says what to do rather than writing it.
      const config = path.join(roots.codex, 'config.toml');
      const hooksFile = path.join(roots.codex, 'hooks.json');
      const text = await readFile(config, 'utf8').catch(() => '');
      if (text.includes(`[hooks.state.${JSON.stringify(`${hooksFile}:session_start:`).slice(0, -1)}`)) return [];
      return [`note: Codex runs new or changed hooks only once you trust them: at its next start choose "Trust all and continue" (or review them in /hooks). Older builds also want \`codex_hooks = true\` under \`[features]\` in ${config}`];
    },
  },
};
