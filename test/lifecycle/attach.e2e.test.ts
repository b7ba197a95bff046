import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mam, MAM, Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * `mam attach` with real tmux: the "terminal" is a pane of an outer private server, a shell there runs the command
 * as a person would, and capture-pane shows what that person sees. Bounds are for hangs on a loaded machine only.
 */
let box: Sandbox;
let agents: string;
let outer: string;

beforeEach(async () => {
  box = await Sandbox.create('mam-attach-');
  agents = box.serverName('agents');
  outer = box.serverName('outer');
});
afterEach(async () => {
  await box.dispose();
});

const BOUND = 60_000;
const ws = (): string => path.join(box.root, 'ws');

async function register(entries: readonly { name: string; status: string; extra?: string }[]): Promise<void> {
  const lines = entries.map(({ name, status, extra }) => `  - {name: "${name}", agent: claude, workspace: ${ws()}, status: ${status}, tmux_server: ${agents}, created_at: 2026-01-01T00:00:00Z${extra ?? ''}}\n`);
  await box.writeRegistry(`tmux_sessions:\n${lines.join('')}`);
}

const marker = (name: string): string => `bash --norc --noprofile -c "echo ${name.toUpperCase()}-INNER-SCREEN; exec sleep 100000"`;
const capture = (server: string, target: string): Promise<string> => box.tmux(server, 'capture-pane', '-p', '-t', target);
const showing = (server: string, target: string, pattern: RegExp) => async (): Promise<boolean> => pattern.test(await capture(server, target));
const detail = (server: string, target: string) => ({ detail: async () => `screen:\n${await capture(server, target)}` });

/** A shell in a pane of `server`, with the sandbox's environment, typing `line`. */
async function typeInShell(server: string, target: string, line: string): Promise<void> {
  await box.tmux(server, 'send-keys', '-t', target, '-l', line);
  await box.tmux(server, 'send-keys', '-t', target, 'Enter');
}

describe('mam attach in a real terminal', () => {
  it("from outside the session's server: the terminal shows the session until it detaches, then the exit code is 0", async () => {
    await box.startSession(agents, 'x', ws(), marker('x'));
    await register([{ name: 'x', status: 'running' }]);
    await box.tmux(outer, 'new-session', '-d', '-x', '100', '-y', '20', '-s', 'term', 'bash --norc --noprofile');
    await typeInShell(outer, '=term:', `${process.execPath} ${MAM} attach x --registry ${box.registry}; echo "ATTACH-EXIT:$?"`);
    await until(showing(outer, '=term:', /X-INNER-SCREEN/), "x's screen in the outer pane", BOUND, detail(outer, '=term:'));
    // The inner client gets the prefix: send-keys types into the pane, past the outer server's key table.
    await box.tmux(outer, 'send-keys', '-t', '=term:', 'C-b', 'd');
    await until(showing(outer, '=term:', /ATTACH-EXIT:0/), 'mam attach to return 0 on detach', BOUND, detail(outer, '=term:'));
    expect(await box.tmux(agents, 'list-sessions', '-F', '#{session_name}')).toMatch(/^x$/m);

    // --session and a name after -- reach the same session.
    await typeInShell(outer, '=term:', `clear; ${process.execPath} ${MAM} attach --registry ${box.registry} -- x; echo "SECOND-EXIT:$?"`);
    await until(showing(outer, '=term:', /X-INNER-SCREEN/), "x's screen again", BOUND, detail(outer, '=term:'));
    await box.tmux(outer, 'send-keys', '-t', '=term:', 'C-b', 'd');
    await until(showing(outer, '=term:', /SECOND-EXIT:0/), 'the second attach to return 0', BOUND, detail(outer, '=term:'));
  });

  it("from inside tmux on the session's own server: this client switches to it", async () => {
    await box.startSession(agents, 'x', ws(), marker('x'));
    await box.startSession(agents, 'home', ws(), 'bash --norc --noprofile');
    await register([{ name: 'x', status: 'running' }]);
    // A person's terminal (the outer pane) is a client of the agents' server, in session home.
    await box.tmux(outer, 'new-session', '-d', '-x', '100', '-y', '20', '-s', 'term', `env -u TMUX tmux -L ${agents} attach -t =home`);
    await until(async () => (await box.tmux(agents, 'list-clients', '-F', '#{client_session}')).includes('home'), 'a client on home', BOUND);
    await typeInShell(agents, '=home:', `${process.execPath} ${MAM} attach --session x --registry ${box.registry}; echo "SWITCH-EXIT:$?"`);
    await until(showing(outer, '=term:', /X-INNER-SCREEN/), "x's screen in the person's terminal", BOUND, detail(outer, '=term:'));
    expect((await box.tmux(agents, 'list-clients', '-F', '#{client_session}')).trim().split('\n')).toContain('x');
    await until(showing(agents, '=home:', /SWITCH-EXIT:0/), 'mam attach to exit 0 after switching', BOUND, detail(agents, '=home:'));
  });
});

describe('mam attach refuses what it cannot attach to, and says what to do', () => {
  it('an unknown, stopped, ended or gone session; a dashed name is suggested after --', async () => {
    await box.startSession(agents, 'live', ws(), 'sleep 100000');
    await register([
      { name: 'live', status: 'running' },
      { name: 'paused', status: 'stopped', extra: ', stopped_at: 2026-01-02T00:00:00Z' },
      { name: 'ended', status: 'terminated', extra: ', terminated_at: 2026-01-03T00:00:00Z' },
      { name: 'vanished', status: 'running' },
      { name: '-dashed', status: 'stopped' },
    ]);
    const attach = (...args: string[]) => mam(['attach', '--registry', box.registry, ...args], box.env());

    const unknown = await attach('nope');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^mam: nope is not in the registry .*; `mam status` lists the sessions/);
    const stopped = await attach('paused');
    expect(stopped.code).toBe(1);
    expect(stopped.stderr).toContain('paused is stopped (since 2026-01-02T00:00:00Z); start it again with `mam resume paused`');
    const ended = await attach('ended');
    expect(ended.stderr).toContain('ended has ended (2026-01-03T00:00:00Z); `mam resume ended` starts it again');
    const gone = await attach('vanished');
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/vanished is gone: the registry says running, but tmux server \S+ has no live session of that name .*`mam resume vanished`/);
    const dashed = await attach('--', '-dashed');
    expect(dashed.stderr).toContain('`mam resume -- -dashed`');
  });

  it('usage errors: no name, two names, or two different ones by word and flag', async () => {
    await register([{ name: 'a', status: 'stopped' }]);
    const none = await mam(['attach', '--registry', box.registry], box.env());
    expect(none.code).toBe(64);
    expect(none.stderr).toMatch(/attach: NAME is required: `mam attach NAME`/);
    const two = await mam(['attach', 'a', 'b', '--registry', box.registry], box.env());
    expect(two.code).toBe(64);
    expect(two.stderr).toMatch(/one NAME, not 2 \("a", "b"\)/);
    const both = await mam(['attach', 'a', '--session', 'b', '--registry', box.registry], box.env());
    expect(both.code).toBe(64);
    expect(both.stderr).toMatch(/NAME given twice, as "a" and as --session "b"/);
    const flag = await mam(['attach', '-x', '--registry', box.registry], box.env());
    expect(flag.code).toBe(64);
    expect(flag.stderr).toMatch(/a name that starts with "-" goes after --/);
  });
});
