import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HookAgent } from '../helpers/hook-agent.js';
import { MAM, type Sandbox } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';
import { WatchWorld } from '../helpers/watch-world.js';

/**
 * Notifications end to end: real `mam hook` calls from stand-in agents, the real watcher, a stand-in `notify-send` on
 * PATH that records its argv, and a real tmux client (in a pane of another server) whose screen shows the message.
 */
let world: WatchWorld;
let box: Sandbox;
let bin: string;
let calls: string;
let statusDir: string;

beforeEach(async () => {
  world = await WatchWorld.create('mam-notify-');
  ({ box, statusDir } = world);
  bin = path.join(box.root, 'bin');
  calls = path.join(box.root, 'notify-send.calls');
  await mkdir(bin, { recursive: true });
  // One record per call (a body may span lines), its arguments separated by the unit separator.
  await writeFile(path.join(bin, 'notify-send'), `#!/bin/sh\n{ for arg in "$@"; do printf '%s\\037' "$arg"; done; printf '\\036'; } >> '${calls}'\n`);
  await chmod(path.join(bin, 'notify-send'), 0o755);
});
// Each stand-in agent with whatever it started, then the sandbox and the watcher.
afterEach(() => world.dispose());

const agent = (env: NodeJS.ProcessEnv): HookAgent => world.startAgent({}, env);

/** Each notify-send call's argv. */
async function desktop(): Promise<string[][]> {
  const text = await readFile(calls, 'utf8').catch(() => '');
  return text.split('\x1e').filter(Boolean).map((call) => call.split('\x1f').slice(0, -1));
}

const bash = { tool_name: 'Bash', tool_input: { command: 'npm test' } };
const A = '11111111-1111-4c8e-9f00-2a6b1c3d4e5f';
const B = '22222222-2222-4c8e-9f00-2a6b1c3d4e5f';

async function askApproval(hook: HookAgent['hook'], session: string, cwd: string, id: string): Promise<void> {
  await hook({ session_id: session, cwd, hook_event_name: 'PreToolUse', ...bash, tool_use_id: id });
  await hook({ session_id: session, cwd, hook_event_name: 'PermissionRequest', ...bash });
}

