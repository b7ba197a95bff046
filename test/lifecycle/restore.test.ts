import { describe, expect, it } from 'vitest';
import { inSlots, lostSessions } from '../../src/lifecycle/restore.js';
import { until } from '../helpers/until.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import type { ServerSnapshot, TmuxPane } from '../../src/tmux/client.js';

/** The two pure-ish parts of `mam restore`: which sessions were lost, and the slots they start in. */

const BOOT = { bootId: 'boot-today', bootedAtMs: Date.parse('2026-11-22T08:00:00Z') };

function entry(name: string, fields: Partial<RegistryEntry> = {}): RegistryEntry {
  return { name, agent: 'gemini', workspace: '/w', status: 'running', tmux_server: 'srv', created_at: '2026-11-22T09:00:00Z', boot_id: 'boot-today', tmux_server_pid: 500, tmux_server_started_at: '2026-11-22T09:00:00Z', ...fields };
}

function pane(session: string, fields: Partial<TmuxPane> = {}): TmuxPane {
  return { session, windowIndex: 0, paneIndex: 0, paneId: '%1', pid: 100, command: 'gemini', cwd: '/w', dead: false, title: '', owner: null, ...fields };
}

const snapshots = (snapshot: ServerSnapshot) => new Map([['srv', snapshot]]);

describe('lostSessions', () => {
  it('finds entries a pass marked, and running ones whose server is gone, in registry order', () => {
    const entries = [
      entry('marked', { status: 'terminated', termination_mode: 'auto-detected', tmux_server_lost: 'reboot' }),
      entry('stopped', { status: 'stopped' }),
      entry('unmarked-terminated', { status: 'terminated', termination_mode: 'auto-detected' }),
      entry('purged', { status: 'terminated', termination_mode: 'purge', tmux_server_lost: 'crash' }),
      entry('running'),
    ];
    const absent: ServerSnapshot = { server: 'srv', state: 'absent', panes: [], detail: 'no server' };
    expect(lostSessions(entries, snapshots(absent), BOOT).map(({ entry: found, lost }) => [found.name, lost])).toEqual([
      ['marked', 'reboot'],
      ['running', 'crash'],
    ]);
  });

  it('leaves out a session alive again, and one ended on the server that still runs', () => {
    const entries = [entry('back', { status: 'terminated', termination_mode: 'auto-detected', tmux_server_lost: 'crash' }), entry('killed-by-hand')];
    const same: ServerSnapshot = { server: 'srv', state: 'up', panes: [pane('back')], process: { pid: 500, startedAt: Date.parse('2026-11-22T09:00:00Z') / 1000 } };
    expect(lostSessions(entries, snapshots(same), BOOT)).toEqual([]);
    // A session that is there but whose agent died (its pane kept by mam) is not alive: it comes back too.
    const dead: ServerSnapshot = { ...same, panes: [pane('back', { dead: true, mamStarted: true })] };
    expect(lostSessions(entries, snapshots(dead), BOOT).map(({ entry: found }) => found.name)).toEqual(['back']);
  });
});

describe('inSlots', () => {
  it('never runs more than `parallel` at once: a slot opens only when a start before it finished', async () => {
    const started: number[] = [];
    const finish = new Map<number, () => void>();
    const run = inSlots([0, 1, 2, 3], { parallel: 2, staggerMs: 0 }, (item) => {
      started.push(item);
      return new Promise<number>((resolve) => finish.set(item, () => resolve(item * 10)));
    });
    const settle = () => new Promise((resolve) => setTimeout(resolve, 20));
    await until(() => started.length === 2, 'two starts', 10_000);
    await settle();
    expect(started).toEqual([0, 1]);
    finish.get(1)!();
    await until(() => started.length === 3, 'the third start', 10_000);
    await settle();
    expect(started).toEqual([0, 1, 2]);
    finish.get(0)!();
    await until(() => started.length === 4, 'the fourth start', 10_000);
    finish.get(2)!();
    finish.get(3)!();
    expect(await run).toEqual([0, 10, 20, 30]);
  });

  it('starts in order, each at least the stagger after the one before', async () => {
    const starts: [string, number][] = [];
    await inSlots(['a', 'b', 'c', 'd'], { parallel: 4, staggerMs: 40 }, async (item, at) => {
      starts.push([item, at]);
    });
    expect(starts.map(([item]) => item)).toEqual(['a', 'b', 'c', 'd']);
    for (let index = 1; index < starts.length; index += 1) expect(starts[index]![1] - starts[index - 1]![1]).toBeGreaterThanOrEqual(40);
  });

  it('with one slot, each start waits for the one before to finish', async () => {
    const events: string[] = [];
    await inSlots(['a', 'b', 'c'], { parallel: 1, staggerMs: 0 }, async (item) => {
      events.push(`start ${item}`);
      await new Promise((resolve) => setTimeout(resolve, 10));
      events.push(`ready ${item}`);
    });
    expect(events).toEqual(['start a', 'ready a', 'start b', 'ready b', 'start c', 'ready c']);
  });
});
