import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alive } from '../helpers/fake-agents.js';
import { KINDS, lifecycleEachTest } from '../helpers/lifecycle-e2e.js';
import { until } from '../helpers/until.js';

/**
 * `mam create / stop / delete / status` given bad inputs and odd states: what they refuse (and that they leave
 * nothing behind), sessions gone or never registered, a locked registry. Set-up: test/helpers/lifecycle-e2e.ts.
 */

const { box, server, mamRun, workspace, registryText, entries, entryOf, events, sessions, create, holdRegistryLock } = lifecycleEachTest();

describe('mam lifecycle: bad inputs and odd states', () => {
  it('create refuses a workspace that does not exist: nothing started, nothing registered', async () => {
    const missing = path.join(box().root, 'work', 'nope');
    const result = await mamRun(['create', '--agent', 'codex', '--workspace', missing]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`workspace ${missing} does not exist`);
    expect(entries()).toEqual([]);
    expect(await sessions()).toEqual([]);
    expect(events()).toEqual([]);
  });

  it('create refuses an agent whose binary is not on PATH, with a clear error and nothing left behind', async () => {
    // A PATH with tmux and flock but none of the agents.
    const sysbin = path.join(box().root, 'sysbin');
    await mkdir(sysbin);
    for (const tool of ['tmux', 'flock']) {
      const real = execFileSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).trim();
      await symlink(real, path.join(sysbin, tool));
    }
    const ws = await workspace('nobin');
    for (const kind of KINDS) {
      const result = await mamRun(['create', '--agent', kind, '--workspace', ws], { PATH: sysbin });
      expect(result.code, kind).toBe(1);
      expect(result.stderr).toContain(`${kind} not found on PATH`);
      expect(result.stderr).toContain('nothing was created');
    }
    expect(entries()).toEqual([]);
    expect(await sessions()).toEqual([]);
    expect(events()).toEqual([]);
  });

  it('create refuses a name already in the registry, and one tmux already has, leaving both sessions alone', async () => {
    const first = await create('codex', 'dup');
    const again = await mamRun(['create', '--agent', 'codex', '--workspace', first.ws]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`session ${first.name} is already in the registry`);
    expect(entries().map((entry) => entry.name)).toEqual([first.name]);
    expect(entryOf(first.name).pane?.pid).toBe(first.pid);
    expect(alive(first.pid)).toBe(true);
    expect(events().filter((event) => event.event === 'start')).toHaveLength(1);

    // A tmux session by that name that mam never registered.
    const strayPid = await box().startSession(server(), 'taken', first.ws);
    const taken = await mamRun(['create', '--agent', 'codex', '--workspace', first.ws, '--name', 'taken']);
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(`a tmux session named taken already exists on tmux server ${server()}`);
    expect(entries().map((entry) => entry.name)).toEqual([first.name]);
    expect(alive(strayPid)).toBe(true);
    expect((await box().tmux(server(), 'display-message', '-p', '-t', '=taken:', '#{pane_pid}')).trim()).toBe(String(strayPid));
    expect((await sessions()).sort()).toEqual([first.name, 'taken'].sort());
  });

  it.each([
    ['a shell command', 'a;rm -rf ~'],
    ['a tmux target separator', 'x:y'],
    ['300 characters', 'n'.repeat(300)],
  ])('create refuses a hostile --name (%s) before anything runs', async (_what, name) => {
    const canary = path.join(box().home, 'canary');
    await writeFile(canary, 'still here');
    const ws = await workspace('hostile');
    const result = await mamRun(['create', '--agent', 'codex', '--workspace', ws, '--name', name]);
    expect(result.code).toBe(64);
    expect(result.stderr).toContain(`session name ${JSON.stringify(name)} is not`);
    expect(existsSync(box().registry)).toBe(false);
    expect(await sessions()).toEqual([]);
    expect(events()).toEqual([]);
    expect(readFileSync(canary, 'utf8')).toBe('still here');
  });

  it('stop of a session killed behind mam\'s back updates the registry and says the termination was auto-detected', async () => {
    const created = await create('gemini', 'killed');
    await box().killSession(server(), created.name);
    await until(() => !alive(created.pid), 'the agent to die with its tmux session', 60_000);

    const stop = await mamRun(['stop', '--session', created.name]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout.trim()).toBe(`stopped ${created.name} (already-gone)`);
    expect(stop.stderr).toContain('already gone');
    const entry = entryOf(created.name);
    expect(entry).toMatchObject({ status: 'stopped', termination_mode: 'auto-detected', resumable: true, stop_reason: 'user-requested' });
    expect(entry.stopped_at).toBeTruthy();
    expect(entry.stopped_at_epoch).toEqual(expect.any(Number));
  });

  it('stop refuses an unregistered tmux session unless --force-no-yaml', async () => {
    const ws = await workspace('stray');
    const pid = await box().startSession(server(), 'stray', ws);
    const refused = await mamRun(['stop', '--session', 'stray', '--tmux-server', server()]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/stray is not in the registry .*--force-no-yaml/);
    expect(alive(pid)).toBe(true);
    expect(await sessions()).toEqual(['stray']);

    const forced = await mamRun(['stop', '--session', 'stray', '--tmux-server', server(), '--force-no-yaml']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout.trim()).toMatch(/^stopped stray \((exit-keys|kill-session|sigkill)\); not registered, nothing recorded$/);
    expect(alive(pid)).toBe(false);
    expect(await sessions()).toEqual([]);
    expect(existsSync(box().registry)).toBe(false);
  });

  it('delete refuses a running session', async () => {
    const created = await create('agy', 'busy');
    const before = registryText();
    const result = await mamRun(['delete', '--session', created.name]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${created.name} is running; stop it first`);
    expect(registryText()).toBe(before);
    expect(existsSync(path.join(path.dirname(box().registry), 'agent-sessions.history.jsonl'))).toBe(false);
    expect(alive(created.pid)).toBe(true);
  });

  it('status shows live, gone-while-running and stopped sessions, as a table and as JSON', async () => {
    const live = await create('codex', 'live');
    const vanished = await create('gemini', 'vanished');
    const parked = await create('agy', 'parked');
    await box().killSession(server(), vanished.name);
    const stop = await mamRun(['stop', '--session', parked.name]);
    expect(stop.code, stop.stderr).toBe(0);

    const json = await mamRun(['status', '--json']);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as { sessions: Array<Record<string, unknown>> };
    expect(report.sessions).toEqual([
      expect.objectContaining({ name: live.name, agent: 'codex', status: 'running', tmux: 'alive', tmux_server: server() }),
      expect.objectContaining({ name: vanished.name, agent: 'gemini', status: 'running', tmux: 'gone' }),
      expect.objectContaining({ name: parked.name, agent: 'agy', status: 'stopped', tmux: 'gone' }),
    ]);

    const table = await mamRun(['status']);
    expect(table.code, table.stderr).toBe(0);
    const [where, header, ...rows] = table.stdout.trim().split('\n');
    expect(where).toBe(`registry: ${box().registry}`);
    expect(header!.split(/\s+/)).toEqual(['NAME', 'AGENT', 'STATUS', 'TMUX', 'ACTIVITY', 'CONVERSATION', 'AGE', 'WORKSPACE']);
    const cells = (name: string): string[] => rows.find((row) => row.startsWith(`${name} `))!.split(/\s+/);
    expect(cells(live.name).slice(0, 4)).toEqual([live.name, 'codex', 'running', 'alive']);
    expect(cells(vanished.name).slice(0, 4)).toEqual([vanished.name, 'gemini', 'running', 'GONE']);
    expect(cells(parked.name).slice(0, 4)).toEqual([parked.name, 'agy', 'stopped', 'gone']);
    expect(cells(live.name).at(-1)).toBe(live.ws);
  });

  it('create with the registry locked by another writer fails clearly, writes nothing and leaves no tmux session', async () => {
    const first = await create('codex', 'locked-a');
    const before = registryText();
    const lockFile = await holdRegistryLock();
    const ws = await workspace('locked-b');

    const result = await mamRun(['create', '--agent', 'codex', '--workspace', ws, '--name', 'locked-b'], { MAM_LOCK_TIMEOUT: '1' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${lockFile}: still locked by another writer`);
    expect(registryText()).toBe(before);
    expect(await sessions()).toEqual([first.name]);
    // The agent that was started for it is gone again.
    for (const started of events().filter((event) => event.event === 'start' && event.cwd === ws)) {
      await until(() => !alive(started.pid), 'the unregistered agent to be gone', 60_000);
    }
  });

  it('stop with the registry locked by another writer fails clearly and changes nothing', async () => {
    const created = await create('codex', 'locked-stop');
    const before = registryText();
    const lockFile = await holdRegistryLock();

    const result = await mamRun(['stop', '--session', created.name], { MAM_LOCK_TIMEOUT: '1' });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain(`${lockFile}: still locked by another writer`);
    expect(registryText()).toBe(before);
    // Nothing was stopped that the registry could not record.
    expect(alive(created.pid)).toBe(true);
    expect(await sessions()).toEqual([created.name]);
  });
});
