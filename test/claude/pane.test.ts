import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { paneRecords, type PaneRecord } from '../../src/pane/record.js';
import { mam, type Sandbox } from '../helpers/sandbox.js';
import { startClaudeSession, type ClaudeSession } from './fixture.js';
import { textOf, type ApiMessage, type ModelServer } from './model-server.js';
import { capture, waitForScreen } from './tmux-screen.js';

/** Idle with an empty input (after /rename the top rule carries the name, so tmux-screen's box check does not apply). */
const isEmptyIdlePrompt = (screen: string): boolean =>
  /\? for shortcuts/.test(screen) && !/esc to interrupt/i.test(screen) && screen.split('\n').some((line) => /^❯\s*$/.test(line.replace(/\u00a0/g, ' ')));

/**
 * `mam pane` on the real Claude Code CLI (scripted model), in a private tmux server whose master pane %0 plays
 * the coordinator: spawn → prompt → identity confirmed → a hostile 5 KB message arrives byte-exact and is
 * submitted → kill refused until the agent is ready to close → kill → layout rebalanced, master in place.
 */
let session: ClaudeSession | undefined;
let box: Sandbox;
let model: ModelServer;
let workspace: string;
let server: string;

beforeEach(async () => {
  session = await startClaudeSession({ prefix: 'mam-claude-pane-', serverTag: 'pane', workspace: 'project', script: () => [{ trigger: 'You are the dev agent', reply: { text: 'ROLE-ACK-11' } }] });
  ({ box, model, workspace, server } = session);
  // The coordinator's tmux server carries the user's environment: that is what a split pane inherits.
  await box.startSession(server, 'main', workspace, 'sleep 100000');
  for (const [key, value] of Object.entries(session.claudeEnv)) {
    await box.tmux(server, 'set-environment', '-g', key, value);
  }
  await box.tmux(server, 'resize-window', '-t', '=main:', '-x', '200', '-y', '50');
});

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

const env = () => box.env({ PATH: `${path.join(box.root, 'bin')}:${process.env['PATH']}` });
const run = (...args: string[]) => mam(['pane', ...args, '--tmux-server', server, '--registry', box.registry], env());

async function rows(): Promise<PaneRecord[]> {
  return paneRecords(parseDocument(await readFile(box.registry, 'utf8')));
}

async function layout(): Promise<{ id: string; left: number; top: number; height: number; windowHeight: number }[]> {
  const out = await box.tmux(server, 'list-panes', '-t', '=main:', '-F', '#{pane_id} #{pane_left} #{pane_top} #{pane_height} #{window_height}');
  return out.trim().split('\n').map((line) => {
    const [id, left, top, height, windowHeight] = line.split(' ');
    return { id: id!, left: Number(left), top: Number(top), height: Number(height), windowHeight: Number(windowHeight) };
  });
}

/** Every text the scripted model was sent in the main conversation turns. */
function modelTexts(): string[] {
  return model.messages('main').flatMap((request) => ((request.body as { messages?: ApiMessage[] }).messages ?? []).map((message) => textOf(message.content)));
}

