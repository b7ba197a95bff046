import { spawn } from 'node:child_process';
import { rename } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { applyHook } from '../../src/facts/derive.js';
import { updateFacts } from '../../src/facts/store.js';
import { processId } from '../../src/proc/tree.js';
import { mam, MAM, Sandbox } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * `mam status --watch` in a real terminal: a tmux pane runs it, send-keys types at it, capture-pane reads what a
 * person would see. tmux is the terminal here, so stale text, wrapped rows, the alternate screen and the cursor
 * are tmux's own record of what the program wrote.
 */
let box: Sandbox;
let agents: string;
let view: string;
/** The registered session's process: a sleep standing in for the agent. */
let agentPid: number;

beforeEach(async () => {
  box = await Sandbox.create('mam-status-watch-');
  agents = box.serverName('agents');
  view = box.serverName('view');
  agentPid = await box.startSession(agents, 'w-creator-claude', box.root);
});
afterEach(async () => {
  await box.dispose();
});

/** Replaces the registry in one rename, so the redraw loop never reads half of it. */
async function registry(workspace: string, extra = ''): Promise<void> {
  const temp = `${box.registry}.tmp`;
  await box.writeRegistry(`tmux_sessions:\n  - {name: w-creator-claude, agent: claude, workspace: ${workspace}, status: running, tmux_server: ${agents}, created_at: 2026-01-01T00:00:00Z${extra}}\n`, temp);
  await rename(temp, box.registry);
}

/**
 * Starts `mam status --watch` in a pane of `columns` × 20. The pane's shell outlives it and says how it exited
 * (`EXIT=<code>`), so the terminal's state after the exit can be read from a live pane: tmux's cursor flag of a
 * dead pane is not reliable. The shell traps SIGINT (a handler, which the program does not inherit) so Ctrl-C
 * reaches the program and the shell carries on.
 */
async function watchInPane(columns: number, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): Promise<void> {
  const command = [process.execPath, MAM, 'status', '--watch', '--registry', box.registry, ...args].map((word) => `'${word}'`).join(' ');
  const vars = Object.entries(env).map(([name, value]) => `${name}='${value}'`).join(' ');
  await box.tmux(view, '-f', '/dev/null', 'new-session', '-d', '-x', String(columns), '-y', '20', '-s', 'view', `trap : INT; ${vars ? `env ${vars} ` : ''}${command}; echo "EXIT=$?"; exec sleep 100000`);
}

const screen = (escapes = false): Promise<string> => box.tmux(view, 'capture-pane', '-p', '-J', ...(escapes ? ['-e'] : []), '-t', 'view');
const pane = async (format: string): Promise<string> => (await box.tmux(view, 'display-message', '-p', '-t', 'view', format)).trim();
const shows = { detail: () => screen().then((text) => `screen:\n${text}`) };

