import { spawn } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mam, MAM, Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

let box: Sandbox;
beforeEach(async () => {
  box = await Sandbox.create();
});
afterEach(async () => {
  await box.dispose();
});

describe('mam status --watch', () => {
  it('redraws in place as reality changes, and exits 0 on Ctrl-C', async () => {
    const server = box.serverName('watch');
    await box.startSession(server, 'w-creator-claude', box.root);
    await box.writeRegistry(`tmux_sessions:\n  - {name: w-creator-claude, agent: claude, workspace: ${box.root}, status: running, tmux_server: ${server}, created_at: 2026-01-01T00:00:00Z}\n`);
    const child = spawn(process.execPath, [MAM, 'status', '--watch', '--interval', '0.2', '--registry', box.registry], { env: box.env() });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const soFar = { detail: () => `output so far:\n${output}` };
    await until(() => /w-creator-claude\s+claude\s+running\s+alive/.test(output), 'the session shown alive', 10_000, soFar);
    await box.killSession(server, 'w-creator-claude');
    await until(() => /w-creator-claude\s+claude\s+running\s+GONE/.test(output), 'the session shown gone', 10_000, soFar);
    // Each frame starts at the top-left and clears what is below: a redraw, not a scroll.
    expect(output.split('\x1b[H').length - 1).toBeGreaterThanOrEqual(2);
    expect(output).toContain('\x1b[J');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('refuses an --interval that is not a number instead of redrawing without pause', async () => {
    const result = await mam(['status', '--watch', '--interval', 'abc', '--registry', box.registry], box.env());
    expect(result.code).toBe(64);
    expect(result.stderr).toMatch(/--interval takes a positive number of seconds, not "abc"/);
  });
});
