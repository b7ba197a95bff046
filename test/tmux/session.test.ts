import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { capturePane, sessionPane, sessionPaneAndScreen } from '../../src/tmux/session.js';
import { Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

let box: Sandbox;
beforeEach(async () => {
  box = await Sandbox.create('mam-tmux-session-');
});
afterEach(async () => {
  await box.dispose();
});

describe('sessionPaneAndScreen: the pane and its screen in one tmux call', () => {
  it('reads what sessionPane and capturePane read one by one, tabs and blank lines on the screen included', async () => {
    const server = box.serverName('pas');
    const cwd = path.join(box.root, 'work');
    const pid = await box.startSession(server, 'one', cwd, `printf 'first\\tcolumn\\n\\nthird line\\n'; exec sleep 100000`);
    const options = { env: box.env() };
    // Settled: the words on the screen and the shell replaced by sleep, so the two reads below see the same pane.
    await until(async () => ((await capturePane(server, 'one', 0, options)) ?? '').includes('third line') && (await sessionPane(server, 'one', options))?.command === 'sleep', 'the screen', 30_000);

    const both = await sessionPaneAndScreen(server, 'one', options);
    expect(both?.pane).toEqual(await sessionPane(server, 'one', options));
    expect(both?.pane).toMatchObject({ pid, cwd, dead: false, deadStatus: null });
    expect(both?.screen).toBe(await capturePane(server, 'one', 0, options));
    expect(both?.screen).toMatch(/^first\s+column\n\nthird line\n/);
  });

  it('a dead pane kept by remain-on-exit: dead, and its screen', async () => {
    const server = box.serverName('pas');
    await box.startSession(server, 'holder', box.root);
    await box.tmux(server, 'set-option', '-g', 'remain-on-exit', 'on');
    await box.startSession(server, 'keep', box.root, 'exit 3');
    const options = { env: box.env() };
    await until(async () => (await sessionPaneAndScreen(server, 'keep', options))?.pane.dead === true, 'the pane to die', 30_000);
    const dead = await sessionPaneAndScreen(server, 'keep', options);
    // tmux 3.3a marks the pane dead when its terminal closes, and may know the exit status only later, or never.
    expect(dead?.pane).toMatchObject({ dead: true });
    expect([3, null]).toContain(dead?.pane.deadStatus);
    expect(dead?.screen).toBe(await capturePane(server, 'keep', 0, options));
  });

  it('no such session (or no server): undefined, as sessionPane', async () => {
    const server = box.serverName('pas');
    expect(await sessionPaneAndScreen(server, 'none', { env: box.env() })).toBeUndefined();
    await box.startSession(server, 'other', box.root);
    expect(await sessionPaneAndScreen(server, 'none', { env: box.env() })).toBeUndefined();
    // An exact name: a session whose name only starts with the one asked for is not it.
    expect(await sessionPaneAndScreen(server, 'oth', { env: box.env() })).toBeUndefined();
  });
});