describe('mam pane on the real Claude Code CLI', () => {
  it('spawn → identity → byte-exact confirmed send → kill → rebalanced with the master in place', async () => {
    const spawned = await run('spawn', '--role', 'dev', '--task', 'wait for the hostile message', '--master', '%0');
    expect(spawned.code, spawned.stderr).toBe(0);
    const pane = spawned.stdout.trim();
    expect(pane).toMatch(/^%\d+$/);

    // Identity: each command confirmed by Claude itself; OSC renames off; the row says who it is.
    const screen = await box.tmux(server, 'capture-pane', '-p', '-J', '-S', '-', '-t', pane);
    expect(screen).toContain('Session color set to: green');
    expect(screen).toContain('Session renamed to: dev-agent');
    expect((await box.tmux(server, 'show-options', '-p', '-t', pane, 'allow-rename')).trim()).toBe('allow-rename off');
    expect(await rows()).toEqual([
      expect.objectContaining({ pane_id: pane, tmux_server: server, role: 'dev', agent: 'claude', status: 'active', spawner_pane: '%0', master_pane: '%0', color: 'green', title: `dev-${pane}`, workspace }),
    ]);
    // The role prompt reached the model: who it is, its spawner, the registry, the rules and the task.
    await waitForScreen(box, server, pane, (text) => text.includes('ROLE-ACK-11') && isEmptyIdlePrompt(text), 30_000, 'the reply to the role prompt');
    const role = modelTexts().find((text) => text.includes('You are the dev agent'));
    expect(role).toContain(`Your spawner (the coordinator) is pane %0; the pane registry is ${box.registry}.`);
    expect(role).toContain('Task: wait for the hostile message');
    const before = await layout();
    expect(before[0]).toMatchObject({ id: '%0', left: 0, top: 0 });
    expect(before[0]!.height).toBe(before[0]!.windowHeight);

    // A message tmux or a shell would mangle: key-name look-alikes, quotes, a command substitution, an emoji, a
    // trailing `;` (tmux's command separator), and 5 KB of text over many lines.
    const filler = Array.from({ length: 72 }, (_, index) => `line ${String(index).padStart(2, '0')}: the quick brown fox jumps over the lazy dog | C-c Enter ${'·'.repeat(4)}`).join('\n');
    const message = `HOSTILE-42 | pipe : colon "double" 'single' $(rm -rf ~) \`id\` 🚀 ünïcødé C-c Enter;\n${filler}\nend of message;`;
    expect(Buffer.byteLength(message)).toBeGreaterThan(5_000);
    const sent = await run('send', '--pane', pane, '--message', message, '--token', 'HOSTILE-42', '--json');
    expect(sent.code, sent.stderr).toBe(0);
    expect(JSON.parse(sent.stdout)).toMatchObject({ ok: true, stage: 'submitted', attempts: 1, token: 'HOSTILE-42' });
    // Byte-exact at the model, and submitted: the scripted model answered it and Claude is idle again.
    expect(modelTexts().some((text) => text.includes(message))).toBe(true);
    await waitForScreen(box, server, pane, isEmptyIdlePrompt, 30_000, 'the idle prompt after the message');
    expect((await rows())[0]!.last_delivery).toMatch(/^submitted /);

    // Another pane in the window (the coordinator's own shell, say), so the rebalance after the kill has work to do.
    await box.tmux(server, 'split-window', '-d', '-t', '%0', 'sleep 100000');

    // Not ready to close yet: refused with what is missing.
    const early = await run('kill', '--pane', pane);
    expect(early.code).toBe(1);
    expect(early.stderr).toMatch(/is not ready to close: its report-back was not received .*mam pane register --ready-to-close/);

    // The agent's side (template 6): it registers itself ready to close; its conversation id is found on disk.
    const registered = await run('register', '--pane', pane, '--ready-to-close', '--json');
    expect(registered.code, registered.stderr).toBe(0);
    const ready = JSON.parse(registered.stdout) as PaneRecord;
    expect(ready).toMatchObject({ status: 'ready-to-close', report_back: true, task_done: true, session_id: expect.stringMatching(/^[0-9a-f-]{36}$/) });

    // Closed by Claude's own /exit, not by kill-pane after waiting that out: the mode says which rung did it.
    const killed = await run('kill', '--pane', pane);
    expect(killed.code, killed.stderr).toBe(0);
    expect(killed.stdout.trim()).toBe(`closed ${pane} (exit-keys), layout rebalanced`);
    const after = await layout();
    expect(after.map((item) => item.id)).not.toContain(pane);
    expect(after).toHaveLength(2);
    expect(after[0]).toMatchObject({ id: '%0', left: 0, top: 0 });
    expect(after[0]!.height).toBe(after[0]!.windowHeight);
    expect(await rows()).toEqual([expect.objectContaining({ pane_id: pane, status: 'closed', close_mode: 'exit-keys', session_id: ready.session_id })]);

    // Killing it again: already gone, exit 0.
    const again = await run('kill', '--pane', pane);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout.trim()).toBe(`closed ${pane} (already-gone)`);
  });

  it('a message Claude never shows fails with the stage and the reason', async () => {
    const spawned = await run('spawn', '--role', 'qa', '--master', '%0', '--no-prompt');
    expect(spawned.code, spawned.stderr).toBe(0);
    const pane = spawned.stdout.trim();
    await waitForScreen(box, server, pane, isEmptyIdlePrompt, 30_000, 'the idle prompt');
    // A copy-mode screen over the agent: keys go to tmux's copy mode, the agent never sees the text.
    await box.tmux(server, 'copy-mode', '-t', pane);
    const sent = await run('send', '--pane', pane, '--message', 'NEVER-SHOWN-9 hello');
    expect(sent.code).toBe(1);
    expect(sent.stderr).toMatch(/delivery to %\d+ not confirmed — stage queued: the text never showed in the agent's input.*\(after 3 attempts\)/);
    expect(await capture(box, server, pane)).not.toContain('NEVER-SHOWN-9');
  });
});
