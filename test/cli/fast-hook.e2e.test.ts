import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import { startHookAgent, type HookAgent } from '../helpers/hook-agent.js';
import { MAM, Sandbox } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * The fast hook (dist/cli/mam-hook.sh, what `mam hooks install` writes): it spools each payload and exits, and the
 * watcher records them. Real processes throughout: a stand-in agent runs the installed command through `sh -c` once
 * per payload, one after another, as Claude does; the watcher is the real `mam watch`, started by the hook itself.
 */
const FAST_HOOK = path.join(path.dirname(MAM), 'mam-hook.sh');
const SID = '7d2c9f4e-3b1a-4c8e-9f00-2a6b1c3d4e5f';
const LONG = 60_000;

let box: Sandbox;
let dir: string;
let agents: HookAgent[] = [];
beforeEach(async () => {
  box = await Sandbox.create('mam-fast-hook-');
  dir = path.join(box.root, 'cache', 'mam', 'status');
});
afterEach(async () => {
  for (const agent of agents) agent.process.kill('SIGKILL');
  agents = [];
  await box.dispose();
});

/** A stand-in agent whose hook is the fast one, run as agents run it: `/bin/sh -c '<command>'`. */
function agentWith(env: NodeJS.ProcessEnv, node = process.execPath, wrap = (command: string): string => command): HookAgent {
  const agent = startHookAgent(env, box.root, wrap(`/bin/sh ${FAST_HOOK} --agent claude --node ${node}`));
  agents.push(agent);
  return agent;
}

const spooled = async (): Promise<string[]> => (await readdir(path.join(dir, 'spool')).catch(() => [] as string[])).sort();
const readJson = async <T>(file: string): Promise<T | undefined> =>
  readFile(path.join(dir, file), 'utf8').then(
    (text) => JSON.parse(text) as T,
    () => undefined,
  );
type AgentFile = { status: string; tools: Record<string, { status: string; tool_name: string }> };
const main = (sid = SID): Promise<AgentFile | undefined> => readJson<AgentFile>(`${sid}.agent.main.json`);
const watcherPid = async (): Promise<number | undefined> => {
  const text = await readFile(path.join(dir, 'watch.pid'), 'utf8').catch(() => '');
  const pid = Number(text.split(' ')[0]);
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
};
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** One tool's three events: any two applied in the wrong order leave it open (or its approval wait behind). */
function toolEvents(index: number): Record<string, unknown>[] {
  const tool = { tool_name: 'Bash', tool_input: { command: `echo ${index}` } };
  return [
    { session_id: SID, hook_event_name: 'PreToolUse', ...tool, tool_use_id: `toolu_${index}` },
    { session_id: SID, hook_event_name: 'PermissionRequest', ...tool },
    { session_id: SID, hook_event_name: 'PostToolUse', ...tool, tool_use_id: `toolu_${index}`, tool_response: { stdout: `${index}` } },
  ];
}

/**
 * A PATH with the few commands the fast hook runs and no `node`: with `--node` pointing nowhere as well, the hook
 * cannot start a watcher, as when Node is missing or broken.
 */
async function pathWithoutNode(): Promise<string> {
  const bin = path.join(box.root, 'bin-no-node');
  await mkdir(bin, { recursive: true });
  for (const command of ['cat', 'mv', 'mkdir', 'rm', 'setsid']) await symlink(path.join('/usr/bin', command), path.join(bin, command)).catch(() => symlink(path.join('/bin', command), path.join(bin, command)));
  return bin;
}