describe('mam status --watch on a terminal', () => {
  it('a long row then a short one leaves no stale text, and the session going is redrawn', async () => {
    const long = path.join(box.root, 'x'.repeat(60));
    await registry(long);
    await watchInPane(200, ['--interval', '0.2']);
    await until(async () => (await screen()).includes(long), 'the long row', 60_000, shows);
    await registry('/w');
    const redrawn = await untilValue(async () => {
      const text = await screen();
      return /w-creator-claude\s+claude\s+running\s+alive\s+\S+\s+-\s+\S+\s+\/w\s*$/m.test(text) && text;
    }, 'the short row', 60_000, shows);
    expect(redrawn).not.toContain('xxxx');
    await box.killSession(agents, 'w-creator-claude');
    await until(async () => /w-creator-claude\s+claude\s+running\s+GONE/.test(await screen()), 'the session shown gone', 60_000, shows);
  });

  it('rows are cut to a narrow pane, and a resize redraws at once (no interval to wait for)', async () => {
    const long = path.join(box.root, 'workspace-at-the-end');
    await registry(long);
    // A redraw interval of an hour: anything redrawn after the first frame is the resize's doing.
    await watchInPane(40, ['--interval', '3600']);
    const narrow = await untilValue(async () => {
      const text = await screen();
      return /^w-creator-claude/m.test(text) && text;
    }, 'the first frame', 60_000, shows);
    // Joined wrapped lines (-J) would be longer than the pane: every row was cut, none wrapped.
    for (const line of narrow.split('\n')) expect(line.length).toBeLessThanOrEqual(40);
    expect(narrow).toMatch(/^NAME\s+AGENT\s+STAT/m);
    expect(narrow).not.toContain('workspace-at-the-end');
    await box.tmux(view, 'resize-window', '-t', 'view', '-x', '200');
    await until(async () => (await screen()).includes(long), 'the full row after the resize', 60_000, shows);
  });

  it('colour on a terminal: NEEDS APPROVAL in red, first; NO_COLOR gives none', async () => {
    const sid = '5f0c2a8e-2222-4c8e-9f00-2a6b1c3d4e5f';
    await registry('/w', `, claude_session_id_own: ${sid}`);
    // The hooks' facts for the conversation: an approval waiting, from the agent's process (the pane's sleep).
    const agent = processId(agentPid)!;
    const dir = path.join(box.root, 'cache', 'mam', 'status');
    for (const event of [{ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'ls' }, tool_use_id: 't1' }, { hook_event_name: 'PermissionRequest', tool_name: 'Bash', tool_input: { command: 'ls' } }]) {
      await updateFacts(dir, sid, (facts) => applyHook(facts, { session_id: sid, ...event }, { now: Date.now(), agent: 'claude', mamSession: 'w-creator-claude', pid: agent.pid, pidStart: agent.start }), 10_000);
    }
    await watchInPane(160, ['--interval', '0.2']);
    const colored = await untilValue(async () => {
      const text = await screen(true);
      return text.includes('NEEDS APPROVAL') && text;
    }, 'the approval on screen', 60_000, shows);
    const before = colored.slice(0, colored.indexOf('NEEDS APPROVAL'));
    expect(before.match(/(?:\x1b\[[0-9;]*m)+$/)?.[0]).toMatch(/\x1b\[[0-9;]*\b31\b[0-9;]*m|\x1b\[31m/);

    await box.tmux(view, 'kill-server').catch(() => undefined);
    // A fresh server: kill-server returns before the old one is gone, and a client of the same socket that reaches it
    // meanwhile dies with it ("server exited unexpectedly").
    view = box.serverName('view');
    await watchInPane(160, ['--interval', '0.2'], { NO_COLOR: '1' });
    const plain = await untilValue(async () => {
      const text = await screen(true);
      return text.includes('NEEDS APPROVAL') && text;
    }, 'the approval on screen without colour', 60_000, shows);
    expect(plain).not.toMatch(/\x1b\[[0-9;]*m/);
  });

  it('Ctrl-C: exit 0, the cursor shown again and the table gone with the alternate screen', async () => {
    await registry('/w');
    await watchInPane(120, ['--interval', '0.2']);
    await until(async () => /w-creator-claude/.test(await screen()), 'the table', 60_000, shows);
    expect(await pane('#{alternate_on} #{cursor_flag}')).toBe('1 0');
    await box.tmux(view, 'send-keys', '-t', 'view', 'C-c');
    await until(async () => (await screen()).includes('EXIT='), 'mam status to exit', 60_000, shows);
    const after = await screen();
    expect(after).toContain('EXIT=0');
    expect(await pane('#{alternate_on} #{cursor_flag}')).toBe('0 1');
    expect(after).not.toContain('w-creator-claude');
  });
});

describe('mam status --watch when stdout is not a terminal', () => {
  it('prints the table once, with no escape sequence, and says why on stderr', async () => {
    await registry('/w');
    const result = await mam(['status', '--watch', '--interval', '0.2', '--registry', box.registry], box.env());
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^w-creator-claude\s+claude\s+running\s+alive/m);
    expect(result.stdout).not.toContain('\x1b');
    expect(result.stderr).toContain('--watch redraws a terminal and stdout is not one, so the table was printed once');
  });

  it('--watch --json keeps printing one report per interval, plain JSON, until Ctrl-C', async () => {
    await registry('/w');
    const child = spawn(process.execPath, [MAM, 'status', '--watch', '--json', '--interval', '0.2', '--registry', box.registry], { env: box.env() });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    await until(() => output.split('\n').filter(Boolean).length >= 2, 'two reports', 60_000, { detail: () => output });
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).not.toContain('\x1b');
    for (const line of output.split('\n').filter(Boolean)) expect(JSON.parse(line)).toMatchObject({ sessions: [{ name: 'w-creator-claude', tmux: 'alive' }] });
  });

  it('refuses an --interval that is not a number instead of redrawing without pause', async () => {
    const result = await mam(['status', '--watch', '--interval', 'abc', '--registry', box.registry], box.env());
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/--interval takes a positive number of seconds, not "abc"/);
  });
});
