import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactFs } from '../../src/agents/fs.js';
import { agentForPane, agentKind, AGENT_KINDS, artifactRoots, launcherFor, registerAgentKind } from '../../src/agents/index.js';
import type { AgentKind, ArtifactRoots, Conversation } from '../../src/agents/types.js';
import { applyHook, sessionStatus, type Facts, type HookPayload } from '../../src/facts/derive.js';
import { hookEventAliases } from '../../src/facts/hook.js';
import { hookSettingsFile, hookTarget, isHookAgent, mergeHooks } from '../../src/facts/hooks-install.js';
import { observe } from '../../src/reconcile/observe.js';
import { applyPatch } from '../../src/reconcile/pass.js';
import { reconcile } from '../../src/reconcile/reconcile.js';
import type { Observation } from '../../src/reconcile/types.js';
import { parseRegistry, stringifyRegistry } from '../../src/registry/document.js';
import type { ServerSnapshot, TmuxPane } from '../../src/tmux/client.js';
import { classifyPane } from '../../src/watch/pane.js';
import { paneTarget } from '../../src/watch/pane-sampler.js';

/**
 * Adding an agent touches one file (issue 12): `tinker`, an agent that exists only in this file, is registered in the
 * agent table and then recognised by the pure core without a line of mam changed — reconcile registers a session
 * running it and records its conversation in its own registry field, its hook events (its own names) derive a status,
 * and its pane patterns read its screen. A real agent is a module in src/agents/ with its line in the table.
 */

/** Tinker keeps one file per chat, `<files>/chats/<id>.json`, saying where it was started: `{"cwd": "/abs"}`. */
const chatsDir = (roots: ArtifactRoots): string => path.join(roots['tinker'] ?? path.join(roots.home, '.tinker'), 'chats');

const tinker: AgentKind<'tinker'> = {
  id: 'tinker',
  conversationIdField: 'tinker_session_id_own',
  command: 'tinker',
  resumeArgs: (id) => ['--chat', id],
  exitKeys: [{ text: '/bye' }, { key: 'Enter' }],
  conversationGone: /no chat named/,
  readyPattern: /^tinker> $/m,
  panePatterns: { busy: [/tinkering \(\d+s\)/], approval: [/May I run .*\? \[y\/n\]/], idle: [/^tinker> ?$/m] },
  filesDir: (env, home) => env['TINKER_HOME'] || path.join(home, '.tinker'),
  matchesPaneCommand: (command) => command === 'tinker',
  artifactRoot: (roots) => chatsDir(roots),

  async conversations(workspace, query, sinceMs) {
    const found: Conversation[] = [];
    for (const entry of await query.fs.list(chatsDir(query.roots))) {
      if (!entry.isFile() || !entry.name.endsWith('.json')) continue;
      const file = path.join(chatsDir(query.roots), entry.name);
      const stats = await query.fs.stat(file);
      const chat = await query.fs.readJson(file);
      if (!stats || (sinceMs !== undefined && stats.mtimeMs < sinceMs)) continue;
      if (typeof chat !== 'object' || chat === null || (chat as { cwd?: unknown }).cwd !== workspace) continue;
      found.push({ id: entry.name.slice(0, -'.json'.length), path: file, modifiedMs: stats.mtimeMs, startedMs: undefined });
    }
    return found.sort((a, b) => b.modifiedMs - a.modifiedMs);
  },

  async locate(id, _workspace, query) {
    const file = path.join(chatsDir(query.roots), `${id}.json`);
    return (await query.fs.exists(file)) ? file : null;
  },

  async purgePaths(id, workspace, query) {
    const file = await this.locate(id, workspace, query);
    return file ? [file] : [];
  },

  hooks: {
    label: 'Tinker',
    help: '$TINKER_HOME/hooks.json or ~/.tinker/hooks.json; project: <project>/.tinker/hooks.json',
    events: ['SessionStart', 'Asked', 'ToolStarting', 'ToolDone', 'Idle'],
    eventAliases: [
      { event: 'Asked', means: 'UserPromptSubmit' },
      { event: 'ToolStarting', means: 'PreToolUse' },
      { event: 'ToolDone', means: 'PostToolUse' },
      { event: 'Idle', when: { reason: 'done' }, means: 'Stop' },
    ],
    settingsFile: (scope, roots, projectDir) => path.join(scope === 'project' ? path.join(projectDir, '.tinker') : (roots['tinker'] ?? roots.home), 'hooks.json'),
    group: (command, timeoutSeconds) => ({ hooks: [{ type: 'command', command, timeout: timeoutSeconds }] }),
  },
};

