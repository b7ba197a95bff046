import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MAM, Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * `mam ui` as a person uses it: running in a real tmux pane (the "terminal", its own private server), driven with
 * send-keys and read with capture-pane, over agent sessions on another private server. The bounds are for a hang on
 * a loaded machine, not expectations of speed: how fast a kill shows is measured in bench/ui.bench.ts.
 */
let box: Sandbox;
let agents: string;
let term: string;

beforeEach(async () => {
  box = await Sandbox.create('mam-ui-');
  agents = box.serverName('agents');
  term = box.serverName('term');
});
afterEach(async () => {
  await box.dispose();
});

const BOUND = 60_000;

async function fleet(): Promise<void> {
  const ws = path.join(box.root, 'ws');
  // alpha prints a marker and waits; beta just sleeps; gamma is stopped (no tmux session).
  await box.startSession(agents, 'alpha', ws, 'bash --norc --noprofile -c "echo ALPHA-INNER-SCREEN; exec sleep 100000"');
  await box.startSession(agents, 'beta', ws, 'sleep 100000');
  const entry = (name: string, status: string, extra = ''): string =>
    `  - {name: ${name}, agent: claude, workspace: ${ws}, status: ${status}, tmux_server: ${agents}, created_at: 2026-01-01T00:00:00Z, claude_session_id_own: conv-${name}${extra}}\n`;
  await box.writeRegistry(`tmux_sessions:\n${entry('alpha', 'running')}${entry('beta', 'running')}${entry('gamma', 'stopped', ', stopped_at: 2026-01-02T00:00:00Z')}`);
  // beta's hooks say it waits on an approval to run a command (the fact file a hook would write).
  const facts = path.join(box.root, 'cache', 'mam', 'status');
  await mkdir(facts, { recursive: true });
  const since = new Date(Date.now() - 90_000).toISOString();
  await writeFile(
    path.join(facts, 'conv-beta.agent.main.json'),
    JSON.stringify({ status: 'needs_approval', tools: { t1: { status: 'needs_approval', tool_name: 'Bash', input: '{"command":"rm -rf build"}', command: 'rm -rf build' } }, agent_type: null, needs_approval_since: since, updated_at: since }),
  );
}

/** Starts `mam ui` in a 120×30 pane of the terminal server; the pane stays to show its exit code. */
async function startUi(env: Record<string, string> = {}): Promise<void> {
  const vars = Object.entries(env).map(([name, value]) => `${name}=${value} `).join('');
  await box.tmux(term, 'new-session', '-d', '-x', '120', '-y', '30', '-s', 'dash', `${vars}${process.execPath} ${MAM} ui --registry ${box.registry}; echo "UI-EXIT:$?"; sleep 100000`);
}

const screen = (escapes = false): Promise<string> => box.tmux(term, 'capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', '=dash:');
const shows = (pattern: RegExp) => async (): Promise<boolean> => pattern.test(await screen());
const lastScreen = { detail: async () => `screen:\n${await screen()}` };
const keys = (...names: string[]): Promise<string> => box.tmux(term, 'send-keys', '-t', '=dash:', ...names);

