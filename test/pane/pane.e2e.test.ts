import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { waitFor } from '../../src/util/wait.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { paneRecords } from '../../src/pane/record.js';
import { mam, Sandbox } from '../helpers/sandbox.js';

/** `mam pane` refusing bad input, on private tmux servers with plain processes (no agent needed). */
let box: Sandbox;
let a: string;
let b: string;
beforeEach(async () => {
  box = await Sandbox.create('mam-pane-');
  a = box.serverName('a');
  b = box.serverName('b');
  await box.startSession(a, 'main', box.root);
  await box.startSession(b, 'main', box.root);
});
afterEach(async () => {
  await box.dispose();
});

const run = (server: string, ...args: string[]) => mam(['pane', ...args, '--tmux-server', server, '--registry', box.registry], box.env());

describe('mam pane: bad input', () => {
  it('a pane id that does not exist, and one that exists only on another server', async () => {
    const missing = await run(a, 'send', '--pane', '%99', '--message', 'hi');
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`mam: pane %99 does not exist on tmux server ${a}; pane ids are per tmux server: list them with \`tmux list-panes -a -F '#{pane_id}'\`; nothing was sent`);
    expect((await run(a, 'send', '--pane', 'main', '--message', 'hi')).code).toBe(64);
    expect((await run(a, 'kill', '--pane', '%99')).stderr).toMatch(/pane %99 does not exist on tmux server/);
    const typo = await run(a, 'kill', '--pane', '%99', '--master', '0');
    expect(typo.code).toBe(64);
    expect(typo.stderr).toContain('--master "0" is not a pane id like %0');

    // %1 lives on server a and is registered there; addressed on server b, it is not there.
    const id = (await box.tmux(a, 'split-window', '-d', '-P', '-F', '#{pane_id}', '-t', '%0', 'sleep 100000')).trim();
    expect((await run(a, 'register', '--pane', id, '--role', 'dev')).code).toBe(0);
    const wrong = await run(b, 'send', '--pane', id, '--message', 'hi');
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(`pane ${id} does not exist on tmux server ${b}; the registry has an open ${id} on tmux server ${a}: add --tmux-server ${a}`);
  });

  it('a dead agent: nothing is sent; kill marks it closed and exits 0', async () => {
    await box.tmux(a, 'set-option', '-g', 'remain-on-exit', 'on');
    const id = (await box.tmux(a, 'split-window', '-d', '-P', '-F', '#{pane_id}', '-t', '%0', 'sleep 100000')).trim();
    expect((await run(a, 'register', '--pane', id, '--role', 'qa')).code).toBe(0);
    const pid = Number((await box.tmux(a, 'display-message', '-p', '-t', id, '#{pane_pid}')).trim());
    process.kill(pid, 'SIGTERM');
    expect(await waitFor(async () => (await box.tmux(a, 'display-message', '-p', '-t', id, '#{pane_dead}')).trim() === '1', 30_000)).toBe(true);
    const sent = await run(a, 'send', '--pane', id, '--message', 'hi');
    expect(sent.code).toBe(1);
    expect(sent.stderr).toMatch(/its agent has exited \(the pane is dead\); nothing was sent/);
    const killed = await run(a, 'kill', '--pane', id);
    expect(killed.code, killed.stderr).toBe(0);
    expect(killed.stdout.trim()).toBe(`closed ${id} (already-gone)`);
    expect(paneRecords(parseDocument(await readFile(box.registry, 'utf8')))).toEqual([expect.objectContaining({ pane_id: id, status: 'closed', close_mode: 'already-gone' })]);
  });

  it('a program that never shows the text: the receipt fails at queued with the reason, after 3 attempts', async () => {
    const id = (await box.tmux(a, 'split-window', '-d', '-P', '-F', '#{pane_id}', '-t', '%0', "stty -echo; exec cat >/dev/null")).trim();
    // Only once cat runs is echo surely off: text typed before that would show, as the terminal echoes it.
    expect(await waitFor(async () => (await box.tmux(a, 'display-message', '-p', '-t', id, '#{pane_current_command}')).trim() === 'cat', 30_000)).toBe(true);
    const sent = await run(a, 'send', '--pane', id, '--message', 'INVISIBLE-1 text');
    expect(sent.code).toBe(1);
    expect(sent.stderr).toMatch(/delivery to %\d+ not confirmed — stage queued: the text never showed in the agent's input.*\(after 3 attempts\)/);
  });

  it('a program that echoes: literal text with tmux-special characters is submitted', async () => {
    const out = path.join(box.root, 'received.txt');
    const id = (await box.tmux(a, 'split-window', '-d', '-P', '-F', '#{pane_id}', '-t', '%0', `exec cat > ${out}`)).trim();
    const message = `ECHO-7 | a:b "q" 's' $(id) 🚀 C-c Enter;`;
    const sent = await run(a, 'send', '--pane', id, '--message', message, '--json');
    expect(sent.code, sent.stderr).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({ ok: true, stage: 'submitted', token: 'ECHO-7 | a:b "q" \'s\' $(id) 🚀 C-c' });
    expect(await waitFor(async () => (await readFile(out, 'utf8').catch(() => '')).includes('\n'), 30_000)).toBe(true);
    expect(await readFile(out, 'utf8')).toBe(`${message}\n`);
    // Text that starts with a dash is text, not a tmux flag.
    const dashed = '- fix the bug -abc';
    const second = await run(a, 'send', '--pane', id, `--message=${dashed}`, '--json');
    expect(second.code, second.stderr).toBe(0);
    expect(await waitFor(async () => (await readFile(out, 'utf8')).endsWith(`${dashed}\n`), 30_000)).toBe(true);
  });

  it('spawn --window into another window lays out that window, and leaves the master\'s alone', async () => {
    const other = (await box.tmux(a, 'new-window', '-d', '-P', '-F', '#{window_id}', '-t', 'main', 'sleep 100000')).trim();
    const spawned = await run(a, 'spawn', '--role', 'qa', '--agent', 'cat', '--master', '%0', '--window', other, '--split', 'v', '--no-prompt', '--json');
    expect(spawned.code, spawned.stderr).toBe(0);
    // main-vertical: side by side, both from the top — a vertical split alone would have stacked them.
    const panes = (await box.tmux(a, 'list-panes', '-t', other, '-F', '#{pane_top} #{pane_left}')).trim().split('\n');
    expect(panes).toHaveLength(2);
    expect(panes.map((line) => line.split(' ')[0])).toEqual(['0', '0']);
    expect((await box.tmux(a, 'list-panes', '-t', 'main:0', '-F', '#{pane_id}')).trim()).toBe('%0');
  });

  it('keeps the rest of the registry: sessions, comments and unknown fields survive pane rows', async () => {
    await box.writeRegistry('# mine\ntmux_sessions: []\ncustom: {keep: true}\n');
    const id = (await box.tmux(a, 'split-window', '-d', '-P', '-F', '#{pane_id}', '-t', '%0', 'sleep 100000')).trim();
    expect((await run(a, 'register', '--pane', id, '--role', 'dev', '--report-back')).code).toBe(0);
    const text = await readFile(box.registry, 'utf8');
    expect(text).toMatch(/^# mine\ntmux_sessions: \[\]\ncustom: \{ keep: true \}\ntmux_panes:\n  - pane_id: "%\d+"/);
    await writeFile(box.registry, text.replace('report_back: true', 'report_back: true # checked by hand'));
    expect((await run(a, 'register', '--pane', id, '--task-done')).code).toBe(0);
    expect(await readFile(box.registry, 'utf8')).toContain('report_back: true # checked by hand');
  });
});
