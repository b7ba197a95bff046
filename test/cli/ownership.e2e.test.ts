import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { startMonitor } from '../helpers/monitor-process.js';
import { emitted, mam, REPO, Sandbox, type MamResult } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * Issue 11, points 3 and 4, end to end on real tmux (private sockets), the built CLI and the fake Codex:
 * - `mam create` owns its entry (status: starting) before its tmux session exists, so a monitor woken by tmux
 *   push events never auto-registers a session create is still starting;
 * - sessions carry `@mam_registry`, so two registries on one tmux server never register each other's sessions,
 *   an orphan (its registry file deleted) is adopted, and stop/resume/delete refuse another registry's session.
 */

const FAKE_AGENT = path.join(REPO, 'test/fixtures/fake-agent.mjs');

let box: Sandbox;
let server: string;
let bin: string;
let monitor: ChildProcessWithoutNullStreams | undefined;

beforeEach(async () => {
  box = await Sandbox.create('mam-owner-');
  server = box.serverName('own');
  bin = path.join(box.root, 'bin');
  await mkdir(bin, { recursive: true });
  await symlink(FAKE_AGENT, path.join(bin, 'codex'));
});

afterEach(async () => {
  if (monitor && monitor.exitCode === null) monitor.kill('SIGKILL');
  monitor = undefined;
  await box.dispose();
});

function env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return box.env({
    PATH: `${bin}${path.delimiter}${process.env['PATH'] ?? ''}`,
    CODEX_HOME: path.join(box.root, 'codex-home'),
    MAM_TMUX_SERVER: server,
    ...extra,
  });
}

function run(args: readonly string[], extra: NodeJS.ProcessEnv = {}): Promise<MamResult> {
  return mam(args, env(extra));
}

async function workspace(name: string): Promise<string> {
  const dir = path.join(box.root, 'work', name);
  await mkdir(dir, { recursive: true });
  return dir;
}

function entriesOf(file: string): readonly RegistryEntry[] {
  return existsSync(file) ? parseRegistry(file, readFileSync(file, 'utf8')).entries : [];
}

/** The session's `@mam_registry` mark, read from tmux itself ('' when unmarked). */
async function ownerOf(name: string): Promise<string> {
  return (await box.tmux(server, 'display-message', '-p', '-t', `=${name}:`, '#{@mam_registry}')).trim();
}

describe('create and the monitor never race (issue 11.3)', () => {
  it('20 creates while a push-mode monitor watches the same server and registry: all succeed, none is auto-registered', async () => {
    // A session on the server first, so the monitor's control-mode client can attach before the creates begin.
    await box.startSession(server, 'placeholder', box.root);
    await box.writeRegistry('tmux_sessions: []\n');
    const started = startMonitor(['--registry', box.registry, '--tmux-server', server, '--interval', '60', '--heartbeat', '600'], env({ MAM_LOG_LEVEL: 'info' }));
    const spawned = (monitor = started.process);
    const { output } = started;
    await until(() => output().includes('[heartbeat] started') && output().includes('tmux control-mode client attached'), 'the monitor to start and attach to tmux', 180_000);

    const names = Array.from({ length: 20 }, (_, index) => `race${index}-creator-codex`);
    // Five at a time: concurrent enough that passes woken by one create land inside another's start-up.
    for (let batch = 0; batch < names.length; batch += 5) {
      const results = await Promise.all(
        names.slice(batch, batch + 5).map(async (name) => [name, await run(['create', '--agent', 'codex', '--workspace', await workspace(name), '--name', name, '--registry', box.registry])] as const),
      );
      for (const [name, result] of results) expect(result.code, `${name}: ${result.stderr}`).toBe(0);
    }

    const byName = new Map(entriesOf(box.registry).map((entry) => [entry.name, entry]));
    for (const name of names) {
      const entry = byName.get(name);
      expect(entry, name).toMatchObject({ status: 'running', agent: 'codex', start_command: 'codex --no-daemon', last_visible_status: null, tmux_server: server });
      expect(entry).not.toHaveProperty('starting_pid');
      expect(entry).not.toHaveProperty('starting_at');
      expect(await ownerOf(name)).toBe(box.registry);
    }

    // The monitor was awake all along: an unmarked creator session started by hand is registered (class B) and commented.
    await box.startSession(server, 'manual-creator-codex', await workspace('manual'));
    await until(() => output().includes('manual-creator-codex: tmux found but not in YAML'), 'the monitor to register the hand-made session', 180_000);
    spawned.stdin.write('stop\n');
    await until(() => spawned.exitCode !== null, 'the monitor to stop', 180_000);

    const directory = path.join(box.root, 'cache', 'agent-sessions-monitor');
    const logFile = (await readdir(directory)).find((name) => name.endsWith('.local.jsonl'))!;
    const comments = (await readFile(path.join(directory, logFile), 'utf8'))
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { kind: string; text: string })
      .filter((entry) => entry.kind === 'comment')
      .map((entry) => entry.text)
      .join('\n');
    expect(comments).toContain('manual-creator-codex: tmux found but not in YAML');
    for (const name of names) expect(comments).not.toContain(name);
    for (const name of names) expect(output()).not.toContain(`${name}: tmux found`);
    expect(await ownerOf('manual-creator-codex')).toBe(box.registry);
    expect(await ownerOf('placeholder')).toBe('');
  });

  it('a create that cannot make its session leaves no entry behind', async () => {
    await box.startSession(server, 'dup-creator-codex', box.root);
    const result = await run(['create', '--agent', 'codex', '--workspace', await workspace('dup'), '--name', 'dup-creator-codex', '--registry', box.registry]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('a tmux session named dup-creator-codex already exists');
    expect(entriesOf(box.registry).map((entry) => entry.name)).toEqual([]);
    // The hand-made session is untouched and still unmarked, free for the next pass to register.
    expect(await ownerOf('dup-creator-codex')).toBe('');
  });

  it('a pass repairs entries left starting by a creator that died; live ones are refused by stop and delete', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    const deadPid = dead.pid!;
    await new Promise((resolve) => dead.once('exit', resolve));
    const ws = await workspace('w');
    await box.startSession(server, 'alive-creator-codex', ws);
    const starting = (name: string, pid: number): string =>
      `  - {name: ${name}, agent: codex, workspace: ${ws}, status: starting, tmux_server: ${server}, start_command: codex, starting_pid: ${pid}, starting_at: ${new Date().toISOString()}, created_at: ${new Date().toISOString()}}\n`;
    await box.writeRegistry(`tmux_sessions:\n${starting('alive-creator-codex', deadPid)}${starting('never-creator-codex', deadPid)}${starting('busy-creator-codex', process.pid)}`);

    for (const command of ['stop', 'delete', 'resume']) {
      const refused = await run([command, '--session', 'busy-creator-codex', '--registry', box.registry]);
      expect(refused.code, command).toBe(1);
      expect(refused.stderr).toContain(`busy-creator-codex is being started by mam (pid ${process.pid})`);
    }

    const result = await run(['reconcile', '--once', '--emit-diff', '--registry', box.registry, '--tmux-server', server]);
    expect(result.code, result.stderr).toBe(0);
    const report = emitted(result);
    expect(report.drifts.map((drift) => [drift['class'], drift['session']])).toEqual([
      ['B', 'alive-creator-codex'],
      ['A', 'never-creator-codex'],
    ]);
    expect(String(report.drifts[0]!['message'])).toContain(`left starting (its creator, mam pid ${deadPid}, is gone), tmux alive. Marked running.`);
    const byName = new Map(entriesOf(box.registry).map((entry) => [entry.name, entry]));
    expect(byName.get('alive-creator-codex')).toMatchObject({ status: 'running', start_command: 'codex', pane: { cwd: ws } });
    expect(byName.get('alive-creator-codex')).not.toHaveProperty('starting_pid');
    expect(byName.get('never-creator-codex')).toMatchObject({ status: 'terminated', termination_mode: 'auto-detected' });
    // Its creator is alive and it is young: left alone.
    expect(byName.get('busy-creator-codex')).toMatchObject({ status: 'starting', starting_pid: process.pid });
    // The repaired session is marked as this registry's now.
    expect(await ownerOf('alive-creator-codex')).toBe(box.registry);
  });
});

