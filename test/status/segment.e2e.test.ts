import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runningWatcher } from '../../src/facts/watcher-pid.js';
import { isAlive } from '../../src/proc/tree.js';
import type { HookAgent } from '../helpers/hook-agent.js';
import { mam, REPO, type Sandbox } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';
import { WatchWorld } from '../helpers/watch-world.js';

/**
 * The tmux status-line segment end to end: real `mam hook` calls from stand-in agents, the real watcher they start
 * keeping `<status dir>/tmux-status`, `mam status --tmux`, and a real tmux client drawing the README's status-right
 * line (the client runs in a pane of another tmux server, whose capture is what a person would see).
 */
let world: WatchWorld;
let box: Sandbox;
let statusDir: string;
let segmentFile: string;

beforeEach(async () => {
  world = await WatchWorld.create('mam-segment-');
  ({ box, statusDir } = world);
  segmentFile = path.join(statusDir, 'tmux-status');
});
// Each stand-in agent with whatever it started, then the sandbox and the watcher.
afterEach(() => world.dispose());

const agent = (env: NodeJS.ProcessEnv): HookAgent => world.startAgent({}, env);

const bash = { tool_name: 'Bash', tool_input: { command: 'npm test' } };
const S1 = '11111111-1111-4c8e-9f00-2a6b1c3d4e5f';
const S2 = '22222222-2222-4c8e-9f00-2a6b1c3d4e5f';
const S3 = '33333333-3333-4c8e-9f00-2a6b1c3d4e5f';
const COLORED = '#[fg=red,bold,bg=colour236] ⚠1 #[default]#[fg=yellow,bg=colour236] ●1 #[default]#[fg=green,bg=colour236] ○1 #[default]';

/** The README's status-right value, exactly as a person would paste it. */
async function readmeStatusRight(): Promise<string> {
  const readme = await readFile(path.join(REPO, 'README.md'), 'utf8');
  const value = /^set -g status-right '([^']*)'$/m.exec(readme)?.[1];
  if (!value) throw new Error("README.md shows no `set -g status-right '…'` line");
  return value;
}

