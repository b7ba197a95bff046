import { describe, expect, it } from 'vitest';
import { countToken, decide, defaultToken, messageStage, messageTail, RETRY_TABLE } from '../../src/deliver/policy.js';
import { layoutProblem } from '../../src/pane/layout.js';
import { roleColor } from '../../src/pane/identity.js';
import { literalArg } from '../../src/tmux/client.js';
import type { PaneInfo } from '../../src/tmux/panes.js';

describe('the retry table (docs/pane.md)', () => {
  it('messages: retype while never shown, press Enter again once shown, 3 attempts in all', () => {
    expect(RETRY_TABLE.message.maxAttempts).toBe(3);
    expect(decide(1, { operation: 'message', stage: 'queued', paneAlive: true })).toEqual({ action: 'retry', how: 'retype' });
    expect(decide(2, { operation: 'message', stage: 'sent', paneAlive: true })).toEqual({ action: 'retry', how: 'press-enter' });
    expect(decide(3, { operation: 'message', stage: 'queued', paneAlive: true })).toMatchObject({ action: 'fail', reason: expect.stringMatching(/never showed.*\(after 3 attempts\)$/) });
    expect(decide(1, { operation: 'message', stage: 'submitted', paneAlive: true })).toEqual({ action: 'done' });
    expect(decide(1, { operation: 'message', stage: 'sent', paneAlive: false })).toMatchObject({ action: 'fail', reason: expect.stringMatching(/died/) });
  });

  it('identity: one re-send of both commands; spawn: respawn on timeout only; rebalance: one re-layout', () => {
    expect(decide(1, { operation: 'identity', confirmed: false, paneAlive: true, missing: '/color red' })).toEqual({ action: 'retry', how: 'resend-identity' });
    expect(decide(2, { operation: 'identity', confirmed: false, paneAlive: true, missing: '/color red' })).toMatchObject({ action: 'fail', reason: expect.stringContaining('/color red') });
    expect(decide(1, { operation: 'spawn', outcome: 'timeout' })).toEqual({ action: 'retry', how: 'respawn' });
    expect(decide(3, { operation: 'spawn', outcome: 'timeout' })).toMatchObject({ action: 'fail' });
    expect(decide(1, { operation: 'spawn', outcome: 'exited' })).toMatchObject({ action: 'fail', reason: expect.stringContaining('exited') });
    expect(decide(1, { operation: 'rebalance', problem: 'x' })).toEqual({ action: 'retry', how: 'relayout' });
    expect(decide(2, { operation: 'rebalance', problem: 'x' })).toMatchObject({ action: 'fail' });
  });
});

describe('receipt stages', () => {
  const base = { tail: messageTail('hello TOKEN-1 there'), collapsed: /\[Pasted text #\d+/, tailsBefore: 0, tokensBefore: 0 };
  it('typed text is one more tail in the pane; gone from the cursor line and in the history is submitted', () => {
    expect(messageStage({ ...base, cursorLine: '❯ ', tails: 0, tokens: 0, enterPressed: false, changedSinceEnter: false })).toBe('queued');
    expect(messageStage({ ...base, cursorLine: '❯ hello TOKEN-1 there ', tails: 1, tokens: 1, enterPressed: false, changedSinceEnter: false })).toBe('sent');
    expect(messageStage({ ...base, cursorLine: '❯ hello TOKEN-1 there ', tails: 1, tokens: 1, enterPressed: true, changedSinceEnter: true })).toBe('sent');
    expect(messageStage({ ...base, cursorLine: '❯  ', tails: 1, tokens: 1, enterPressed: true, changedSinceEnter: true })).toBe('submitted');
    // Input cleared without the text reaching the history (Esc, Ctrl-U): not submitted.
    expect(messageStage({ ...base, cursorLine: '❯  ', tails: 0, tokens: 0, enterPressed: true, changedSinceEnter: true })).toBe('sent');
  });
  it('a paste placeholder on the cursor line counts as shown, and as not yet taken', () => {
    expect(messageStage({ ...base, cursorLine: '❯ [Pasted text #1 +72 lines] ', tails: 0, tokens: 0, enterPressed: false, changedSinceEnter: false })).toBe('sent');
    expect(messageStage({ ...base, cursorLine: '❯ [Pasted text #1 +72 lines] ', tails: 0, tokens: 1, enterPressed: true, changedSinceEnter: true })).toBe('sent');
  });
  it('tokens are counted with whitespace squashed, so wrapping and indentation do not hide them', () => {
    expect(countToken('❯ HOSTILE-42 | pipe\n  more HOSTILE-\n  42 again', 'HOSTILE-42')).toBe(2);
    expect(countToken('anything', '   ')).toBe(0);
    expect(defaultToken('\n\n  first line of it, which is long enough to be cut here\nsecond')).toBe('first line of it, which is long ');
  });
});

describe('layout check', () => {
  const pane = (paneId: string, left: number, height: number): PaneInfo => ({ paneId, pid: 1, dead: false, session: 's', windowId: '@0', index: 0, command: 'x', cwd: '/', left, top: 0, width: 80, height, windowWidth: 200, windowHeight: 50, cursorX: 0, cursorY: 0 });
  it('wants the master full height on the left and the expected count', () => {
    expect(layoutProblem([pane('%0', 0, 50), pane('%1', 81, 50)], '%0', 2)).toBeUndefined();
    expect(layoutProblem([pane('%1', 0, 50), pane('%0', 81, 50)], '%0', 2)).toMatch(/not the full-height main pane/);
    expect(layoutProblem([pane('%0', 0, 50)], '%0', 2)).toMatch(/has 1 panes, expected 2/);
  });
});

describe('small pure parts', () => {
  it('role colours are stable and Claude-valid; a trailing ; survives tmux', () => {
    expect(roleColor('master')).toBe('blue');
    expect(roleColor('dev')).toBe('green');
    // Any other role: a fixed pick by its name's hash, the same on every run and machine.
    expect(roleColor('data-eng')).toBe('yellow');
    expect(literalArg('rm;')).toBe('rm\\;');
    expect(literalArg('a;b')).toBe('a;b');
  });
});
