import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isAlive } from '../../src/proc/tree.js';
import { runningWatcher } from '../../src/facts/watcher-pid.js';
import { MOSQUITTO_MISSING, startMosquitto } from '../helpers/mosquitto.js';
import type { HookAgent } from '../helpers/hook-agent.js';
import { MAM, mam } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';
import { WatchWorld } from '../helpers/watch-world.js';

/**
 * `mam watch` as the hooks start it: a stand-in agent process runs `mam hook` as its child (so the hook's
 * parent is the agent, as with Claude), the transcript is a real file, and the watcher is the real
 * detached daemon. What it must resolve arrives with no hook at all.
 */
let world: WatchWorld;
let transcript: string;
const SID = '5f0c2a8e-1111-4c8e-9f00-2a6b1c3d4e5f';

beforeEach(async () => {
  world = await WatchWorld.create('mam-watch-');
  transcript = path.join(world.box.home, '.claude', 'projects', '-w', `${SID}.jsonl`);
  await mkdir(path.dirname(transcript), { recursive: true });
  await writeFile(transcript, `${JSON.stringify({ type: 'user', message: { role: 'user', content: 'hello' } })}\n`);
});

// Each stand-in agent with whatever it started (the 'approved' bash and its sleep), by pid and start time.
afterEach(() => world.dispose());

/** A long-lived process that runs `mam hook` once per payload it reads on stdin, like an agent does. */
const startAgent = (): HookAgent => world.startAgent({ session_id: SID, transcript_path: transcript, cwd: '/w' });

const mainFact = (): Promise<{ status: string; tools: Record<string, { status: string }> } | undefined> => world.mainFact(SID);

const line = (record: unknown): string => `${JSON.stringify(record)}\n`;
const bash = { tool_name: 'Bash', tool_input: { command: 'touch made && sleep 30', description: 'make a file' } };

