import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startHookAgent, type HookAgent } from '../helpers/hook-agent.js';
import { mam, MAM, Sandbox } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * Needs approval first (docs/status.md): a PermissionRequest the fast hook spooled counts as needs approval for the
 * readers of status before the watcher records it. Real processes: the hooks `mam hooks install` wrote, run by a
 * stand-in agent as Claude runs them; the real `mam watch`, held stopped (SIGSTOP) where the watcher must not have
 * recorded yet; the real `mam status --json` and `mam status --tmux`.
 */
const SID = '5e1f0a2b-8c3d-4e5f-9a6b-7c8d9e0f1a2b';
const LONG = 60_000;

let box: Sandbox;
let dir: string;
let agents: HookAgent[] = [];
let stopped: number[] = [];
beforeEach(async () => {
  box = await Sandbox.create('mam-approval-first-');
  dir = path.join(box.root, 'cache', 'mam', 'status');
  await box.writeRegistry(`tmux_sessions:\n  - {name: w-appr-claude, agent: claude, workspace: /w, status: running, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: ${SID}}\n`);
});
afterEach(async () => {
  for (const pid of stopped) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  stopped = [];
  for (const agent of agents) agent.process.kill('SIGKILL');
  agents = [];
  await box.dispose();
});

const env = (): NodeJS.ProcessEnv => box.env({ MAM_REGISTRY: box.registry, MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '60' });

/** A stand-in agent running, for each event, the command `mam hooks install` wrote for it. */
async function installedAgent(): Promise<HookAgent> {
  const installed = await mam(['hooks', 'install', '--agent', 'claude'], env());
  expect(installed.code, installed.stderr).toBe(0);
  const settings = JSON.parse(await readFile(path.join(box.home, '.claude', 'settings.json'), 'utf8')) as { hooks: Record<string, { hooks: { command: string }[] }[]> };
  const commands = Object.fromEntries(Object.entries(settings.hooks).map(([event, groups]) => [event, groups[0]!.hooks[0]!.command]));
  expect(commands['PermissionRequest']).toMatch(/mam-hook\.sh --agent claude --node \S+ --event PermissionRequest$/);
  expect(commands['PreToolUse']).not.toContain('--event');
  const agent = startHookAgent(env(), box.root, commands);
  agents.push(agent);
  return agent;
}

const spooled = async (): Promise<string[]> => (await readdir(path.join(dir, 'spool')).catch(() => [] as string[])).sort();
const watcherPid = async (): Promise<number | undefined> => {
  const pid = Number((await readFile(path.join(dir, 'watch.pid'), 'utf8').catch(() => '')).split(' ')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
};
async function activity(): Promise<string | null> {
  const result = await mam(['status', '--json'], env());
  expect(result.code, result.stderr).toBe(0);
  const row = (JSON.parse(result.stdout) as { sessions: { name: string; activity: string | null }[] }).sessions.find((candidate) => candidate.name === 'w-appr-claude');
  return row?.activity ?? null;
}
const recorded = async (): Promise<string | undefined> =>
  readFile(path.join(dir, `${SID}.agent.main.json`), 'utf8').then(
    (text) => (JSON.parse(text) as { status: string }).status,
    () => undefined,
  );

const tool = { tool_name: 'Bash', tool_input: { command: 'touch x' } };

/** The agent's session started and recorded, a turn and a tool under way, and then the watcher stopped. */
async function untilToolThenStopWatcher(agent: HookAgent): Promise<number> {
  await agent.hook({ session_id: SID, hook_event_name: 'SessionStart', source: 'startup', cwd: box.root });
  await agent.hook({ session_id: SID, hook_event_name: 'UserPromptSubmit', prompt: 'go' });
  await agent.hook({ session_id: SID, hook_event_name: 'PreToolUse', ...tool, tool_use_id: 'toolu_1' });
  await until(async () => (await recorded()) === 'working' && (await spooled()).length === 0, 'the turn recorded', LONG);
  const watcher = await untilValue(watcherPid, 'the watcher the hook started', LONG);
  // Stopped, it still counts as running: the hooks spool and start no other, and nothing is recorded.
  process.kill(watcher, 'SIGSTOP');
  stopped.push(watcher);
  return watcher;
}

describe('needs approval first (the fast hook)', () => {
  it('a spooled PermissionRequest is needs approval to mam status before the watcher records it; the watcher then records the same', async () => {
    const agent = await installedAgent();
    const watcher = await untilToolThenStopWatcher(agent);
    expect(await activity()).toBe('working');

    await agent.hook({ session_id: SID, hook_event_name: 'PermissionRequest', ...tool });
    expect((await spooled()).filter((name) => name.endsWith('.PermissionRequest'))).toHaveLength(1);
    expect(await recorded()).toBe('working');
    expect(await activity()).toBe('needs_approval');
    // The tmux segment too: the watcher's file does not have it yet, so it is counted from the facts.
    const segment = await mam(['status', '--tmux'], { ...env(), NO_COLOR: '1' });
    expect(segment.stdout).toContain('⚠');

    process.kill(watcher, 'SIGCONT');
    await until(async () => (await spooled()).length === 0 && (await recorded()) === 'needs_approval', 'the watcher records the approval', LONG);
    expect(await activity()).toBe('needs_approval');
  });

  it('a marker stops counting once a later hook of the agent is spooled, or something later was recorded', async () => {
    const agent = await installedAgent();
    const watcher = await untilToolThenStopWatcher(agent);
    await agent.hook({ session_id: SID, hook_event_name: 'PermissionRequest', ...tool });
    expect(await activity()).toBe('needs_approval');
    // Approved: the tool ran and its PostToolUse is spooled after the marker.
    await agent.hook({ session_id: SID, hook_event_name: 'PostToolUse', ...tool, tool_use_id: 'toolu_1', tool_response: { stdout: '' } });
    expect(await spooled()).toHaveLength(2);
    expect(await activity()).toBe('working');

    // A marker left while something later was recorded without the spool (the Node hook, MAM_WATCH=0): the record wins.
    await agent.hook({ session_id: SID, hook_event_name: 'PreToolUse', ...tool, tool_use_id: 'toolu_2' });
    await agent.hook({ session_id: SID, hook_event_name: 'PermissionRequest', ...tool });
    const nodeHook = spawn(process.execPath, [MAM, 'hook', '--agent', 'claude'], { env: { ...env(), MAM_WATCH: '0' }, stdio: ['pipe', 'ignore', 'ignore'] });
    const exited = new Promise((resolve) => nodeHook.once('exit', resolve));
    nodeHook.stdin.end(JSON.stringify({ session_id: SID, hook_event_name: 'Stop' }));
    await exited;
    expect(await recorded()).toBe('waiting');
    // Both markers still spooled: the first superseded by the hooks after it, the second by the later record.
    expect((await spooled()).filter((name) => name.endsWith('.PermissionRequest'))).toHaveLength(2);
    expect(await activity()).toBe('waiting');
    process.kill(watcher, 'SIGKILL');
  });

  it("a marker of an agent that died does not count", async () => {
    const agent = await installedAgent();
    await untilToolThenStopWatcher(agent);
    await agent.hook({ session_id: SID, hook_event_name: 'PermissionRequest', ...tool });
    expect(await activity()).toBe('needs_approval');
    agent.process.kill('SIGKILL');
    await until(() => agent.process.exitCode !== null || agent.process.signalCode !== null, 'the agent gone', LONG);
    expect((await spooled()).filter((name) => name.endsWith('.PermissionRequest'))).toHaveLength(1);
    expect(await activity()).toBe('working');
  });
});