describe('mam ui in a real terminal', () => {
  it('lists the sessions needs-you-first, in colour, and a killed session turns gone without a key pressed', async () => {
    await fleet();
    await startUi();
    await until(shows(/3 sessions/), 'the rows', BOUND, lastScreen);
    await until(shows(/! needs approval +1m +beta/), "beta's approval from its fact file", BOUND, lastScreen);
    const rows = (await screen()).split('\n').filter((line) => / (alpha|beta|gamma) /.test(line));
    // Needs approval first, the stopped session last.
    expect(rows.map((line) => / (alpha|beta|gamma) /.exec(line)![1])).toEqual(['beta', 'alpha', 'gamma']);
    expect(rows[2]).toMatch(/■ stopped +\S+ +gamma +claude/);
    // Colour on: the approval's state is red (SGR 31), the selection inverse (SGR 7).
    expect(await screen(true)).toMatch(/\x1b\[[0-9;]*31m! needs approval/);

    await box.killSession(agents, 'alpha');
    await until(shows(/✗ gone +\d+s +alpha/), 'alpha shown gone', BOUND, lastScreen);

    await keys('q');
    await until(shows(/UI-EXIT:0/), 'mam ui to exit 0 on q', BOUND, lastScreen);
  });

  it('Enter attaches to the selected session, detaching comes back, and s stops a session', async () => {
    await fleet();
    await startUi();
    await until(shows(/alpha/), 'the rows', BOUND, lastScreen);
    // Filter down to alpha, then Enter: the pane is a tmux client of another server, so a nested client attaches.
    await keys('/', 'alpha', 'Enter');
    await until(shows(/1 of 3 sessions/), 'the filter', BOUND, lastScreen);
    await keys('Enter');
    await until(shows(/ALPHA-INNER-SCREEN/), "alpha's own screen in the dashboard's pane", BOUND, lastScreen);
    expect(await screen()).not.toMatch(/mam ui/);
    await keys('C-b', 'd');
    await until(shows(/back from alpha/), 'the dashboard back after the detach', BOUND, lastScreen);
    // Keys reach the dashboard again: clear the filter, move to beta (needs approval, so first) and stop it.
    await keys('Escape');
    await until(shows(/3 sessions/), 'the filter cleared', BOUND, lastScreen);
    await keys('g', 's');
    await until(shows(/stopped beta \(/), 'the stop reported', BOUND, lastScreen);
    await until(shows(/■ stopped +\d+s +beta/), 'beta shown stopped', BOUND, lastScreen);
    expect(await readFile(box.registry, 'utf8')).toMatch(/name: beta[\s\S]*?status: stopped/);
    expect(await box.tmux(agents, 'list-sessions', '-F', '#{session_name}')).not.toMatch(/^beta$/m);
  });

  it("inside tmux on the sessions' own server, Enter switches this client to the session and prefix L comes back", async () => {
    await fleet();
    // The dashboard runs in a session of the agents' server; a person's terminal (the outer pane) is its client.
    await box.tmux(agents, 'new-session', '-d', '-x', '120', '-y', '30', '-s', 'dash', `${process.execPath} ${MAM} ui --registry ${box.registry}; sleep 100000`);
    await box.tmux(term, 'new-session', '-d', '-x', '120', '-y', '30', '-s', 'person', `env -u TMUX tmux -L ${agents} attach -t =dash`);
    const person = (): Promise<string> => box.tmux(term, 'capture-pane', '-p', '-t', '=person:');
    const sees = (pattern: RegExp) => async (): Promise<boolean> => pattern.test(await person());
    const seen = { detail: async () => `screen:\n${await person()}` };
    await until(sees(/3 sessions/), 'the dashboard through the client', BOUND, seen);
    await box.tmux(agents, 'send-keys', '-t', '=dash:', '/', 'alpha', 'Enter');
    await until(sees(/1 of 3 sessions/), 'the filter', BOUND, seen);
    await box.tmux(agents, 'send-keys', '-t', '=dash:', 'Enter');
    await until(sees(/ALPHA-INNER-SCREEN/), "alpha's screen in the person's terminal", BOUND, seen);
    expect((await box.tmux(agents, 'list-clients', '-F', '#{client_session}')).split('\n')).toContain('alpha');
    await box.tmux(term, 'send-keys', '-t', '=person:', 'C-b', 'L');
    await until(sees(/switched to alpha \(prefix L comes back here\)/), 'the dashboard again, still running', BOUND, seen);
  });

  it('with NO_COLOR draws no colour, and a shows the pending tool and command', async () => {
    await fleet();
    await startUi({ NO_COLOR: '1' });
    await until(shows(/! needs approval +1m +beta/), 'the rows', BOUND, lastScreen);
    expect(await screen(true)).not.toMatch(/\x1b\[[0-9;]*3[0-7]m/);
    await keys('a');
    await until(shows(/command: rm -rf build/), 'the approval panel', BOUND, lastScreen);
    expect(await screen()).toMatch(/tool: +Bash/);
    await keys('Escape', 'q');
    await until(shows(/UI-EXIT:0/), 'mam ui to exit', BOUND, lastScreen);
  });

  it('refuses to run without a terminal, and says what to use instead', async () => {
    const { mam } = await import('../helpers/sandbox.js');
    const result = await mam(['ui', '--registry', box.registry], box.env());
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/mam ui needs a terminal .*mam status --json/);
  });
});
