import { describe, expect, it } from 'vitest';
import { buildFrame, frameText, nextAgeChange, scrollFor, type FrameInput } from '../../src/ui/frame.js';
import type { FleetRow } from '../../src/ui/fleet.js';
import { pressKey, type ViewState } from '../../src/ui/view.js';
import { fleetRow, view0 } from './fixtures.js';

const NOW = Date.parse('2026-01-01T12:00:00.000Z');

function input(rows: readonly FleetRow[], fields: Partial<FrameInput> = {}): FrameInput {
  return {
    rows,
    total: rows.length,
    since: (row) => row.stateSince,
    view: view0,
    now: NOW,
    width: 120,
    height: 20,
    color: true,
    registry: '/home/me/.hermes/agent-sessions.yaml',
    hosts: undefined,
    home: '/home/me',
    loading: false,
    ...fields,
  };
}

const fleet = [
  fleetRow('api', { state: 'needs_approval', stateSince: NOW - 4 * 60_000 - 5_000, agent: 'claude', job: 'job-7 running' }),
  fleetRow('web', { state: 'working', stateSince: NOW - 12_000, agent: 'codex' }),
  fleetRow('far', { state: 'waiting', host: 'box2', local: false, workspace: '/srv/far', source: 'mqtt' }),
];

describe('a frame', () => {
  it('lists every row with symbol, state, age, name, agent, workspace (home as ~), job and host', () => {
    const text = frameText(buildFrame(input(fleet)));
    expect(text[0]).toMatch(/^mam ui {2}3 sessions: 1 needs approval · 1 waiting · 1 working {3}~\/\.hermes\/agent-sessions\.yaml$/);
    expect(text[1]).toMatch(/^ {2}STATE +FOR +NAME +AGENT +WORKSPACE +JOB +HOST$/);
    expect(text[2]).toMatch(/^> ! needs approval +4m +api +claude +~\/lab\/api +job-7 running +here$/);
    expect(text[3]).toMatch(/^ {2}● working +12s +web +codex +~\/lab\/web +- +here$/);
    expect(text[4]).toMatch(/^ {2}… waiting +- +far +claude +\/srv\/far +- +box2$/);
    expect(text.at(-1)).toContain('Enter attach · n new · s stop · r resume · d delete · / filter · a approval · ? help · q quit');
  });

  it("shows a row's note after its state: working (background), limited (until 15:05)", () => {
    const text = frameText(buildFrame(input([fleetRow('bg', { state: 'working', note: 'background' }), fleetRow('lim', { state: 'limited', note: 'until 15:05' })])));
    expect(text.some((line) => /● working \(background\) +/.test(line))).toBe(true);
    expect(text.some((line) => /∥ limited \(until 15:05\) +/.test(line))).toBe(true);
  });

  it('is one line shorter than the terminal and no line is wider than it, so ink never clears the screen', () => {
    for (const [width, height] of [
      [120, 20],
      [40, 8],
      [200, 60],
    ] as const) {
      const frame = buildFrame(input(fleet, { width, height }));
      expect(frame.lines).toHaveLength(height - 1);
      for (const line of frameText(frame)) expect([...line].length).toBeLessThanOrEqual(width);
    }
  });

  it('cuts a long workspace at its start and a long name at its end when the terminal is narrow', () => {
    const long = fleetRow('a-very-long-session-name-that-goes-on', { workspace: '/srv/projects/deeply/nested/workspace/the-end' });
    const text = frameText(buildFrame(input([long], { width: 60 })));
    expect(text[2]).toContain('…the-end');
    expect(text[2]).toMatch(/a-very-long\S*…/);
    expect([...text[2]!].length).toBeLessThanOrEqual(60);
  });

  it('colours the state, and with NO_COLOR carries no colour at all — symbols and labels still say it', () => {
    const coloured = buildFrame(input(fleet)).lines.flat();
    expect(coloured.some((segment) => segment.color === 'red' && segment.text.includes('needs approval'))).toBe(true);
    const plain = buildFrame(input(fleet, { color: false }));
    expect(plain.lines.flat().filter((segment) => segment.color !== undefined)).toEqual([]);
    expect(frameText(plain)).toEqual(frameText(buildFrame(input(fleet))));
    // The selection is not a colour: it stays visible without one.
    expect(plain.lines[2]!.some((segment) => segment.inverse)).toBe(true);
  });

  it('says what is going on when there is nothing to list', () => {
    expect(frameText(buildFrame(input([], { loading: true })))[2]).toContain('reading the registry and tmux');
    expect(frameText(buildFrame(input([])))[2]).toContain('no sessions registered in /home/me/.hermes/agent-sessions.yaml yet: press n');
    const filtered: ViewState = { ...view0, filter: 'zzz' };
    expect(frameText(buildFrame(input([], { total: 3, view: filtered })))[2]).toContain('no session matches "zzz"');
  });

  it('scrolls to keep the selection on screen with 100 sessions in 20 lines', () => {
    const many = Array.from({ length: 100 }, (_, index) => fleetRow(`s${String(index).padStart(3, '0')}`));
    let view: ViewState = view0;
    for (let step = 0; step < 40; step++) view = pressKey(view, { name: 'down' }, many, 15).view;
    const frame = buildFrame(input(many, { view }));
    const text = frameText(frame);
    expect(frame.page).toBe(15);
    expect(text.filter((line) => line.startsWith('> '))).toEqual([expect.stringMatching(/^> ● working +- +s040 /)]);
    expect(frame.scroll).toBe(40 - 15 + 1);
  });

  it('shows the pending approval: tool and command, or the pane lines when no hook names the tool', () => {
    const approving = fleetRow('api', { state: 'needs_approval', approvals: [{ agent: 'main', tool: 'Bash', command: 'rm -rf build\necho done', input: null }] });
    const open = pressKey(view0, { name: 'char', char: 'a' }, [approving], 15).view;
    const text = frameText(buildFrame(input([approving], { view: open })));
    expect(text).toContain('tool:    Bash');
    expect(text).toContain('command: rm -rf build ⏎ echo done');
    const fromPane = fleetRow('cx', { state: 'needs_approval', source: 'pane' });
    const paneView = { ...pressKey(view0, { name: 'char', char: 'a' }, [fromPane], 15).view, detail: ['Allow command? [y/n]'] };
    const paneText = frameText(buildFrame(input([fromPane], { view: paneView })));
    expect(paneText.some((line) => line.includes('Seen on the pane'))).toBe(true);
    expect(paneText).toContain('  Allow command? [y/n]');
  });
});

describe('the clock', () => {
  it('redraws exactly when the first shown age changes: seconds, then minutes, then hours', () => {
    expect(nextAgeChange([NOW - 12_300], NOW)).toBe(700);
    expect(nextAgeChange([NOW - 5 * 60_000 - 1_000], NOW)).toBe(59_000);
    expect(nextAgeChange([NOW - 2 * 86_400_000 - 60_000], NOW)).toBe(3_600_000 - 60_000);
    expect(nextAgeChange([NOW - 5 * 60_000 - 1_000, NOW - 12_300, undefined], NOW)).toBe(700);
    expect(nextAgeChange([undefined], NOW)).toBeUndefined();
  });

  it('keeps the list where it was while the selection is in sight', () => {
    expect(scrollFor(10, 12, 15, 100)).toBe(10);
    expect(scrollFor(10, 5, 15, 100)).toBe(5);
    expect(scrollFor(10, 30, 15, 100)).toBe(16);
    expect(scrollFor(90, 99, 15, 100)).toBe(85);
  });
});