/** The SGR parameters in force where `text` first shows `mark`: what a person sees it drawn in. */
function sgrBefore(text: string, mark: string): string[] {
  const before = text.slice(0, text.indexOf(mark));
  const line = before.slice(before.lastIndexOf('\n') + 1);
  return [...line.matchAll(/\x1b\[([0-9;]*)m/g)].flatMap((match) => (match[1] === '' || match[1] === '0' ? ['reset'] : match[1]!.split(';'))).reduce<string[]>((state, param) => (param === 'reset' ? [] : [...state, param]), []);
}

describe('the tmux status-line segment', () => {
  it('the watcher keeps the file as statuses change, mam status --tmux prints it, tmux draws it; gone with the watcher', async () => {
    const env = box.env({ MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '3' });
    const { process: stand, hook } = agent(env);
    await hook({ session_id: S1, cwd: '/w1', hook_event_name: 'UserPromptSubmit' });
    await hook({ session_id: S2, cwd: '/w2', hook_event_name: 'PreToolUse', ...bash, tool_use_id: 't2' });
    await hook({ session_id: S2, cwd: '/w2', hook_event_name: 'PermissionRequest', ...bash });
    await hook({ session_id: S3, cwd: '/w3', hook_event_name: 'SessionStart', source: 'startup' });
    const content = async (): Promise<string | undefined> => readFile(segmentFile, 'utf8').catch(() => undefined);
    await until(async () => (await content()) === `${COLORED}\n`, 'the watcher to write the segment', 60_000, { detail: async () => `file: ${JSON.stringify(await content())}` });

    expect((await mam(['status', '--tmux'], env)).stdout).toBe(`${COLORED}\n`);
    expect((await mam(['status', '--tmux', '--no-color'], env)).stdout).toBe('⚠1 ●1 ○1\n');
    expect((await mam(['status', '--tmux'], { ...env, NO_COLOR: '1' })).stdout).toBe('⚠1 ●1 ○1\n');

    // A tmux client with the README's line in status-right, running in a pane of another server: its status line,
    // captured with its colours, is the segment drawn — ⚠ in bold red.
    const inner = box.serverName('inner');
    const outer = box.serverName('outer');
    await box.tmux(inner, '-f', '/dev/null', 'new-session', '-d', '-s', 'agents', ';', 'set', '-g', 'status-right', await readmeStatusRight(), ';', 'set', '-g', 'status-interval', '1', ';', 'set', '-g', 'status-right-length', '80');
    await box.tmux(outer, '-f', '/dev/null', 'new-session', '-d', '-x', '100', '-y', '8', '-s', 'term', `env -u TMUX tmux -L ${inner} attach -t agents`);
    const drawn = await untilValue(async () => {
      const text = await box.tmux(outer, 'capture-pane', '-p', '-e', '-t', 'term');
      return text.includes('⚠1') && text.includes('○1') && text;
    }, 'the status line to show the segment', 60_000, { detail: () => box.tmux(outer, 'capture-pane', '-p', '-t', 'term') });
    expect(sgrBefore(drawn, '⚠1')).toEqual(expect.arrayContaining(['1', '31']));
    expect(sgrBefore(drawn, '●1')).toEqual(expect.arrayContaining(['33']));
    expect(sgrBefore(drawn, '●1')).not.toContain('31');

    // Approved: the file follows within one change.
    await hook({ session_id: S2, cwd: '/w2', hook_event_name: 'PostToolUse', ...bash, tool_use_id: 't2' });
    await until(async () => (await content()) === '#[fg=yellow,bg=colour236] ●2 #[default]#[fg=green,bg=colour236] ○1 #[default]\n', 'the approval to leave the segment', 60_000);

    // The agent dies: its sessions go, the segment is empty, and when the idle watcher exits the file goes with it.
    const watcher = runningWatcher(statusDir)!;
    stand.kill('SIGKILL');
    await until(async () => (await content()) === '\n', 'an empty segment', 60_000, { detail: async () => `file: ${JSON.stringify(await content())}` });
    await until(async () => !isAlive(watcher), 'the idle watcher to exit', 60_000);
    expect(existsSync(segmentFile)).toBe(false);
    expect((await mam(['status', '--tmux'], env)).stdout).toBe('\n');
  });

  it('with no watcher, mam status --tmux counts from the fact files: a dead agent and a stale file do not count', async () => {
    const env = box.env({ MAM_WATCH: '0' });
    await agent(env).hook({ session_id: S1, cwd: '/w1', hook_event_name: 'UserPromptSubmit' });
    const doomed = agent(env);
    await doomed.hook({ session_id: S2, cwd: '/w2', hook_event_name: 'PreToolUse', ...bash, tool_use_id: 't2' });
    await doomed.hook({ session_id: S2, cwd: '/w2', hook_event_name: 'PermissionRequest', ...bash });
    expect((await mam(['status', '--tmux', '--no-color'], env)).stdout).toBe('⚠1 ●1\n');
    // A file no watcher keeps (one killed with SIGKILL left it) says nothing about now.
    await writeFile(segmentFile, '#[fg=red,bg=colour236] ⚠9 #[default]\n');
    const exited = new Promise((resolve) => doomed.process.once('exit', resolve));
    doomed.process.kill('SIGKILL');
    await exited;
    expect((await mam(['status', '--tmux', '--no-color'], env)).stdout).toBe('●1\n');
    expect((await mam(['status', '--tmux'], env)).stdout).toBe('#[fg=yellow,bg=colour236] ●1 #[default]\n');
  });

  it('--tmux with flags it does not take is a usage error that names them', async () => {
    const result = await mam(['status', '--tmux', '--json', '--registry', '/x.yaml'], box.env());
    expect(result.code).toBe(64);
    expect(result.stderr).toContain('--tmux prints the status-line segment of every agent on this machine and takes only --no-color, not --json, --registry');
  });
});
