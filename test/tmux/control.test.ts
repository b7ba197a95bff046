import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  connectControl,
  ControlClosedError,
  ControlParser,
  MONITOR_SESSION,
  parseTmuxVersion,
  quoteArg,
  TmuxCommandError,
  type ControlClient,
  type ControlEvent,
} from '../../src/tmux/control.js';
import { refusingTmux } from '../helpers/refusing-tmux.js';
import { Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

const run = promisify(execFile);

let box: Sandbox;
const opened: ControlClient[] = [];
beforeEach(async () => {
  box = await Sandbox.create();
});
afterEach(async () => {
  await Promise.all(opened.splice(0).map((client) => client.close()));
  await box.dispose();
});

async function connect(server: string): Promise<ControlClient> {
  const result = await connectControl(server, { env: box.env() });
  if (result.state !== 'connected') throw new Error(`expected a connection, got: ${result.reason}`);
  opened.push(result.client);
  return result.client;
}

/** Collects events; `next(name)` waits for the earliest event of that name not taken yet (any order). */
function recorder(client: ControlClient): { events: ControlEvent[]; next(name: string, timeoutMs?: number): Promise<ControlEvent> } {
  const events: ControlEvent[] = [];
  const taken = new Set<number>();
  const waiters: Array<() => void> = [];
  client.on((event) => {
    events.push(event);
    for (const wake of waiters.splice(0)) wake();
  });
  return {
    events,
    // A bound for a hang, not an expectation of speed: a loaded machine may take seconds to deliver one.
    async next(name, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const index = events.findIndex((event, at) => !taken.has(at) && event.name === name);
        if (index >= 0) {
          taken.add(index);
          return events[index]!;
        }
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no %${name} within ${timeoutMs} ms; saw ${events.map((event) => event.name).join(', ')}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
  };
}

async function serverAnswers(server: string): Promise<{ ok: boolean; stderr: string }> {
  try {
    await run('tmux', ['-L', server, 'list-sessions'], { env: box.env(), timeout: 5_000 });
    return { ok: true, stderr: '' };
  } catch (error) {
    return { ok: false, stderr: String((error as { stderr?: string }).stderr ?? error) };
  }
}

/** Processes whose command line names this socket (the server and any client of it). */
async function processesOf(server: string): Promise<string[]> {
  const { stdout } = await run('ps', ['-eo', 'pid=,args=']);
  return stdout.split('\n').filter((line) => line.includes(` ${server} `) || line.endsWith(` ${server}`));
}

describe('ControlParser', () => {
  it('frames replies, keeps notifications apart, and survives lines split across chunks', () => {
    const parser = new ControlParser();
    const items = [
      ...parser.push('%begin 1 10 0\n%end 1 10 0\n%sessions-chan'),
      ...parser.push('ged\n%begin 2 11 1\n%sessions-changed\nplain line\n%end 2 99 1\n'),
      ...parser.push('%end 2 11 1\n%unlinked-window-close @4\n%begin 3 12 1\nno such session\n%error 3 12 1\n'),
    ];
    expect(items).toEqual([
      { type: 'reply', ok: true, number: '10', fromClient: false, lines: [] },
      { type: 'notification', notification: { name: 'sessions-changed', args: [], line: '%sessions-changed' } },
      // Inside a block everything is output, even what looks like a notification or another command's %end.
      { type: 'reply', ok: true, number: '11', fromClient: true, lines: ['%sessions-changed', 'plain line', '%end 2 99 1'] },
      { type: 'notification', notification: { name: 'unlinked-window-close', args: ['@4'], line: '%unlinked-window-close @4' } },
      { type: 'reply', ok: false, number: '12', fromClient: true, lines: ['no such session'] },
    ]);
  });

  it('reads tmux versions, for the read-only attach that needs 3.2', () => {
    expect(parseTmuxVersion('tmux 3.3a\n')).toEqual([3, 3]);
    expect(parseTmuxVersion('tmux 3.1c')).toEqual([3, 1]);
    expect(parseTmuxVersion('tmux 3.6a')).toEqual([3, 6]);
    expect(parseTmuxVersion('tmux next-3.6')![0]).toBeGreaterThan(3);
    expect(parseTmuxVersion('tmux master')![0]).toBeGreaterThan(3);
    expect(parseTmuxVersion('tmux openbsd-7.5')![0]).toBeGreaterThan(3);
    expect(parseTmuxVersion('something else')).toBeUndefined();
  });

  it('quotes arguments for the tmux command parser', () => {
    expect(quoteArg('list-panes')).toBe('list-panes');
    expect(quoteArg('=agent-1:')).toBe('=agent-1:');
    expect(quoteArg('#{session_name}\t#{pane_pid}')).toBe('"#{session_name}\t#{pane_pid}"');
    expect(quoteArg('a "b" $HOME \\ ; {x}')).toBe('"a \\"b\\" \\$HOME \\\\ ; {x}"');
    expect(() => quoteArg('two\nlines')).toThrow(/line break/);
  });
});

describe('tmux control-mode client (real tmux)', () => {
  it('reports unavailable and starts no server when none runs', async () => {
    const server = box.serverName('none');
    const result = await connectControl(server, { env: box.env() });
    expect(result.state).toBe('unavailable');
    expect(result.state === 'unavailable' && result.reason).toMatch(/no server running|error connecting/);
    expect((await serverAnswers(server)).ok).toBe(false);
  });

  it('does not keep a server alive that runs nothing but a monitor session left behind', async () => {
    const server = box.serverName('alone');
    await box.tmux(server, 'new-session', '-d', '-s', MONITOR_SESSION);
    const result = await connectControl(server, { env: box.env() });
    expect(result).toMatchObject({ state: 'unavailable', reason: expect.stringContaining('no sessions besides') });
    // The leftover (no client attached) was removed, so the server exited with it.
    await until(async () => !(await serverAnswers(server)).ok, 'the server to exit', 30_000);
  });

  it('shares the monitor session between clients; the last one out removes it', async () => {
    const server = box.serverName('shared');
    await box.startSession(server, 'keep', box.root);
    const first = await connect(server);
    const second = await connect(server);
    const sessions = async (): Promise<string[]> => (await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim().split('\n').sort();
    expect(await sessions()).toEqual([MONITOR_SESSION, 'keep']);

    await first.close();
    expect(await sessions()).toEqual([MONITOR_SESSION, 'keep']);
    expect(await second.otherSessions()).toEqual(['keep']); // still attached and answering
    await second.close();
    await until(async () => (await sessions()).join() === 'keep', 'the monitor session to go with its last client', 30_000);
  });

  it('round-trips commands in order, with quoting, and rejects on %error', async () => {
    const server = box.serverName('cmd');
    await box.startSession(server, 'agent-1', box.root);
    const client = await connect(server);

    expect(await client.otherSessions()).toEqual(['agent-1']);
    expect(await client.command(['display-message', '-p', 'x "y" $HOME \\ ; {z} #{session_name}'])).toEqual([`x "y" $HOME \\ ; {z} ${MONITOR_SESSION}`]);
    const replies = await Promise.all(Array.from({ length: 20 }, (_, index) => client.command(['display-message', '-p', `n${index}`])));
    expect(replies).toEqual(Array.from({ length: 20 }, (_, index) => [`n${index}`]));
    const panes = await client.command(['list-panes', '-a', '-F', '#{session_name}\t#{pane_dead}']);
    expect(panes.sort()).toEqual([`${MONITOR_SESSION}\t0`, 'agent-1\t0']);

    await expect(client.command(['has-session', '-t', '=no-such-session'])).rejects.toBeInstanceOf(TmuxCommandError);
    // The FIFO is still aligned after an error.
    expect(await client.command(['display-message', '-p', 'after'])).toEqual(['after']);
  });

  it('sees sessions created and killed by others', async () => {
    const server = box.serverName('notify');
    await box.startSession(server, 'keep', box.root);
    const client = await connect(server);
    const seen = recorder(client);

    await box.startSession(server, 'agent-2', box.root);
    await seen.next('sessions-changed');
    await seen.next('unlinked-window-add');

    // Pushed, not polled: the client sends nothing after the kill (it has no timer of its own), so these can only
    // come from tmux's own notifications. Each is taken once, so they are the kill's, not the earlier create's.
    await box.killSession(server, 'agent-2');
    await seen.next('unlinked-window-close');
    await seen.next('sessions-changed');

    await box.tmux(server, 'rename-session', '-t', '=keep', 'kept');
    expect(await seen.next('session-renamed')).toMatchObject({ args: [expect.stringMatching(/^\$\d+$/), 'kept'] });
    expect(client.isOpen).toBe(true);
  });

  it('emits exit, rejects what is pending and refuses new commands when the server goes away', async () => {
    const server = box.serverName('exit');
    await box.startSession(server, 'keep', box.root);
    const client = await connect(server);
    const seen = recorder(client);

    await box.tmux(server, 'kill-server');
    const exit = await seen.next('exit');
    expect(exit).toMatchObject({ name: 'exit', closedByUs: false });
    expect(client.isOpen).toBe(false);
    await expect(client.command(['list-sessions'])).rejects.toBeInstanceOf(ControlClosedError);
    expect(seen.events.filter((event) => event.name === 'exit')).toHaveLength(1);
    // The process is gone, and a new server on the same socket name starts and answers.
    await client.exited;
    await box.startSession(server, 'again', box.root);
    expect((await serverAnswers(server)).ok).toBe(true);
  });

  it('leaves no orphaned client after close(): the socket stays usable and kill-server leaves nothing behind', async () => {
    const server = box.serverName('close');
    await box.startSession(server, 'keep', box.root);
    const client = await connect(server);
    const pid = client.pid!;
    const seen = recorder(client);

    await client.close();
    expect(await seen.next('exit')).toMatchObject({ closedByUs: true, reason: 'closed' });
    expect(() => process.kill(pid, 0)).toThrow(); // the tmux client process has exited
    await client.close(); // idempotent

    // The monitor session went with its last client; the agent's session is untouched.
    expect((await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim()).toBe('keep');
    await box.startSession(server, 'after-close', box.root);
    await box.tmux(server, 'kill-server');
    await until(async () => (await processesOf(server)).length === 0, 'every process of the server to exit', 30_000);
    expect((await serverAnswers(server)).stderr).toMatch(/no server running|error connecting/);
    // And a fresh server on the same name works (a wedged socket refuses with "server exited unexpectedly").
    await box.startSession(server, 'fresh', box.root);
    expect((await serverAnswers(server)).ok).toBe(true);
  });

  it('closes cleanly even while commands are in flight, rejecting them', async () => {
    const server = box.serverName('inflight');
    await box.startSession(server, 'keep', box.root);
    const client = await connect(server);
    const pending = Array.from({ length: 5 }, () => client.command(['list-sessions']).then(() => 'ok', (error: unknown) => error));
    await client.close();
    for (const outcome of await Promise.all(pending)) expect(outcome === 'ok' || outcome instanceof ControlClosedError).toBe(true);
    expect((await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim()).toBe('keep');
  });

  it('attaches read-only, without pane output', async () => {
    const server = box.serverName('ro');
    await box.startSession(server, 'keep', box.root);
    const client = await connect(server);
    const [flags] = await client.command(['display-message', '-p', '#{client_flags}']);
    expect(flags!.split(',')).toEqual(expect.arrayContaining(['control-mode', 'read-only', 'no-output', 'ignore-size']));
  });

  for (const mode of ['exit-at-once', 'stdin-closed'] as const) {
    it(`reports a refusal, not a missing server, when every -C client ends at once (${mode}), and leaves no monitor session behind`, async () => {
      const server = box.serverName('refused');
      await box.startSession(server, 'keep', box.root);
      const tmux = await refusingTmux(box.root, mode);
      for (let attempt = 1; attempt <= 3; attempt++) {
        const result = await connectControl(server, { env: box.env(), bin: tmux.bin, commandTimeoutMs: 5_000 });
        expect(result).toMatchObject({ state: 'unavailable', refused: true });
        expect((await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim()).toBe('keep');
      }
      expect(await tmux.spawns()).toBe(3);
    });
  }

  it('a monitor session a crashed client left is reused, not multiplied, and removed by the next client to leave', async () => {
    const server = box.serverName('leftover');
    await box.startSession(server, 'keep', box.root);
    await box.tmux(server, 'new-session', '-d', '-s', MONITOR_SESSION);
    const client = await connect(server);
    const sessions = async (): Promise<string[]> => (await box.tmux(server, 'list-sessions', '-F', '#{session_name}')).trim().split('\n').sort();
    expect(await sessions()).toEqual([MONITOR_SESSION, 'keep']);
    await client.close();
    expect(await sessions()).toEqual(['keep']);
  });
});
