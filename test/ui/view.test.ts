import type { Key } from 'ink';
import { describe, expect, it } from 'vitest';
import { sgr, uiKeys } from '../../src/ui/app.js';
import { pressKey, selectedIndex, type UiKey, type ViewState } from '../../src/ui/view.js';
import { fleetRow, view0 } from './fixtures.js';

const rows = [fleetRow('a', { state: 'needs_approval' }), fleetRow('b'), fleetRow('c', { state: 'stopped' }), fleetRow('far', { host: 'box2', local: false })];
const char = (text: string): UiKey => ({ name: 'char', char: text });

/** Presses keys one after another against `on`; the effects in order. */
function press(keys: readonly UiKey[], on: readonly typeof rows[number][] = rows, from: ViewState = view0) {
  let view = from;
  const effects = [];
  for (const key of keys) {
    const result = pressKey(view, key, on, 10);
    view = result.view;
    if (result.effect) effects.push(result.effect);
  }
  return { view, effects };
}

describe('moving the selection', () => {
  it('starts on the first row and moves by row, page, first and last, never past either end', () => {
    expect(selectedIndex(view0, rows)).toBe(0);
    expect(selectedIndex(press([{ name: 'down' }, char('j')]).view, rows)).toBe(2);
    expect(selectedIndex(press([{ name: 'up' }, char('k')]).view, rows)).toBe(0);
    expect(selectedIndex(press([char('G')]).view, rows)).toBe(3);
    expect(selectedIndex(press([{ name: 'end' }, { name: 'down' }, { name: 'home' }]).view, rows)).toBe(0);
    expect(selectedIndex(press([{ name: 'pagedown' }]).view, rows)).toBe(3);
  });

  it('follows the session, not the position, when the order changes', () => {
    const { view } = press([{ name: 'down' }]);
    expect(view.selected).toBe(rows[1]!.key);
    const reordered = [rows[1]!, rows[0]!, rows[2]!];
    expect(selectedIndex(view, reordered)).toBe(0);
    // The session gone from the list: back to the top.
    expect(selectedIndex(view, [rows[0]!, rows[2]!])).toBe(0);
  });
});

describe('actions on the selected session', () => {
  it('Enter attaches, s stops, r resumes: each an effect on that row', () => {
    expect(press([{ name: 'enter' }]).effects).toEqual([{ kind: 'attach', row: rows[0] }]);
    expect(press([{ name: 'down' }, char('s')]).effects).toEqual([{ kind: 'stop', row: rows[1] }]);
    expect(press([{ name: 'down' }, { name: 'down' }, char('r')]).effects).toEqual([{ kind: 'resume', row: rows[2] }]);
    expect(press([char('s')]).view.message).toEqual({ text: 'stopping a…', tone: 'info' });
  });

  it('d asks first: y deletes, any other key cancels with nothing done', () => {
    const asked = press([{ name: 'down' }, { name: 'down' }, char('d')]);
    expect(asked.view.mode).toBe('confirm-delete');
    expect(asked.effects).toEqual([]);
    expect(press([char('y')], rows, asked.view).effects).toEqual([{ kind: 'delete', row: rows[2] }]);
    const cancelled = press([char('n')], rows, asked.view);
    expect(cancelled.effects).toEqual([]);
    expect(cancelled.view.mode).toBe('list');
    expect(cancelled.view.message?.text).toMatch(/cancelled/);
  });

  it("refuses to act on another host's session, and says where it runs", () => {
    const { view, effects } = press([char('G'), char('s'), { name: 'enter' }, char('d')]);
    expect(effects).toEqual([]);
    expect(view.mode).toBe('list');
    expect(view.message).toEqual({ text: 'far runs on box2: delete it there (mam ui on box2)', tone: 'error' });
  });

  it('with no rows, says there is nothing selected instead of acting', () => {
    const { effects, view } = press([char('s')], []);
    expect(effects).toEqual([]);
    expect(view.message?.tone).toBe('error');
  });

  it('a opens the approval panel for the row and asks for its details; any key closes it', () => {
    const opened = press([char('a')]);
    expect(opened.view.mode).toBe('approval');
    expect(opened.view.subject).toBe(rows[0]);
    expect(opened.effects).toEqual([{ kind: 'approval', row: rows[0] }]);
    // q closes the panel; it does not quit.
    const closed = press([char('q')], rows, opened.view);
    expect(closed.view.mode).toBe('list');
    expect(closed.effects).toEqual([]);
  });

  it('q and Ctrl-C quit; Ctrl-C from any mode', () => {
    expect(press([char('q')]).effects).toEqual([{ kind: 'quit' }]);
    expect(press([char('n'), { name: 'interrupt' }]).effects).toEqual([{ kind: 'quit' }]);
  });
});