describe('mam watch (started by the hooks)', () => {
  it('a rejected permission dialog ends in waiting with no hook, read from the transcript', async () => {
    const { hook } = startAgent();
    await hook({ hook_event_name: 'UserPromptSubmit', prompt: 'make a file' });
    await hook({ hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_w1' });
    await hook({ hook_event_name: 'PermissionRequest', ...bash });
    expect((await mainFact())?.status).toBe('needs_approval');
    await world.watcher();

    // Exactly what Claude writes on Esc in the dialog, four lines in one flush (docs/agents.md, 'Claude interrupts
    // and rejections').
    await appendFile(
      transcript,
      [
        line({ type: 'assistant', message: { content: [{ type: 'tool_use', id: 'toolu_w1', name: 'Bash', input: bash.tool_input }], stop_reason: 'tool_use' } }),
        line({ type: 'user', message: { role: 'user', content: [{ type: 'tool_result', content: "The user doesn't want to proceed with this tool use.", is_error: true, tool_use_id: 'toolu_w1' }] }, toolUseResult: 'User rejected tool use' }),
        line({ type: 'user', message: { role: 'user', content: [{ type: 'text', text: '[Request interrupted by user for tool use]' }] }, toolUseResult: null }),
        line({ type: 'system', subtype: 'turn_duration', isMeta: false }),
      ].join(''),
    );
    await until(async () => (await mainFact())?.status === 'waiting', 'the rejection to be resolved', 60_000);
    expect((await mainFact())?.tools).toEqual({});
  });

  it('Esc while streaming, a torn line and non-UTF-8 bytes before it: still resolved, nothing else touched', async () => {
    const { hook } = startAgent();
    await hook({ hook_event_name: 'UserPromptSubmit', prompt: 'write a poem' });
    await world.watcher();
    await appendFile(transcript, Buffer.concat([Buffer.from('{"type":"assistant","message":{"content":"\xff'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')]));
    await appendFile(transcript, line({ type: 'user', message: { role: 'user', content: '[Request interrupted by user]' } }).slice(0, 30));
    expect((await mainFact())?.status).toBe('working');
    await appendFile(transcript, line({ type: 'user', message: { role: 'user', content: '[Request interrupted by user]' } }).slice(30));
    await until(async () => (await mainFact())?.status === 'waiting', 'the interrupt to be resolved', 60_000);
    const log = await readFile(path.join(world.statusDir, 'watch.log'), 'utf8');
    expect(log).toContain('not JSON were skipped');
  });

  it('an approved command running under the agent, inside its shell wrapper, turns needs_approval into working', async () => {
    const { hook, run } = startAgent();
    await hook({ hook_event_name: 'UserPromptSubmit' });
    await hook({ hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_w2' });
    await hook({ hook_event_name: 'PermissionRequest', ...bash });
    expect((await mainFact())?.status).toBe('needs_approval');
    await world.watcher();
    const wrapped = ['bash', '-c', `eval '${bash.tool_input.command}' < /dev/null`];
    // The same command elsewhere on the machine is not this agent's approval.
    const elsewhere = spawn(wrapped[0]!, wrapped.slice(1), { cwd: world.box.root, stdio: 'ignore' });
    world.track(elsewhere);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect((await mainFact())?.status).toBe('needs_approval');
    // Under the agent, as Claude starts an approved Bash command.
    await run(wrapped);
    await until(async () => (await mainFact())?.status === 'working', 'the approval to be seen', 60_000);
    expect(Object.values((await mainFact())!.tools).map((tool) => tool.status)).toEqual(['working']);
  });

  it("Claude's live record: a dialog shown in this wait and then busy is an approval; busy from before the dialog is not", async () => {
    world.env = { ...world.env, MAM_LOG_LEVEL: 'debug' };
    const { process: agent, hook } = startAgent();
    const edit = { tool_name: 'Edit', tool_input: { file_path: '/w/a', old_string: 'a', new_string: 'b' } };
    await world.liveRecord(agent.pid!, SID, 'busy');
    await hook({ hook_event_name: 'UserPromptSubmit' });
    await hook({ hook_event_name: 'PreToolUse', ...edit, tool_use_id: 'toolu_live' });
    await hook({ hook_event_name: 'PermissionRequest', ...edit });
    await world.watcher();
    // The record said busy before the dialog showed: that says nothing about the dialog (an edit runs no command).
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await mainFact())?.status).toBe('needs_approval');
    await world.liveRecord(agent.pid!, SID, 'waiting');
    await until(async () => (await world.log()).includes("live record says its dialog shows"), 'the watcher to read the dialog in the record', 60_000);
    expect((await mainFact())?.status).toBe('needs_approval');
    await world.liveRecord(agent.pid!, SID, 'busy');
    await until(async () => (await mainFact())?.status === 'working', 'the approval read from the record', 60_000, { detail: async () => (await world.log()).slice(-2000) });
    expect(Object.values((await mainFact())!.tools).map((tool) => tool.status)).toEqual(['working']);
    expect(await world.log()).toContain('its dialog closed and it is busy: approved');
  });

  it("a tool's transcript line that comes while its dialog is still on the agent's pane is not the approval; the pane then says when it closes", async () => {
    const server = world.box.serverName('dialog');
    const dialog = "printf 'Bash command\\n\\n Do you want to proceed?\\n ❯ 1. Yes\\n   2. No\\n\\n Esc to cancel\\n'; exec sleep 100000";
    await world.box.startSession(server, 'agent', world.box.root, dialog);
    const [socket, serverPid, paneId] = (await world.box.tmux(server, 'display-message', '-p', '-t', '=agent:', '#{socket_path} #{pid} #{pane_id}')).trim().split(' ');
    await until(async () => (await world.box.tmux(server, 'capture-pane', '-p', '-t', '=agent:')).includes('Esc to cancel'), 'the dialog on the pane', 60_000);
    world.env = { ...world.env, TMUX: `${socket},${serverPid},0`, TMUX_PANE: paneId!, MAM_LOG_LEVEL: 'info' };
    const { hook } = startAgent();
    const edit = { tool_name: 'Edit', tool_input: { file_path: '/w/a', old_string: 'a', new_string: 'b' } };
    await hook({ hook_event_name: 'UserPromptSubmit' });
    await hook({ hook_event_name: 'PreToolUse', ...edit, tool_use_id: 'toolu_early' });
    await hook({ hook_event_name: 'PermissionRequest', ...edit });
    await world.watcher();
    // What Claude does on a loaded machine: the tool's line reaches the transcript while the dialog is still up.
    await appendFile(transcript, line({ type: 'assistant', message: { content: [{ type: 'tool_use', id: 'toolu_early', name: 'Edit', input: edit.tool_input }], stop_reason: 'tool_use' } }));
    await until(async () => (await world.log()).includes('while its approval dialog is still on screen'), 'the watcher to look at the pane', 60_000, { detail: async () => `${JSON.stringify(await mainFact())}\n${(await world.log()).slice(-2000)}` });
    expect((await mainFact())?.status).toBe('needs_approval');
    // Allowed: the dialog goes and the agent is busy. No hook and no line say so; the pane does.
    await world.box.tmux(server, 'respawn-pane', '-k', '-t', '=agent:', "printf '✶ Editing… (esc to interrupt)\\n'; exec sleep 100000");
    await until(async () => (await mainFact())?.status === 'working', 'the pane read until the dialog closed', 60_000, { detail: async () => (await world.log()).slice(-2000) });
  });

  it('the agent killed: its facts are removed within a sweep, and the watcher exits once idle', async () => {
    const { process: agent, hook } = startAgent();
    await hook({ hook_event_name: 'SessionStart', source: 'startup' });
    await hook({ hook_event_name: 'UserPromptSubmit' });
    await hook({ hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_w3' });
    const watcher = await world.watcher();
    agent.kill('SIGKILL');
    await until(async () => (await readdir(world.statusDir)).every((name) => !name.startsWith(SID)), 'the dead agent to be cleaned up', 60_000);
    // Nothing left to watch: gone after the idle time (2 s here), and its pid file with it.
    await until(async () => !isAlive(watcher), 'the idle watcher to exit', 60_000);
    // Each hook above started `mam watch` while none ran yet; on a loaded machine one of those can reach its claim
    // only after the first watcher left, and it is then the watcher, with nothing to watch: it leaves idle too.
    await until(async () => runningWatcher(world.statusDir) === undefined, 'a late-started watcher to exit once idle', 60_000);
    expect(existsSync(path.join(world.statusDir, 'watch.pid'))).toBe(false);
  });

  it('many hooks at once start one watcher; a second `mam watch` leaves the first alone', async () => {
    const payload = JSON.stringify({ session_id: SID, transcript_path: transcript, hook_event_name: 'UserPromptSubmit' });
    await Promise.all(
      Array.from({ length: 6 }, () => new Promise<void>((resolve) => {
        const child = spawn(process.execPath, [MAM, 'hook'], { env: world.env, stdio: ['pipe', 'ignore', 'ignore'] });
        child.on('exit', () => resolve());
        child.stdin!.end(payload);
      })),
    );
    const first = await world.watcher('a watcher');
    const second = await mam(['watch'], world.env);
    expect(second.code).toBe(0);
    expect(second.stderr).toContain(`already running for ${world.statusDir} (pid ${first.pid})`);
    // The other five started too, found the claim taken and exit (on a loaded machine some are still starting):
    // in the end only the first is left.
    const ours = (): string[] =>
      spawnSync('pgrep', ['-f', `${MAM} watch`], { encoding: 'utf8' })
        .stdout.trim()
        .split('\n')
        .filter((pid) => pid !== '' && readFileSafe(`/proc/${pid}/environ`).includes(world.box.root));
    await until(async () => ours().length === 1, 'the losing watchers to exit', 60_000);
    expect(ours()).toEqual([String(first.pid)]);
    expect(runningWatcher(world.statusDir)).toEqual(first);
  });

  it('a transcript that does not exist yet is not an error, and is read once it appears; `--idle-exit abc` is a usage error', async () => {
    await rmTranscript();
    const { hook } = startAgent();
    await hook({ hook_event_name: 'UserPromptSubmit' });
    await world.watcher();
    expect((await mainFact())?.status).toBe('working');
    // Claude creates the transcript with the first message, after the hooks began: the sweep finds it.
    await writeFile(transcript, line({ type: 'user', message: { role: 'user', content: '[Request interrupted by user]' } }));
    await until(async () => (await mainFact())?.status === 'waiting', 'the interrupt in a transcript created late', 60_000);
    const usage = await mam(['watch', '--idle-exit', 'abc'], world.env);
    expect(usage.code).toBe(64);
    expect(usage.stderr).toContain('--idle-exit takes a positive number of seconds');
  });
});

if (MOSQUITTO_MISSING) console.warn(`skipping the watcher → retained MQTT status test: ${MOSQUITTO_MISSING}`);

describe.skipIf(MOSQUITTO_MISSING !== undefined)('mam watch publishes every change on the retained status topic', () => {
  it('working → needs_approval → waiting (resolved by the watcher) → gone, as `mam status --all-hosts` sees it', async () => {
    const broker = await startMosquitto(path.join(world.box.root, 'mosquitto'));
    try {
      world.env = { ...world.env, MAM_MQTT_URL: broker.url, MAM_HOST: 'lab-1' };
      const hosts = async (): Promise<{ host: string; session: string; status: string; seq: number }[]> => {
        const result = await mam(['status', '--all-hosts', '--json'], world.env);
        if (result.code !== 0) throw new Error(result.stderr);
        return (JSON.parse(result.stdout) as { sessions: { host: string; session: string; status: string; seq: number }[] }).sessions;
      };
      const { process: agent, hook } = startAgent();
      await hook({ hook_event_name: 'UserPromptSubmit' });
      await until(async () => (await hosts()).some((row) => row.session === SID && row.status === 'working'), 'working on the topic', 60_000);
      await hook({ hook_event_name: 'PreToolUse', ...bash, tool_use_id: 'toolu_m1' });
      await hook({ hook_event_name: 'PermissionRequest', ...bash });
      await until(async () => (await hosts()).some((row) => row.status === 'needs_approval'), 'needs_approval on the topic', 60_000);
      const asked = (await hosts())[0]!;
      await appendFile(transcript, line({ type: 'user', message: { role: 'user', content: [{ type: 'text', text: '[Request interrupted by user for tool use]' }] } }));
      await until(async () => (await hosts()).some((row) => row.status === 'waiting'), 'the resolved waiting on the topic', 60_000);
      const resolved = (await hosts())[0]!;
      expect(resolved).toMatchObject({ host: 'lab-1', session: SID });
      expect(resolved.seq).toBeGreaterThan(asked.seq);
      agent.kill('SIGKILL');
      await until(async () => (await hosts()).length === 0, 'the dead agent to leave the topic', 60_000);
    } finally {
      await broker.stop();
    }
  });
});

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return '';
  }
}

async function rmTranscript(): Promise<void> {
  await rm(transcript);
}