describe('the fast hook', () => {
  it('starts the watcher, which records a burst of payloads in the order the hooks ran, for the agent that ran them', async () => {
    const env = box.env({ MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '2' });
    // Through a shell that stays (`; :`), as agents that wrap their hooks do: the hook walks up to the agent itself.
    const agent = agentWith(env, process.execPath, (command) => `${command}; :`);
    await agent.hook({ session_id: SID, hook_event_name: 'SessionStart', source: 'startup', cwd: box.root });
    await agent.hook({ session_id: SID, hook_event_name: 'UserPromptSubmit', prompt: 'go' });
    for (let index = 0; index < 40; index++) for (const payload of toolEvents(index)) await agent.hook(payload);
    await agent.hook({ session_id: SID, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'last' }, tool_use_id: 'toolu_last' });
    await agent.hook({ session_id: SID, hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'last' } });

    await until(async () => (await main())?.status === 'needs_approval' && (await spooled()).length === 0, 'every payload recorded', LONG, {
      detail: async () => `spool: ${(await spooled()).length} files; facts: ${JSON.stringify(await main())}`,
    });
    // Only the last tool is open, waiting for approval: every earlier triple was applied in order.
    expect(Object.keys((await main())!.tools)).toEqual(['toolu_last']);
    const session = await readJson<{ pid: number; agent: string }>(`${SID}.session.json`);
    expect(session).toMatchObject({ pid: agent.process.pid, agent: 'claude' });
    expect(await readFile(path.join(dir, 'hook-errors.log'), 'utf8').catch(() => '')).toBe('');
  });

  it('keeps payloads in the spool while no watcher can run, and a watcher started later records them all, in order', async () => {
    const env = box.env({ MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '2', PATH: await pathWithoutNode() });
    const agent = agentWith(env, path.join(box.root, 'no-such-node'));
    await agent.hook({ session_id: SID, hook_event_name: 'SessionStart', source: 'startup', cwd: box.root });
    for (let index = 0; index < 10; index++) for (const payload of toolEvents(index)) await agent.hook(payload);
    await agent.hook({ session_id: SID, hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'last' }, tool_use_id: 'toolu_last' });
    await agent.hook({ session_id: SID, hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'last' } });
    // Nothing recorded, nothing lost: 33 payloads wait, none of them a temp file.
    expect((await spooled()).filter((name) => !name.startsWith('.'))).toHaveLength(33);
    expect(await main()).toBeUndefined();
    expect(await watcherPid()).toBeUndefined();

    const watcher = spawn(process.execPath, [MAM, 'watch'], { env: box.env({ MAM_WATCH_IDLE_EXIT: '2' }), stdio: 'ignore' });
    try {
      await until(async () => (await spooled()).length === 0, 'the spool recorded', LONG);
      // In order: SessionStart first (else it would wipe what followed), every triple closed, the last tool waiting.
      expect((await main())!.status).toBe('needs_approval');
      expect(Object.keys((await main())!.tools)).toEqual(['toolu_last']);
    } finally {
      watcher.kill('SIGTERM');
    }
  });

  it('loses nothing when the watcher is killed with payloads waiting: the next hook starts another, which records them', async () => {
    const env = box.env({ MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '30' });
    const agent = agentWith(env);
    await agent.hook({ session_id: SID, hook_event_name: 'SessionStart', source: 'startup', cwd: box.root });
    await until(async () => (await main())?.status === 'waiting', 'SessionStart recorded', LONG);
    const first = await untilValue(watcherPid, 'the watcher', LONG);
    // Stopped, it still counts as running: the hooks spool and start no other.
    process.kill(first, 'SIGSTOP');
    await agent.hook({ session_id: SID, hook_event_name: 'UserPromptSubmit', prompt: 'go' });
    for (let index = 0; index < 5; index++) for (const payload of toolEvents(index)) await agent.hook(payload);
    expect(await spooled()).toHaveLength(16);
    process.kill(first, 'SIGKILL');
    await until(() => !alive(first), 'the watcher gone', LONG);
    expect(await spooled()).toHaveLength(16);

    await agent.hook({ session_id: SID, hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: { file_path: '/x' }, tool_use_id: 'toolu_read' });
    await until(async () => (await spooled()).length === 0 && Object.keys((await main())?.tools ?? {}).join() === 'toolu_read', 'all 17 recorded by a new watcher', LONG, {
      detail: async () => `spool: ${(await spooled()).length}; facts: ${JSON.stringify(await main())}`,
    });
    expect(await watcherPid()).not.toBe(first);
    expect((await main())!.status).toBe('working');
  });

  it('never reads the temp file of a hook killed mid-write, and removes it', async () => {
    const env = box.env({ MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '30' });
    const agent = agentWith(env);
    await agent.hook({ session_id: SID, hook_event_name: 'SessionStart', source: 'startup', cwd: box.root });
    await until(async () => (await main())?.status === 'waiting', 'SessionStart recorded', LONG);

    // A hook whose agent dies halfway through writing the payload: its whole process group is killed.
    const half = JSON.stringify({ session_id: SID, hook_event_name: 'UserPromptSubmit', prompt: 'x'.repeat(4096) }).slice(0, 2000);
    const dying = spawn('/bin/sh', [FAST_HOOK, '--agent', 'claude', '--node', process.execPath], { env, stdio: ['pipe', 'ignore', 'ignore'], detached: true });
    dying.stdin.write(half);
    const temp = await untilValue(async () => (await spooled()).find((name) => name.endsWith('.tmp')), 'the temp file', LONG);
    process.kill(-dying.pid!, 'SIGKILL');
    await new Promise((resolve) => dying.once('exit', resolve));

    // The next watcher start (this one is stopped for it) sweeps the dead hook's temp file away, unread.
    const first = await untilValue(watcherPid, 'the watcher', LONG);
    process.kill(first, 'SIGKILL');
    await until(() => !alive(first), 'the watcher gone', LONG);
    await agent.hook({ session_id: SID, hook_event_name: 'Stop' });
    await until(async () => (await spooled()).length === 0, `${temp} removed and Stop recorded`, LONG, { detail: async () => (await spooled()).join(', ') });
    expect((await main())!.status).toBe('waiting');
    expect(await readFile(path.join(dir, 'hook-errors.log'), 'utf8').catch(() => '')).toBe('');
  });

  it('records payloads over 1 MB whole: a PostToolUse with a 3 MB tool_response closes its tool', async () => {
    const env = box.env({ MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '30' });
    const agent = agentWith(env);
    await agent.hook({ session_id: SID, hook_event_name: 'UserPromptSubmit', prompt: 'read it' });
    await agent.hook({ session_id: SID, hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: { file_path: '/big' }, tool_use_id: 'toolu_big' });
    await agent.hook({ session_id: SID, hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: { file_path: '/other' }, tool_use_id: 'toolu_other' });
    await agent.hook({ session_id: SID, hook_event_name: 'PostToolUse', tool_name: 'Read', tool_input: { file_path: '/big' }, tool_use_id: 'toolu_big', tool_response: { content: `"quoted" \\ ${'y'.repeat(3 * 1024 * 1024)}` } });
    await until(async () => (await spooled()).length === 0 && Object.keys((await main())?.tools ?? {}).join() === 'toolu_other', 'the big PostToolUse recorded', LONG, {
      detail: async () => `facts: ${JSON.stringify(await main())}; errors: ${await readFile(path.join(dir, 'hook-errors.log'), 'utf8').catch(() => '')}`,
    });
  });

  it('records the conversation id of the session mam started from the watcher; a payload that is not JSON is logged and dropped', async () => {
    await box.writeRegistry(`tmux_sessions:\n  - {name: w-creator-claude, agent: claude, workspace: /w, status: running, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: null}\n`);
    const env = box.env({ MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '30', MAM_SESSION: 'w-creator-claude', MAM_REGISTRY: box.registry });
    const agent = agentWith(env);
    await agent.hook({ session_id: SID, hook_event_name: 'SessionStart', source: 'startup', cwd: '/w' });
    await until(async () => parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries[0]?.claude_session_id_own === SID, 'the id in the registry', LONG);
    expect((await readJson<{ mam_session: string }>(`${SID}.session.json`))?.mam_session).toBe('w-creator-claude');

    const bad = spawn('/bin/sh', [FAST_HOOK, '--agent', 'claude', '--node', process.execPath], { env, stdio: ['pipe', 'ignore', 'ignore'] });
    bad.stdin.end('not json');
    await new Promise((resolve) => bad.once('exit', resolve));
    await until(async () => /hook payload is not a JSON object .*\(spool file \d+-\d+\)/.test(await readFile(path.join(dir, 'hook-errors.log'), 'utf8').catch(() => '')), 'the error logged', LONG);
    await until(async () => (await spooled()).length === 0, 'the bad payload dropped', LONG);
  });

  it('with MAM_WATCH=0 hands the payload to the Node hook, which records it before exiting', async () => {
    const env = box.env({ MAM_WATCH: '0' });
    const child = spawn('/bin/sh', [FAST_HOOK, '--agent', 'claude', '--node', process.execPath], { env, stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin.end(JSON.stringify({ session_id: SID, hook_event_name: 'UserPromptSubmit', prompt: 'hi' }));
    expect(await new Promise((resolve) => child.once('exit', resolve))).toBe(0);
    expect((await main())?.status).toBe('working');
    expect(await spooled()).toEqual([]);
    expect(await watcherPid()).toBeUndefined();
  });

  it('an agent that keeps stdin open holds the hook only until its hook timeout: the SIGTERM spools the payload, and it is recorded', async () => {
    const env = box.env({ MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '30' });
    const hook = spawn('/bin/sh', [FAST_HOOK, '--agent', 'claude', '--node', process.execPath], { env, stdio: ['pipe', 'ignore', 'ignore'] });
    const exited = new Promise<number | null>((resolve) => hook.once('exit', resolve));
    try {
      // The whole payload, and the pipe left open: sh cannot tell where the JSON object ends, so it waits for more.
      hook.stdin.write(JSON.stringify({ session_id: SID, hook_event_name: 'UserPromptSubmit', prompt: 'kept open' }));
      await until(async () => {
        const temp = (await spooled()).find((name) => name.endsWith('.tmp'));
        return temp !== undefined && (await readFile(path.join(dir, 'spool', temp), 'utf8').catch(() => '')).includes('kept open');
      }, 'the payload read into the temp file', LONG);
      expect(hook.exitCode).toBeNull();
      expect(await main()).toBeUndefined();
      // What an agent's hook timeout sends.
      hook.kill('SIGTERM');
      expect(await exited).toBe(0);
      await until(async () => (await main())?.status === 'working' && (await spooled()).length === 0, 'the payload recorded', LONG, {
        detail: async () => `spool: ${(await spooled()).join(', ')}; errors: ${await readFile(path.join(dir, 'hook-errors.log'), 'utf8').catch(() => '')}`,
      });
      expect(await readFile(path.join(dir, 'hook-errors.log'), 'utf8').catch(() => '')).toBe('');
    } finally {
      hook.stdin.destroy();
      hook.kill('SIGKILL');
    }
  });
});