describe('the filter', () => {
  it('/ types a filter, Enter keeps it, Esc clears it; arrows still move', () => {
    const typed = press([char('/'), char('f'), char('a'), char('x'), { name: 'backspace' }, char('r'), { name: 'enter' }]);
    expect(typed.view.filter).toBe('far');
    expect(typed.view.mode).toBe('list');
    // Typed letters are the filter's, not commands.
    expect(press([char('/'), char('q'), char('s')]).effects).toEqual([]);
    expect(press([char('/'), char('x'), { name: 'escape' }]).view.filter).toBe('');
    expect(press([{ name: 'escape' }], rows, typed.view).view.filter).toBe('');
    expect(selectedIndex(press([char('/'), { name: 'down' }]).view, rows)).toBe(1);
  });
});

describe('the create form', () => {
  it('starts from the defaults, Tab moves between fields, Enter creates with the name optional', () => {
    const typed = press([char('n'), { name: 'backspace' }, { name: 'backspace' }, { name: 'backspace' }, { name: 'backspace' }, { name: 'backspace' }, { name: 'backspace' }, char('codex'), { name: 'tab' }, char('/api'), { name: 'enter' }]);
    expect(typed.effects).toEqual([{ kind: 'create', agent: 'codex', workspace: '/home/me/lab/api', name: undefined }]);
    expect(typed.view.mode).toBe('list');
    const named = press([char('n'), { name: 'backtab' }, char('x1'), { name: 'enter' }]);
    expect(named.effects).toEqual([{ kind: 'create', agent: 'claude', workspace: '/home/me/lab', name: 'x1' }]);
  });

  it('refuses an empty agent or workspace and stays open; Esc cancels', () => {
    const emptied = press([char('n'), { name: 'tab' }, ...Array.from({ length: 20 }, () => ({ name: 'backspace' }) as const), { name: 'enter' }]);
    expect(emptied.effects).toEqual([]);
    expect(emptied.view.mode).toBe('create');
    expect(emptied.view.message?.text).toMatch(/agent and workspace/);
    expect(press([{ name: 'escape' }], rows, emptied.view).view.mode).toBe('list');
  });

  it('? shows help and any key returns', () => {
    const help = press([char('?')]);
    expect(help.view.mode).toBe('help');
    expect(press([char('x')], rows, help.view).view.mode).toBe('list');
  });
});

describe("ink's key events", () => {
  const key = (fields: Partial<Key> = {}): Key => ({
    upArrow: false,
    downArrow: false,
    leftArrow: false,
    rightArrow: false,
    pageDown: false,
    pageUp: false,
    home: false,
    end: false,
    return: false,
    escape: false,
    ctrl: false,
    shift: false,
    tab: false,
    backspace: false,
    delete: false,
    meta: false,
    super: false,
    hyper: false,
    capsLock: false,
    numLock: false,
    ...fields,
  });

  it('text read in one go (a paste, tmux send-keys) becomes one key per character, Enter and Backspace included', () => {
    expect(uiKeys('/ab\r', key())).toEqual([char('/'), char('a'), char('b'), { name: 'enter' }]);
    expect(uiKeys('x\x7f\t', key())).toEqual([char('x'), { name: 'backspace' }, { name: 'tab' }]);
  });

  it('maps named keys, Backspace sent as DEL, Shift-Tab, Ctrl-C, and Esc+key read as Alt+key', () => {
    expect(uiKeys('', key({ upArrow: true }))).toEqual([{ name: 'up' }]);
    expect(uiKeys('', key({ delete: true }))).toEqual([{ name: 'backspace' }]);
    expect(uiKeys('', key({ tab: true, shift: true }))).toEqual([{ name: 'backtab' }]);
    expect(uiKeys('c', key({ ctrl: true }))).toEqual([{ name: 'interrupt' }]);
    expect(uiKeys('n', key({ meta: true }))).toEqual([{ name: 'escape' }, char('n')]);
    expect(uiKeys('', key({ escape: true, meta: true }))).toEqual([{ name: 'escape' }]);
    expect(uiKeys('x', key({ ctrl: true }))).toEqual([]);
  });
});

describe('styled text for ink', () => {
  it('writes a segment\'s attributes as one SGR sequence and resets after it; a plain segment stays plain', () => {
    expect(sgr({ text: '! needs approval', color: 'red', bold: true })).toBe('\x1b[31;1m! needs approval\x1b[0m');
    expect(sgr({ text: 'row', inverse: true, dim: true })).toBe('\x1b[2;7mrow\x1b[0m');
    expect(sgr({ text: 'plain' })).toBe('plain');
  });
});
