import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeClaudeTranscript } from '../helpers/claude-fixtures.js';
import { refusingTmux } from '../helpers/refusing-tmux.js';
import { monitorEachTest } from '../helpers/monitor-process.js';
import { mam, MAM } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * Upper bounds for a hang, never expectations of speed. START_MS covers a process starting (node loading the whole CLI,
 * then tmux) up to the monitor's first heartbeat, which a machine busy beside the suite took longer than 15 s to reach;
 * STEP_MS covers a running monitor's next pass noticing a change. A condition that holds at once costs nothing.
 */
const START_MS = 120_000;
const STEP_MS = 60_000;

const world = monitorEachTest();
const start = world.start;

async function localLog(): Promise<{ kind: string; text: string }[]> {
  const directory = path.join(world.box.root, 'cache', 'agent-sessions-monitor');
  const file = (await readdir(directory)).find((name) => name.endsWith('.local.jsonl'))!;
  return (await readFile(path.join(directory, file), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { kind: string; text: string });
}

describe('mam monitor on the local board', () => {
  it('heartbeats, comments a dying session once, and stops when "stop" is typed', async () => {
    const server = world.box.serverName('mon');
    await world.box.startSession(server, 'w-creator-claude', world.box.root);
    await world.box.writeRegistry(`tmux_sessions:\n  - {name: w-creator-claude, agent: claude, workspace: ${world.box.root}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: null}\n`);
    const monitor = start(['--registry', world.box.registry, '--tmux-server', server, '--interval', '0.2', '--heartbeat', '1']);

    await until(() => monitor.output().includes('[heartbeat] started'), 'the first heartbeat', START_MS);
    await world.box.killSession(server, 'w-creator-claude');
    await until(() => monitor.output().includes('w-creator-claude: tmux gone'), 'the drift comment', STEP_MS);
    await until(async () => (await localLog()).filter((entry) => entry.kind === 'heartbeat').length >= 3, 'periodic heartbeats', STEP_MS);
    monitor.process.stdin.write("don't stop\n");
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(monitor.process.exitCode).toBeNull();
    monitor.process.stdin.write('stop\n');
    expect(await monitor.exited).toBe(0);

    const log = await localLog();
    const comments = log.filter((entry) => entry.kind === 'comment');
    expect(comments).toHaveLength(1);
    expect(comments[0]!.text).toMatch(/^agent-sessions monitor: 1 change at .*\n- A w-creator-claude: tmux gone.*\n\[mam-monitor #1\]$/);
    expect(log.at(-1)).toMatchObject({ kind: 'block', text: expect.stringMatching(/^stop-requested by user at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) });
    expect(log.filter((entry) => entry.kind === 'heartbeat').at(-1)!.text).toMatch(/^alive, 1 drift detected, last at /);
  });

  it('wakes early when a delegated job reports, long before its interval', async () => {
    const server = world.box.serverName('monjob');
    const workspace = path.join(world.box.root, 'w');
    await world.box.startSession(server, 'w-creator-claude', workspace);
    await world.box.writeRegistry(`tmux_sessions:\n  - {name: w-creator-claude, agent: claude, workspace: ${workspace}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: null}\n`);
    const broker = spawn(process.execPath, [MAM, 'broker', '--dir', path.join(world.box.root, 'broker')], { env: world.box.env(), stdio: 'ignore' });
    try {
      await until(async () => (await readFile(path.join(world.box.root, 'broker', 'broker.json'), 'utf8').catch(() => '')) !== '', 'the broker', START_MS);
      const monitor = start(['--registry', world.box.registry, '--tmux-server', server, '--interval', '3600'], { MAM_LOG_LEVEL: 'info' });
      await until(() => monitor.output().includes('[heartbeat] started'), 'the first heartbeat', START_MS);
      // An event sent before its job source subscribed would never reach it (no session on the broker yet).
      await until(() => monitor.output().includes('job event source connected'), 'its job source to connect', START_MS);
      // A conversation appears: no tmux event. Only a job event can wake the monitor before its 3600 s interval, so
      // the comment arriving within STEP_MS, a small part of that interval, is the early wake; no stopwatch needed.
      await writeClaudeTranscript(world.box.home, workspace, 'c0ffee00-1111-4222-8333-444455556666');
      const jobs = path.join(world.box.root, 'jobs');
      const dry = await mam(['job', 'submit', '--agent', 'human', '--prompt', 'p', '--workdir', workspace, '--registry-dir', jobs, '--dry-run'], world.box.env());
      const id = /registered job: (j_[0-9a-f]{24})/.exec(dry.stdout)![1]!;
      expect((await mam(['job', 'event', '--job', id, '--event', 'started', '--registry-dir', jobs], world.box.env())).code).toBe(0);
      await until(() => monitor.output().includes('session id materialized c0ffee00'), 'the C comment', STEP_MS);
      monitor.process.stdin.write('stop\n');
      expect(await monitor.exited).toBe(0);
    } finally {
      broker.kill('SIGTERM');
    }
  });

  it('comments once when an agent has waited on an approval too long, and again when it is approved', async () => {
    const sid = '7d2c9f4e-3b1a-4c8e-9f00-2a6b1c3d4e5f';
    const server = world.box.serverName('approval');
    await world.box.startSession(server, 'a-creator-claude', world.box.root);
    await world.box.writeRegistry(`tmux_sessions:\n  - {name: a-creator-claude, agent: claude, workspace: ${world.box.root}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: ${sid}}\n`);
    const hook = (payload: Record<string, unknown>) =>
      new Promise<void>((resolve) => {
        const child = spawn(process.execPath, [MAM, 'hook'], { env: world.box.env() });
        child.once('exit', () => resolve());
        child.stdin.end(JSON.stringify({ session_id: sid, ...payload }));
      });
    await hook({ hook_event_name: 'UserPromptSubmit' });
    await hook({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'rm -rf build' }, tool_use_id: 'toolu_1' });
    await hook({ hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'rm -rf build' } });
    const monitor = start(['--registry', world.box.registry, '--tmux-server', server, '--interval', '0.2', '--approval-alert', '1']);
    await until(() => monitor.output().includes('a-creator-claude: waiting for approval since'), 'the approval comment', START_MS);
    await new Promise((resolve) => setTimeout(resolve, 800));
    await hook({ hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_use_id: 'toolu_1' });
    await until(() => monitor.output().includes('resolved: a-creator-claude: waiting for approval'), 'the resolved comment', STEP_MS);
    monitor.process.stdin.write('stop\n');
    expect(await monitor.exited).toBe(0);
    const comments = (await localLog()).filter((entry) => entry.kind === 'comment').map((entry) => entry.text);
    expect(comments.filter((text) => text.includes('- a-creator-claude: waiting for approval since'))).toHaveLength(1);
  });

  it('when control clients attach and then keep exiting: passes at --interval, one warning, a few -C spawns, no monitor session left', async () => {
    const server = world.box.serverName('moncc');
    const tmux = await refusingTmux(world.box.root, 'exits-after-1s');
    await world.box.startSession(server, 'keepalive', world.box.root);
    await world.box.startSession(server, 'w-creator-claude', world.box.root);
    await world.box.writeRegistry(`tmux_sessions:\n  - {name: w-creator-claude, agent: claude, workspace: ${world.box.root}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: null}\n`);
    const startedAt = Date.now();
    const monitor = start(['--registry', world.box.registry, '--tmux-server', server, '--interval', '0.5', '--heartbeat', '600'], { MAM_TMUX_BIN: tmux.bin });
    const fallback = (): number => monitor.output().split('\n').filter((line) => line.includes('tmux control mode does not work on this server')).length;
    await until(() => monitor.output().includes('[heartbeat] started'), 'the first heartbeat', START_MS);
    await until(() => fallback() === 1, 'the fallback warning', STEP_MS);
    await world.box.killSession(server, 'w-creator-claude');
    await until(() => monitor.output().includes('w-creator-claude: tmux gone'), 'the drift comment from an interval pass', STEP_MS);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, startedAt + 10_000 - Date.now())));
    expect(await tmux.spawns()).toBeGreaterThanOrEqual(1);
    expect(await tmux.spawns()).toBeLessThanOrEqual(4);
    // A client of the last try may still be attached on a slow machine; once it is gone, so is its session.
    await until(async () => (await world.box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim() === 'keepalive', 'no monitor session left', STEP_MS);
    expect(await tmux.spawns()).toBeLessThanOrEqual(4);
    expect(fallback()).toBe(1);
    monitor.process.stdin.write('stop\n');
    expect(await monitor.exited).toBe(0);
    expect(fallback()).toBe(1);
    expect((await world.box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim()).toBe('keepalive');
  });

  it('treats SIGINT as a stop request and exits 0', async () => {
    await world.box.writeRegistry('tmux_sessions: []\n');
    const monitor = start(['--registry', world.box.registry, '--tmux-server', world.box.serverName('sig'), '--interval', '0.2']);
    await until(() => monitor.output().includes('[heartbeat] started'), 'the first heartbeat', START_MS);
    monitor.process.kill('SIGINT');
    expect(await monitor.exited).toBe(0);
    expect((await localLog()).at(-1)).toMatchObject({ kind: 'block', text: expect.stringMatching(/^stop-requested by user at /) });
  });

  it('comments a broken registry once, keeps going, and says when it is readable again', async () => {
    await world.box.writeRegistry('tmux_sessions: []\n');
    const monitor = start(['--registry', world.box.registry, '--tmux-server', world.box.serverName('broken'), '--interval', '0.2']);
    await until(() => monitor.output().includes('[heartbeat] started'), 'the first heartbeat', START_MS);
    await world.box.writeRegistry('tmux_sessions: [\n');
    await until(() => monitor.output().includes('reconcile pass failed'), 'the failure comment', STEP_MS);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await world.box.writeRegistry('tmux_sessions: []\n');
    await until(() => monitor.output().includes('resolved: reconcile pass failed'), 'the recovery comment', STEP_MS);
    monitor.process.stdin.write('stop\n');
    expect(await monitor.exited).toBe(0);
    const comments = (await localLog()).filter((entry) => entry.kind === 'comment');
    expect(comments.map((entry) => entry.text.split('\n')[1])).toEqual([
      expect.stringMatching(/^- reconcile pass failed, nothing written: .*agent-sessions\.yaml:\d+:\d+: invalid YAML/),
      expect.stringMatching(/^- resolved: reconcile pass failed/),
    ]);
  });
});
