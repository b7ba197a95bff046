import { describe, expect, it } from 'vitest';
import { colorWanted, cutToWidth, frame, paint, visibleWidth } from '../../src/status/terminal.js';
import { statusTable, type StatusReport, type StatusRow } from '../../src/status/report.js';

const ESC = '\x1b';

describe('terminal widths, cuts and frames', () => {
  it('visible width skips escape sequences and counts wide characters twice, combining marks not at all', () => {
    expect(visibleWidth('abc')).toBe(3);
    expect(visibleWidth(`${ESC}[31;1mabc${ESC}[0m`)).toBe(3);
    expect(visibleWidth('日本')).toBe(4);
    expect(visibleWidth('e\u0301')).toBe(1);
    expect(visibleWidth('🚀x')).toBe(3);
    expect(visibleWidth(`${ESC}]0;title\x07ok`)).toBe(2);
  });

  it('cuts to the width, keeps colours, never splits a wide character, and resets a colour it cut off', () => {
    expect(cutToWidth('abcdef', 4)).toBe('abcd');
    expect(cutToWidth('ab', 4)).toBe('ab');
    expect(cutToWidth('日本語', 5)).toBe('日本');
    expect(cutToWidth(`${ESC}[31mabcdef${ESC}[0m`, 3)).toBe(`${ESC}[31mabc${ESC}[0m`);
    // Not cut inside the colour: the text's own reset is kept, none added.
    expect(cutToWidth(`${ESC}[31mab${ESC}[0mcdef`, 3)).toBe(`${ESC}[31mab${ESC}[0mc`);
  });

  it('a frame homes, clears each line to its end and everything below, and never writes past the last row', () => {
    const text = frame(['long line here', 'short'], 'footer', { columns: 10, rows: 5 });
    expect(text).toBe(`${ESC}[H` + [`long line `, `short${ESC}[K`, `footer${ESC}[K`].join('\r\n') + `\r\n${ESC}[J`);
    // A full-width line gets no clear-to-end: the cursor then sits on its last column and would erase it.
    expect(text.split('\r\n')[0]).toBe(`${ESC}[Hlong line `);
  });

  it('a table taller than the terminal keeps the footer and says how many lines it left out', () => {
    const lines = Array.from({ length: 10 }, (_, index) => `row ${index}`);
    const rows = frame(lines, 'footer', { columns: 80, rows: 4 }).slice(3).split('\r\n');
    expect(rows).toEqual([`row 0${ESC}[K`, `row 1${ESC}[K`, `… 8 more lines: a taller terminal shows them${ESC}[K`, `footer${ESC}[K`]);
  });

  it('colour only on a terminal, and never with NO_COLOR or --no-color', () => {
    expect(colorWanted({}, true)).toBe(true);
    expect(colorWanted({}, false)).toBe(false);
    expect(colorWanted({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colorWanted({ NO_COLOR: '' }, true)).toBe(true);
    expect(colorWanted({}, true, true)).toBe(false);
    expect(paint('x', ['red'], false)).toBe('x');
    expect(paint('x', ['red', 'bold'], true)).toBe(`${ESC}[31m${ESC}[1mx${ESC}[0m`);
  });
});

describe('the status table: needs you first, coloured on request', () => {
  const row = (name: string, activity: string | null, extra: Partial<StatusRow> = {}): StatusRow => ({
    name,
    agent: 'claude',
    status: 'running',
    tmux_server: null,
    tmux: 'alive',
    conversation_id: null,
    workspace: '/w',
    since: null,
    age_seconds: 5,
    job: null,
    activity,
    activity_source: activity ? 'hooks' : null,
    background: [],
    limited_until: null,
    ...extra,
  });
  const report: StatusReport = {
    registry: '/r.yaml',
    registry_exists: true,
    sessions: [row('a-working', 'working'), row('b-asks', 'needs_approval'), row('c-idle', 'waiting'), row('d-gone', null, { tmux: 'gone' }), row('e-asks', 'needs_approval')],
    invalid: [],
  };

  it('sessions needing approval lead; the rest keep the registry order', () => {
    const names = statusTable(report).split('\n').slice(2).map((line) => line.split(/\s+/)[0]);
    expect(names).toEqual(['b-asks', 'e-asks', 'a-working', 'c-idle', 'd-gone']);
  });

  it('without colour there is no escape at all; with it, the columns still line up', () => {
    const plain = statusTable(report);
    expect(plain).not.toContain(ESC);
    const colored = statusTable(report, { color: true });
    expect(colored).toContain(`${ESC}[31m${ESC}[1mNEEDS APPROVAL${ESC}[0m`);
    expect(colored).toContain(`${ESC}[33mworking${ESC}[0m`);
    expect(colored).toContain(`${ESC}[31mGONE${ESC}[0m`);
    // Stripped of its colours the coloured table is the plain one, character for character.
    expect(colored.replace(/\x1b\[[0-9;]*m/g, '')).toBe(plain);
  });
});
