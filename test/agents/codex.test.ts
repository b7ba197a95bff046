import { mkdir, mkdtemp, realpath, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { codex } from '../../src/agents/codex.js';
import { ArtifactFs } from '../../src/agents/fs.js';
import { artifactRoots } from '../../src/agents/index.js';
import type { ArtifactQuery } from '../../src/agents/types.js';

const DAY = 24 * 60 * 60 * 1000;

let home: string;
let workspace: string;
let query: ArtifactQuery;

beforeEach(async () => {
  home = await realpath(await mkdtemp(path.join(os.tmpdir(), 'mam-codex-')));
  workspace = path.join(home, 'work', 'x');
  await mkdir(workspace, { recursive: true });
  query = { roots: artifactRoots({}, home), fs: new ArtifactFs() };
});

afterEach(async () => {
  await rm(home, { recursive: true, force: true });
});

const pad = (value: number): string => String(value).padStart(2, '0');

/** The local-time date directory and file-name stamp Codex uses for `ms`. */
function localParts(ms: number): { day: string; stamp: string } {
  const d = new Date(ms);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return {
    day: path.join(String(d.getFullYear()), pad(d.getMonth() + 1), pad(d.getDate())),
    stamp: `${date}T${pad(d.getHours())}-${pad(d.getMinutes())}-${pad(d.getSeconds())}`,
  };
}

/** A UUIDv7 whose embedded time is `ms`, as Codex thread ids are. */
function uuidV7(ms: number, tail: string): string {
  const hex = ms.toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7683-a4e9-${tail.padStart(12, '0')}`;
}

function metaLine(id: string, cwd: string, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    timestamp: '2026-06-03T05:52:07.152Z',
    type: 'session_meta',
    payload: { id, timestamp: '2026-06-03T05:51:37.722Z', cwd, originator: 'codex_cli_rs', cli_version: '0.130.0', source: 'cli', ...extra },
  });
}

const REST = [
  JSON.stringify({ timestamp: '2026-06-03T05:52:07.200Z', type: 'turn_context', payload: { cwd: '/elsewhere', model: 'gpt-5.4' } }),
  JSON.stringify({ timestamp: '2026-06-03T05:52:07.281Z', type: 'event_msg', payload: { type: 'user_message', message: 'fix it' } }),
];

interface RolloutOptions {
  readonly createdMs?: number;
  readonly mtime?: Date;
  readonly content?: string | Buffer;
  readonly layout?: 'file' | 'directory';
  readonly under?: string;
}

/** Writes a rollout in the shape docs/agents.md, 'Codex', gives and returns the JSONL file's path. */
async function rollout(id: string, cwd: string, options: RolloutOptions = {}): Promise<string> {
  const { day, stamp } = localParts(options.createdMs ?? Date.now());
  const directory = options.under ?? path.join(home, '.codex', 'sessions', day);
  const name = `rollout-${stamp}-${id}`;
  const file = options.layout === 'directory' ? path.join(directory, name, 'rollout.jsonl') : path.join(directory, `${name}.jsonl`);
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, options.content ?? `${[metaLine(id, cwd), ...REST].join('\n')}\n`);
  if (options.mtime) await utimes(file, options.mtime, options.mtime);
  return file;
}

const ids = async (sinceMs?: number, fs = query.fs): Promise<string[]> =>
  (await codex.conversations(workspace, { ...query, fs }, sinceMs)).map((c) => c.id);

describe('codex.conversations', () => {
  it('lists rollouts whose session_meta cwd is the workspace, newest first, and nothing from other cwds', async () => {
    const now = Date.now();
    const older = uuidV7(now - 2 * DAY, '1');
    const newer = uuidV7(now, '2');
    const olderFile = await rollout(older, workspace, { createdMs: now - 2 * DAY, mtime: new Date(now - DAY) });
    const newerFile = await rollout(newer, workspace, { createdMs: now });
    await rollout(uuidV7(now, '3'), path.join(home, 'work', 'other'), { createdMs: now });
    const found = await codex.conversations(workspace, query);
    expect(found.map((c) => [c.id, c.path])).toEqual([
      [newer, newerFile],
      [older, olderFile],
    ]);
    expect(found[0]?.startedMs).toBe(Date.parse('2026-06-03T05:51:37.722Z'));
  });

  it('compares cwds canonically (symlinked workspace)', async () => {
    const id = uuidV7(Date.now(), '4');
    await rollout(id, workspace);
    const link = path.join(home, 'link');
    await symlink(workspace, link);
    expect((await codex.conversations(link, query)).map((c) => c.id)).toEqual([id]);
  });

  it('reads the directory layout rollout-<date>-<id>/rollout.jsonl', async () => {
    const id = uuidV7(Date.now(), '5');
    const file = await rollout(id, workspace, { layout: 'directory' });
    expect(await codex.conversations(workspace, query)).toMatchObject([{ id, path: file }]);
    expect(await codex.locate(id, workspace, query)).toBe(file);
  });

  it('skips empty rollouts, a torn session_meta, and a first line that is not session_meta', async () => {
    const now = Date.now();
    await rollout(uuidV7(now, 'a1'), workspace, { content: '' });
    await rollout(uuidV7(now, 'a2'), workspace, { content: metaLine(uuidV7(now, 'a2'), workspace).slice(0, 90) });
    await rollout(uuidV7(now, 'a3'), workspace, { content: `${REST.join('\n')}\n` });
    const torn = uuidV7(now, 'a4');
    await rollout(torn, workspace, { content: `${metaLine(torn, workspace)}\n${REST[0]?.slice(0, 40) ?? ''}` });
    expect(await ids()).toEqual([torn]);
  });

  it('survives bytes that are not UTF-8 in and after session_meta', async () => {
    const withBadBytes = (id: string, cwd: string): Buffer => {
      const [before, after] = metaLine(id, cwd, { instructions: 'INSTR' }).split('INSTR');
      return Buffer.concat([
        Buffer.from(before ?? ''),
        Buffer.from([0xff, 0xc3, 0x28]),
        Buffer.from(`${after ?? ''}\n`),
        Buffer.from([0x80, 0x0a]),
      ]);
    };
    const id = uuidV7(Date.now(), 'b1');
    await rollout(id, workspace, { content: withBadBytes(id, workspace) });
    const other = uuidV7(Date.now(), 'b2');
    await rollout(other, path.join(home, 'work', 'other'), { content: withBadBytes(other, path.join(home, 'work', 'other')) });
    expect(await ids()).toEqual([id]);
  });

  it('reads a session_meta line larger than 64 KB (base instructions)', async () => {
    const id = uuidV7(Date.now(), 'c1');
    const big = metaLine(id, workspace, { base_instructions: { text: 'x'.repeat(200 * 1024) } });
    await rollout(id, workspace, { content: `${big}\n${REST.join('\n')}\n` });
    expect(await ids()).toEqual([id]);
  });

  it("leaves out Codex's own sub-agent threads", async () => {
    const now = Date.now();
    const root = uuidV7(now, 'd1');
    await rollout(root, workspace);
    const child = uuidV7(now, 'd2');
    const spawned = { subagent: { thread_spawn: { parent_thread_id: root, depth: 1 } } };
    await rollout(child, workspace, { content: `${metaLine(child, workspace, { source: spawned })}\n` });
    expect(await ids()).toEqual([root]);
  });

  it('honours CODEX_HOME and returns nothing when the root is missing', async () => {
    expect(await ids()).toEqual([]);
    expect(await codex.locate(uuidV7(Date.now(), 'e1'), workspace, query)).toBeNull();
    const codexHome = path.join(home, 'custom-codex');
    const id = uuidV7(Date.now(), 'e2');
    const { day } = localParts(Date.now());
    const file = await rollout(id, workspace, { under: path.join(codexHome, 'sessions', day) });
    const custom: ArtifactQuery = { roots: artifactRoots({ CODEX_HOME: codexHome }, home), fs: new ArtifactFs() };
    expect(codex.artifactRoot(custom.roots)).toBe(path.join(codexHome, 'sessions'));
    expect((await codex.conversations(workspace, custom)).map((c) => c.id)).toEqual([id]);
    expect(await codex.locate(id, workspace, custom)).toBe(file);
    expect(await ids(undefined, new ArtifactFs())).toEqual([]);
  });

  it('uses sinceMs to skip old date directories without reading them, and old files by mtime', async () => {
    const since = Date.now() - 10 * DAY;
    const recent = new Date();
    const dayBefore = uuidV7(since - DAY, 'f1');
    await rollout(dayBefore, workspace, { createdMs: since - DAY, mtime: recent });
    const monthsOld = uuidV7(since - 90 * DAY, 'f2');
    const oldFile = await rollout(monthsOld, workspace, { createdMs: since - 90 * DAY, mtime: recent });
    const daysOld = uuidV7(since - 3 * DAY, 'f3');
    await rollout(daysOld, workspace, { createdMs: since - 3 * DAY, mtime: recent });
    const stale = uuidV7(since + DAY, 'f4');
    await rollout(stale, workspace, { createdMs: since + DAY, mtime: new Date(since - 1000) });
    const fresh = uuidV7(since + 2 * DAY, 'f5');
    await rollout(fresh, workspace, { createdMs: since + 2 * DAY });

    const fs = new ArtifactFs();
    const list = vi.spyOn(fs, 'list');
    expect((await ids(since, fs)).sort()).toEqual([dayBefore, fresh].sort());
    const listed = list.mock.calls.map(([directory]) => directory);
    expect(listed).not.toContain(path.dirname(oldFile));
    // Without sinceMs everything counts: the exclusions above came from sinceMs alone.
    expect((await ids()).sort()).toEqual([dayBefore, monthsOld, daysOld, stale, fresh].sort());
  });
});

describe('codex.locate', () => {
  it('finds a rollout by its exact id in its date directory', async () => {
    const now = Date.now();
    const id = uuidV7(now, '9');
    const file = await rollout(id, workspace, { createdMs: now });
    expect(await codex.locate(id, workspace, query)).toBe(file);
    // A fragment of the id is not the id.
    expect(await codex.locate(id.split('-').at(-1) ?? '', workspace, query)).toBeNull();
    expect(await codex.locate(uuidV7(now, '8'), workspace, query)).toBeNull();
  });

  it('finds a v4 id filed under an unrelated date, and archived rollouts', async () => {
    const v4 = '5973b6c0-94b8-487b-a530-2aeb6098ae0e';
    const dated = await rollout(v4, workspace, { createdMs: Date.now() - 400 * DAY });
    expect(await codex.locate(v4, workspace, query)).toBe(dated);
    const archived = uuidV7(Date.now() - 30 * DAY, '7');
    const flat = await rollout(archived, workspace, { under: path.join(home, '.codex', 'archived_sessions') });
    expect(await codex.locate(archived, workspace, query)).toBe(flat);
    // Archived rollouts are not live conversations.
    expect(await ids()).toEqual([v4]);
  });

  it('refuses a hostile id without touching the filesystem', async () => {
    await mkdir(path.join(home, '.codex', 'sessions'), { recursive: true });
    await writeFile(path.join(home, '.codex', 'x.jsonl'), `${metaLine('x', workspace)}\n`);
    const fs = new ArtifactFs();
    const spies = [vi.spyOn(fs, 'stat'), vi.spyOn(fs, 'list'), vi.spyOn(fs, 'exists'), vi.spyOn(fs, 'jsonlHead')];
    for (const hostile of ['../x', '..', 'a/../../x', '']) {
      expect(await codex.locate(hostile, workspace, { roots: query.roots, fs })).toBeNull();
    }
    for (const spy of spies) expect(spy).not.toHaveBeenCalled();
  });
});

describe('codex.matchesPaneCommand', () => {
  it('matches codex only', () => {
    expect(codex.matchesPaneCommand('codex')).toBe(true);
    expect(codex.matchesPaneCommand('node')).toBe(false);
    expect(codex.matchesPaneCommand('codexx')).toBe(false);
    expect(codex.id).toBe('codex');
    expect(codex.conversationIdField).toBe('codex_session_id_own');
  });
});

describe('codex.purgePaths', () => {
  it('takes the rollout and the files named after the thread alone (0.171: shell snapshots, writer lock, TUI capabilities)', async () => {
    const now = Date.now();
    const id = uuidV7(now, '5');
    const other = uuidV7(now, '6');
    const file = await rollout(id, workspace, { createdMs: now });
    await rollout(other, workspace, { createdMs: now });
    const root = path.join(home, '.codex');
    for (const dir of ['shell_snapshots', 'thread-writer-locks', 'tui-thread-reference-capabilities']) await mkdir(path.join(root, dir), { recursive: true });
    const own = [path.join(root, 'shell_snapshots', `${id}.1796273003930083624.sh`), path.join(root, 'thread-writer-locks', `${id}.lock`), path.join(root, 'tui-thread-reference-capabilities', id)];
    const theirs = [path.join(root, 'shell_snapshots', `${other}.1.sh`), path.join(root, 'thread-writer-locks', `${other}.lock`), path.join(root, 'thread-writer-locks', '.coordination.lock'), path.join(root, 'session_index.jsonl'), path.join(root, 'history.jsonl')];
    for (const path_ of [...own, ...theirs]) await writeFile(path_, 'x');
    // A name that only starts like the id is another file.
    await writeFile(path.join(root, 'shell_snapshots', `${id}x.1.sh`), 'x');
    expect((await codex.purgePaths(id, workspace, query)).sort()).toEqual([file, ...own].sort());
  });

  it('takes the whole directory of the directory layout, and nothing for an id it cannot find', async () => {
    const id = uuidV7(Date.now(), '4');
    const file = await rollout(id, workspace, { layout: 'directory' });
    expect(await codex.purgePaths(id, workspace, query)).toEqual([path.dirname(file)]);
    expect(await codex.purgePaths(uuidV7(Date.now(), '3'), workspace, query)).toEqual([]);
  });
});

describe('codex 0.171 rollouts', () => {
  it('reads the session_meta 0.171.0 writes (ordinal, account_scoped, history_mode; source "cli" or "vscode")', async () => {
    const id = uuidV7(Date.now(), 'a');
    const meta = (source: string): string =>
      JSON.stringify({
        timestamp: '2026-12-03T04:35:57.680Z',
        ordinal: 0,
        type: 'session_meta',
        payload: { account_scoped: true, session_id: id, id, timestamp: '2026-12-03T04:35:47.501Z', cwd: workspace, runtime_workspace_roots: [workspace], originator: 'codex-tui', cli_version: '0.171.0', source, thread_source: 'user', model_provider: 'scripted', base_instructions: 'You are a coding agent…', history_mode: 'paginated', context_window: { window_id: id } },
      });
    await rollout(id, workspace, { content: `${meta('cli')}\n${REST.join('\n')}\n` });
    expect(await codex.conversations(workspace, query)).toEqual([expect.objectContaining({ id, startedMs: Date.parse('2026-12-03T04:35:47.501Z') })]);
    const viaServer = uuidV7(Date.now(), 'b');
    await rollout(viaServer, workspace, { content: `${meta('vscode').replaceAll(id, viaServer)}\n` });
    expect((await ids(undefined, new ArtifactFs())).sort()).toEqual([id, viaServer].sort());
  });
});

describe('codex launch and hooks', () => {
  it('starts without the shared background server, stops with Ctrl-C twice and /quit, and resumes by `resume <id>`', () => {
    expect(codex.launchArgs).toEqual(['--no-daemon']);
    expect(codex.exitKeys).toEqual([{ key: 'C-c' }, { key: 'C-c' }, { text: '/quit' }, { key: 'Enter' }, { key: 'Enter' }]);
    expect(codex.resumeArgs('01a23a2f-e6a2-7d60-9951-2b4eef12a40f')).toEqual(['resume', '01a23a2f-e6a2-7d60-9951-2b4eef12a40f']);
    // What 0.171 prints for an id it has no rollout for, with and without the thread database knowing it.
    expect(codex.conversationGone?.test('ERROR: No saved session found with ID 01a23a2f-0000-7000-8000-000000000000. Run `codex resume` without an ID')).toBe(true);
    expect(codex.conversationGone?.test('thread/resume failed: no rollout found for thread id 01a23a35-88eb-7053-be76-0c9a4043b80b (code -32600)')).toBe(true);
  });

  it('registers Interrupt and SessionEnd, maps Interrupt onto Stop, and keeps a SessionEnd timeout within 3 s', () => {
    const hooks = codex.hooks!;
    expect(hooks.events).toEqual(expect.arrayContaining(['Interrupt', 'SessionEnd', 'PermissionRequest']));
    expect(hooks.eventAliases).toEqual([{ event: 'Interrupt', means: 'Stop' }]);
    expect(hooks.group('mam-hook --agent codex', 10, 'SessionEnd')).toEqual({ hooks: [{ type: 'command', command: 'mam-hook --agent codex', timeout: 3 }] });
    expect(hooks.group('mam-hook --agent codex', 10, 'Stop')).toEqual({ hooks: [{ type: 'command', command: 'mam-hook --agent codex', timeout: 10 }] });
  });

  it('says the hooks need trusting until config.toml records a trusted hash for them', async () => {
    const readiness = (): Promise<string[]> => codex.hooks!.readiness!(query.roots);
    expect(await readiness()).toEqual([expect.stringContaining('Trust all and continue')]);
    await mkdir(path.join(home, '.codex'), { recursive: true });
    const hooksFile = path.join(home, '.codex', 'hooks.json');
    await writeFile(path.join(home, '.codex', 'config.toml'), `[hooks.state."/elsewhere/hooks.json:session_start:0:0"]\ntrusted_hash = "sha256:1"\n`);
    expect(await readiness()).toHaveLength(1);
    await writeFile(path.join(home, '.codex', 'config.toml'), `model = "x"\n\n[hooks.state]\n\n[hooks.state."${hooksFile}:session_start:0:0"]\ntrusted_hash = "sha256:a94c"\n`);
    expect(await readiness()).toEqual([]);
  });
});