const REGISTRY = '/r/agent-sessions.yaml';

function pane(session: string, fields: Partial<TmuxPane> = {}): TmuxPane {
  return { session, windowIndex: 0, paneIndex: 0, paneId: '%1', pid: 100, command: 'tinker', cwd: '/w/lab', dead: false, title: '', owner: null, ...fields };
}

const up = (panes: TmuxPane[], server: string | null = 'tk'): ServerSnapshot => ({ server, state: 'up', panes });

const observation = (servers: ServerSnapshot[], now: number): Observation => ({ at: now, servers, artifacts: new Map(), processAncestry: new Map(), problems: [] });

let root: string;
let unregister: () => void;

beforeAll(async () => {
  unregister = registerAgentKind(tinker);
  root = await mkdtemp(path.join(os.tmpdir(), 'mam-tinker-'));
});

afterAll(async () => {
  unregister();
  await rm(root, { recursive: true, force: true });
});

describe('an agent kind defined in one file (tinker)', () => {
  it('is in the table once registered: by id, by its pane command, its files under its id, its launcher', () => {
    expect(agentKind('tinker')).toBe(tinker);
    expect(agentForPane('tinker')).toBe(tinker);
    expect(artifactRoots({ TINKER_HOME: '/t' }, '/h')['tinker']).toBe('/t');
    expect(artifactRoots({}, '/h')['tinker']).toBe('/h/.tinker');
    expect(launcherFor('tinker').resumeArgs('chat-1')).toEqual(['--chat', 'chat-1']);
    expect(() => registerAgentKind({ ...tinker, id: 'tinker2' })).toThrow(/same id or conversation id field/);
  });

  it('reconcile registers a tmux session running it — by its name, or by its pane command — awaiting its conversation id', () => {
    const now = Date.now();
    const registry = parseRegistry(REGISTRY, 'tmux_sessions: []\n');
    const panes = [
      pane('lab-creator-tinker'),
      // Marked as this registry's, named for no agent: the pane's command says which.
      pane('scratch', { paneId: '%2', pid: 101, owner: REGISTRY }),
    ];
    const result = reconcile(registry, observation([up(panes)], now), now);
    expect(result.drifts.map((drift) => [drift.class, drift.session])).toEqual([
      ['B', 'lab-creator-tinker'],
      ['B', 'scratch'],
    ]);
    expect(result.patch.additions).toEqual([
      expect.objectContaining({ name: 'lab-creator-tinker', agent: 'tinker', workspace: '/w/lab', tinker_session_id_own: null }),
      expect.objectContaining({ name: 'scratch', agent: 'tinker', workspace: '/w/lab', tinker_session_id_own: null }),
    ]);
  });

  it('reads its conversation from its own files, records it in its own registry field, and that field reads back', async () => {
    const now = Date.now();
    const files = path.join(root, 'tinker-files');
    const workspace = path.join(root, 'lab');
    const chat = path.join(files, 'chats', 'chat-7.json');
    await mkdir(path.dirname(chat), { recursive: true });
    await mkdir(workspace);
    await writeFile(chat, JSON.stringify({ cwd: workspace }));
    await writeFile(path.join(files, 'chats', 'chat-8.json'), JSON.stringify({ cwd: '/somewhere/else' }));
    const text = `tmux_sessions:\n  - {name: lab-creator-tinker, agent: tinker, workspace: ${workspace}, status: running, tmux_server: tk, created_at: 2026-01-01T00:00:00Z, tinker_session_id_own: null}\n`;
    const registry = parseRegistry(REGISTRY, text);
    expect(registry.invalid).toEqual([]);

    // The artifact side of a pass, for real; tmux has no server in this private directory, so it sees none.
    const tmuxDir = path.join(root, 'tmux');
    await mkdir(tmuxDir);
    const options = { extraServers: [], tmux: { env: { ...process.env, TMUX_TMPDIR: tmuxDir } }, artifacts: { roots: artifactRoots({ TINKER_HOME: files }, path.join(root, 'home')), fs: new ArtifactFs() } };
    const seen = await observe(registry, options, () => now);
    expect(seen.artifacts.get('lab-creator-tinker')).toMatchObject({ agent: 'tinker', root: path.join(files, 'chats'), rootExists: true, candidates: [expect.objectContaining({ id: 'chat-7', path: chat })] });

    // With the agent alive in its pane, the pass records the conversation in tinker_session_id_own (class C).
    const result = reconcile(registry, { ...seen, servers: [up([pane('lab-creator-tinker', { cwd: workspace })])] }, now);
    expect(result.drifts).toEqual([expect.objectContaining({ class: 'C', session: 'lab-creator-tinker', field: 'tinker_session_id_own', conversation_id: 'chat-7', path: chat })]);
    applyPatch(registry.sessions, result.patch);
    const after = parseRegistry(REGISTRY, stringifyRegistry(registry.document));
    expect(after.entries[0]?.['tinker_session_id_own']).toBe('chat-7');

    // Recorded: the next pass checks that its file is still there, and looks for no other.
    const next = await observe(after, options, () => now);
    expect(next.artifacts.get('lab-creator-tinker')).toMatchObject({ candidates: [], recorded: [{ field: 'tinker_session_id_own', id: 'chat-7', path: chat }] });
    // Its field is checked like every conversation id field.
    expect(parseRegistry(REGISTRY, text.replace('tinker_session_id_own: null', 'tinker_session_id_own: ../x')).invalid[0]?.reason).toMatch(/^tinker_session_id_own: conversation ids are letters/);
  });

  it('its own hook event names derive its status, through the aliases its module declares; its hooks install', async () => {
    const steps: HookPayload[] = [
      { hook_event_name: 'SessionStart', source: 'startup' },
      { hook_event_name: 'Asked', prompt: 'fix the build' },
      { hook_event_name: 'ToolStarting', tool_name: 'shell', tool_input: { command: 'make' }, tool_use_id: 't1' },
      { hook_event_name: 'ToolDone', tool_name: 'shell', tool_use_id: 't1' },
      // Not the alias's `when`: an event mam does not know, which changes nothing.
      { hook_event_name: 'Idle', reason: 'thinking' },
      { hook_event_name: 'Idle', reason: 'done' },
    ];
    let facts: Facts = { session: undefined, agents: {} };
    const statuses: (string | undefined)[] = [];
    for (const [index, payload] of steps.entries()) {
      // What `mam hook --agent tinker` does: the aliases from the table (mam-hook has a built-in copy of the table's).
      const eventAliases = await hookEventAliases('tinker', String(payload['hook_event_name']));
      facts = applyHook(facts, { session_id: 'tinker-1', ...payload }, { now: 1_000 * (index + 1), agent: 'tinker', mamSession: null, pid: 1, eventAliases }).facts;
      statuses.push(sessionStatus(facts.agents));
    }
    expect(statuses).toEqual(['waiting', 'working', 'working', 'working', 'working', 'waiting']);

    expect(isHookAgent('tinker')).toBe(true);
    const target = hookTarget('tinker');
    expect(hookSettingsFile(target, 'user', { HOME: '/h', TINKER_HOME: '/t' }, '/p')).toBe('/t/hooks.json');
    expect(hookSettingsFile(target, 'project', { HOME: '/h' }, '/p')).toBe('/p/.tinker/hooks.json');
    const { settings, change } = mergeHooks(target, {}, 'mam-hook --agent tinker');
    expect(change).toEqual({ added: 5, removed: 0, unchanged: 0 });
    expect(Object.keys(settings['hooks'] as Record<string, unknown>)).toEqual(tinker.hooks?.events);
  });

  it('its pane patterns classify its screen, for the watcher that reads the panes no hook reports for', () => {
    const target = paneTarget({ name: 'lab-creator-tinker', agent: 'tinker', tmux_server: 'tk' }, undefined);
    expect(target).toMatchObject({ session: 'lab-creator-tinker', server: 'tk' });
    const patterns = target?.patterns ?? { busy: [], approval: [], idle: [] };
    expect(classifyPane(patterns, 'compiling\ntinkering (4s)\n')).toBe('working');
    expect(classifyPane(patterns, 'May I run make install? [y/n]\n')).toBe('needs_approval');
    expect(classifyPane(patterns, 'done.\ntinker> \n')).toBe('waiting');
    // Its hooks answer for it: the pane is left alone.
    expect(paneTarget({ name: 'lab-creator-tinker', agent: 'tinker' }, 'working')).toBeUndefined();
  });

  it('leaves the table as it was once unregistered', () => {
    unregister();
    expect(agentKind('tinker')).toBeUndefined();
    expect(AGENT_KINDS.map((kind) => kind.id)).toEqual(['claude', 'codex', 'gemini', 'agy']);
  });
});