describe('notifications from the watcher', () => {
  it('an approval wait is announced on the desktop once; a flap back is not announced again', async () => {
    const env = box.env({ MAM_WATCH: '1', MAM_NOTIFY: 'on', PATH: `${bin}:${process.env['PATH']}` });
    const { hook } = agent(env);
    await hook({ session_id: A, cwd: '/work/landing', hook_event_name: 'UserPromptSubmit' });
    await askApproval(hook, A, '/work/landing', 't1');
    const first = await untilValue(async () => (await desktop())[0], 'the first notification', 60_000);
    expect(first).toEqual(['--app-name=mam', '--', 'mam: landing needs approval', 'Bash: npm test']);

    // Approved, and at once the next approval: a flap within the re-arm window (30 s), not news.
    await hook({ session_id: A, cwd: '/work/landing', hook_event_name: 'PostToolUse', ...bash, tool_use_id: 't1' });
    // The watcher has seen it leave (its segment file shows the session working), so the next ask is a re-entry.
    await until(async () => (await readFile(path.join(statusDir, 'tmux-status'), 'utf8').catch(() => '')).includes('●1'), 'the watcher to see the approval granted', 60_000);
    await askApproval(hook, A, '/work/landing', 't2');
    // Another session asks: announced — and anything wrongly queued for the flap would be sent before it or with it.
    await askApproval(hook, B, '/work/docs', 't3');
    await until(async () => (await desktop()).length >= 2, 'the second notification', 60_000, { detail: async () => JSON.stringify(await desktop()) });
    expect(await desktop()).toEqual([first, ['--app-name=mam', '--', 'mam: docs needs approval', 'Bash: npm test']]);
  });

  it('a message on every tmux client attached to the agent\'s server', async () => {
    const inner = box.serverName('inner');
    const outer = box.serverName('outer');
    // display-time 0: a message stays until a key is pressed, so the capture cannot miss it.
    await box.tmux(inner, '-f', '/dev/null', 'new-session', '-d', '-s', 'agents', ';', 'set', '-g', 'display-time', '0');
    const socket = (await box.tmux(inner, 'display-message', '-p', '#{socket_path}')).trim();
    await box.tmux(outer, '-f', '/dev/null', 'new-session', '-d', '-x', '120', '-y', '8', '-s', 'term', `env -u TMUX tmux -L ${inner} attach -t agents`);
    await until(async () => (await box.tmux(inner, 'list-clients')).trim() !== '', 'the client to attach', 60_000);
    // The hooks run in the agent's pane of that server, as tmux tells every process in a pane.
    const env = box.env({ MAM_WATCH: '1', MAM_NOTIFY: 'tmux', TMUX: `${socket},1,0`, TMUX_PANE: '%0', PATH: `${bin}:${process.env['PATH']}` });
    const { hook } = agent(env);
    await askApproval(hook, A, '/work/landing', 't1');
    await until(async () => (await box.tmux(outer, 'capture-pane', '-p', '-t', 'term')).includes('mam: landing needs approval (Bash: npm test)'), 'the message on the attached client', 60_000, {
      detail: () => box.tmux(outer, 'capture-pane', '-p', '-t', 'term'),
    });
    // Only the channel asked for: the desktop stayed quiet (the tmux message was sent in the same go).
    expect(await desktop()).toEqual([]);
  });

  it('a finished turn and a dead agent, when chosen (MAM_NOTIFY_EVENTS=done,died)', async () => {
    const env = box.env({ MAM_WATCH: '1', MAM_NOTIFY: 'desktop', MAM_NOTIFY_EVENTS: 'done,died', PATH: `${bin}:${process.env['PATH']}` });
    const stand = agent(env);
    await stand.hook({ session_id: A, cwd: '/work/landing', hook_event_name: 'UserPromptSubmit' });
    // The watcher announces what it sees change: it must have seen the turn working (its segment file says so).
    await until(async () => (await readFile(path.join(statusDir, 'tmux-status'), 'utf8').catch(() => '')).includes('●1'), 'the watcher to see the turn', 60_000);
    await stand.hook({ session_id: A, cwd: '/work/landing', hook_event_name: 'Stop' });
    await until(async () => (await desktop()).length >= 1, 'the turn to be announced', 60_000);
    stand.process.kill('SIGKILL');
    await until(async () => (await desktop()).length >= 2, 'the death to be announced', 60_000, { detail: async () => JSON.stringify(await desktop()) });
    expect((await desktop()).map((argv) => argv[2])).toEqual(['mam: landing finished its turn', 'mam: landing died']);
  });
});

describe('notifications off', () => {
  /**
   * Runs `mam watch` itself (hooks start none), asks for an approval, waits until the watcher has seen it (its segment
   * file shows it), and stops the watcher: a watcher that is going sends what it has pending at once, so after its
   * exit every notification it would ever send has been sent.
   */
  async function approvalThenStop(flags: readonly string[], extra: NodeJS.ProcessEnv): Promise<string[][]> {
    const env = box.env({ MAM_WATCH: '0', PATH: `${bin}:${process.env['PATH']}`, ...extra });
    const watcher = spawn(process.execPath, [MAM, 'watch', ...flags], { env, stdio: 'ignore' });
    const exited = new Promise<number | null>((resolve) => watcher.once('exit', resolve));
    try {
      await until(async () => (await readFile(path.join(statusDir, 'tmux-status'), 'utf8').catch(() => undefined)) !== undefined, 'the watcher to be ready', 60_000);
      await askApproval(agent(env).hook, A, '/work/landing', 't1');
      await until(async () => (await readFile(path.join(statusDir, 'tmux-status'), 'utf8')).includes('⚠1'), 'the watcher to see the approval', 60_000);
    } finally {
      watcher.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    return desktop();
  }

  it('with notifications on, the approval is sent even by a watcher stopped before it settled (the control)', async () => {
    expect(await approvalThenStop([], { MAM_NOTIFY: 'desktop' })).toEqual([['--app-name=mam', '--', 'mam: landing needs approval', 'Bash: npm test']]);
  });

  it('mam watch --no-notify sends nothing, even with MAM_NOTIFY asking for it', async () => {
    expect(await approvalThenStop(['--no-notify'], { MAM_NOTIFY: 'desktop' })).toEqual([]);
  });

  it('MAM_NOTIFY=off sends nothing', async () => {
    expect(await approvalThenStop([], { MAM_NOTIFY: 'off' })).toEqual([]);
  });
});
