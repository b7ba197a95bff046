import { describe, expect, it } from 'vitest';
import { DEFAULT_SETTINGS, parseDuration, settingsFromBody } from '../../src/kanban/settings.js';
import { selectPrunable } from '../../src/lifecycle/prune.js';
import type { RegistryEntry } from '../../src/registry/schema.js';

const DAY = 86_400_000;
const NOW = Date.parse('2026-12-02T12:00:00Z');
const base = { agent: 'claude', workspace: '/w' } as const;
const ago = (days: number): string => new Date(NOW - days * DAY).toISOString();

/** The pure decision of `mam prune` and the monitor's retention: (entries, now, retention) → what goes. */
describe('selectPrunable', () => {
  const entries: RegistryEntry[] = [
    { ...base, name: 'old-terminated', status: 'terminated', terminated_at: ago(8) },
    { ...base, name: 'new-terminated', status: 'terminated', terminated_at: ago(6) },
    { ...base, name: 'old-stopped-final', status: 'stopped', stopped_at: ago(30), resumable: false },
    { ...base, name: 'old-stopped-resumable', status: 'stopped', stopped_at: ago(30), resumable: true },
    { ...base, name: 'old-stopped-unknown', status: 'stopped', stopped_at: ago(30) },
    { ...base, name: 'running', status: 'running', terminated_at: ago(30), created_at: ago(40) },
    { ...base, name: 'starting', status: 'starting', terminated_at: ago(30) },
    { ...base, name: 'no-time', status: 'terminated' },
    { ...base, name: 'bad-time', status: 'terminated', terminated_at: 'last tuesday' },
    { ...base, name: 'epoch-only', status: 'terminated', terminated_at_epoch: Math.floor((NOW - 9 * DAY) / 1000) },
    { ...base, name: 'yaml11-date', status: 'terminated', terminated_at: new Date(NOW - 10 * DAY) },
  ];

  it('takes terminated and unresumable stopped entries older than the bound, by their end time', () => {
    const selected = selectPrunable(entries, NOW, 7 * DAY);
    expect(selected.map(({ entry }) => entry.name)).toEqual(['old-terminated', 'old-stopped-final', 'epoch-only', 'yaml11-date']);
    expect(selected[0]!.endedMs).toBe(NOW - 8 * DAY);
  });

  it('never takes running, starting or resumable entries, nor one without a readable end time, however old', () => {
    const names = selectPrunable(entries, NOW + 1000 * DAY, 1).map(({ entry }) => entry.name);
    for (const kept of ['running', 'starting', 'old-stopped-resumable', 'old-stopped-unknown', 'no-time', 'bad-time']) expect(names).not.toContain(kept);
  });

  it('is strict about "older than", and retention 0 (or less) means never', () => {
    expect(selectPrunable(entries, NOW, 8 * DAY).map(({ entry }) => entry.name)).not.toContain('old-terminated');
    expect(selectPrunable(entries, NOW, 0)).toEqual([]);
    expect(selectPrunable(entries, NOW, -1)).toEqual([]);
  });

  it('reads bounds in days as well as the monitor\'s units', () => {
    expect([parseDuration('7d'), parseDuration('1 day'), parseDuration('12h')]).toEqual([7 * DAY, DAY, DAY / 2]);
  });

  it('the monitor reads retention from a card line: a duration, 0 for never, 7 days by default', () => {
    expect(DEFAULT_SETTINGS.retentionMs).toBe(7 * DAY);
    expect(settingsFromBody('retention: 3d').settings.retentionMs).toBe(3 * DAY);
    expect(settingsFromBody('- `retention`: 0').settings.retentionMs).toBe(0);
    expect(settingsFromBody('retention: never').settings.retentionMs).toBe(0);
    const bad = settingsFromBody('retention: soon');
    expect(bad.settings.retentionMs).toBe(7 * DAY);
    expect(bad.rejected).toEqual(['retention: soon (a duration such as 7d or 12h, or 0 for never)']);
  });
});