describe('two registries on one tmux server (issue 11.4)', () => {
  it('never register each other\'s sessions, refuse each other\'s stop/resume/delete, and adopt an orphan', async () => {
    const one = path.join(box.root, 'one', 'agent-sessions.yaml');
    const two = path.join(box.root, 'two', 'agent-sessions.yaml');
    const ws = await workspace('proj');
    const created = await run(['create', '--agent', 'codex', '--workspace', ws, '--registry', one]);
    expect(created.code, created.stderr).toBe(0);
    const name = 'proj-creator-codex';
    expect(await ownerOf(name)).toBe(one);

    const quiet = await run(['reconcile', '--once', '--emit-diff', '--registry', two, '--tmux-server', server]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(emitted(quiet)).toMatchObject({ drifts: [], problems: [], written: false });
    expect(existsSync(two)).toBe(false);

    const verbose = await run(['reconcile', '--once', '--emit-diff', '--verbose', '--registry', two, '--tmux-server', server]);
    expect(verbose.code, verbose.stderr).toBe(0);
    expect(emitted(verbose)).toMatchObject({ drifts: [], written: false, problems: [{ kind: 'owned-elsewhere', session: name, owner: one, tmux_server: server }] });

    for (const command of ['stop', 'resume', 'delete']) {
      const refused = await run([command, '--session', name, '--registry', two]);
      expect(refused.code, command).toBe(1);
      expect(refused.stderr.trim()).toBe(`mam: session ${name} belongs to registry ${one}; run this with --registry ${one}`);
    }
    expect(await ownerOf(name)).toBe(one);
    expect(entriesOf(one).find((entry) => entry.name === name)).toMatchObject({ status: 'running' });

    // Registry one is gone: its session is an orphan, and registry two adopts it.
    await rm(one);
    const adopted = await run(['reconcile', '--once', '--emit-diff', '--registry', two, '--tmux-server', server]);
    expect(adopted.code, adopted.stderr).toBe(0);
    const report = emitted(adopted);
    expect(report.drifts).toEqual([expect.objectContaining({ class: 'B', session: name, message: `${name}: tmux found but not in YAML. Adopted from ${one}, which no longer exists.` })]);
    expect(entriesOf(two)).toEqual([expect.objectContaining({ name, agent: 'codex', status: 'running', workspace: ws, last_visible_status: 'auto-registered' })]);
    expect(await ownerOf(name)).toBe(two);

    // Now registry two's: a second pass changes nothing, and its stop works.
    expect(emitted(await run(['reconcile', '--once', '--emit-diff', '--registry', two, '--tmux-server', server]))).toMatchObject({ drifts: [], written: false });
    const stopped = await run(['stop', '--session', name, '--registry', two]);
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(entriesOf(two)[0]).toMatchObject({ status: 'stopped' });
  });
});
