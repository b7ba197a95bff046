import { describe, expect, it } from 'vitest';
import { reconcile } from '../../src/reconcile/reconcile.js';
import { lostAtReboot, runFields, serverLoss } from '../../src/reconcile/server-loss.js';
import type { Observation } from '../../src/reconcile/types.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import type { ServerSnapshot, TmuxPane } from '../../src/tmux/client.js';

/** Telling a reboot from a crashed tmux server from a session ended on a live one (src/reconcile/server-loss.ts). */

const NOW = Date.parse('2026-11-22T12:00:00Z');
const BOOT = { bootId: 'boot-today', bootedAtMs: Date.parse('2026-11-22T08:00:00Z') };
/** The server the entries below ran on: pid 500, started at 2026-11-21T09:00:00Z. */
const RAN = { pid: 500, startedAt: Date.parse('2026-11-21T09:00:00Z') / 1000 };

function entry(fields: Partial<RegistryEntry> = {}): RegistryEntry {
  return {
    name: 'a',
    agent: 'claude',
    workspace: '/w',
    status: 'running',
    tmux_server: 'srv',
    created_at: '2026-11-21T09:00:05Z',
    boot_id: 'boot-today',
    tmux_server_pid: 500,
    tmux_server_started_at: '2026-11-21T09:00:00Z',
    ...fields,
  };
}

function pane(session: string): TmuxPane {
  return { session, windowIndex: 0, paneIndex: 0, paneId: '%1', pid: 100, command: 'claude', cwd: '/w', dead: false, title: '', owner: null };
}

const absent: ServerSnapshot = { server: 'srv', state: 'absent', panes: [], detail: 'no server running' };
const up = (process = RAN, panes: TmuxPane[] = [pane('other')]): ServerSnapshot => ({ server: 'srv', state: 'up', panes, process });

function observation(servers: ServerSnapshot[], boot = BOOT): Observation {
  return { at: NOW, servers, artifacts: new Map(), processAncestry: new Map(), problems: [], boot };
}

describe('serverLoss', () => {
  it('calls another boot id a reboot, whatever the server looks like now', () => {
    expect(serverLoss(entry({ boot_id: 'boot-yesterday' }), absent, BOOT)).toBe('reboot');
    expect(serverLoss(entry({ boot_id: 'boot-yesterday' }), up({ pid: 9, startedAt: 1 }), BOOT)).toBe('reboot');
  });

  it('calls a server that is not running, or another process on the socket, a crash', () => {
    expect(serverLoss(entry(), absent, BOOT)).toBe('crash');
    expect(serverLoss(entry(), up({ pid: 501, startedAt: RAN.startedAt }), BOOT)).toBe('crash');
    // A pid reused by a later server: the start time tells them apart.
    expect(serverLoss(entry(), up({ pid: 500, startedAt: RAN.startedAt + 3600 }), BOOT)).toBe('crash');
  });

  it('is no loss when the server that ran it is still up: the session was ended on it', () => {
    expect(serverLoss(entry(), up(), BOOT)).toBeUndefined();
  });

  it('judges nothing from a server it could not read, or a live server it has nothing to compare with', () => {
    expect(serverLoss(entry(), { server: 'srv', state: 'unknown', panes: [], error: 'x' }, BOOT)).toBeUndefined();
    expect(serverLoss(entry(), undefined, BOOT)).toBeUndefined();
    expect(serverLoss(entry({ tmux_server_pid: null }), up(), BOOT)).toBeUndefined();
  });

  it('never calls a reboot without two boot ids to compare: an older entry with its server gone is a crash', () => {
    const old = entry({ boot_id: null, tmux_server_pid: null, tmux_server_started_at: null, created_at: '2026-11-20T10:00:00Z' });
    expect(serverLoss(old, absent, BOOT)).toBe('crash');
    expect(serverLoss(old, up(), BOOT)).toBeUndefined();
    // Without /proc nothing can be called a reboot.
    expect(serverLoss(entry({ boot_id: 'boot-yesterday' }), absent, { bootId: undefined, bootedAtMs: undefined })).toBe('crash');
  });
});

describe('reconcile records a session lost with its server (class A, tmux_server_lost)', () => {
  it('marks a reboot and a crash, and says `mam restore` in the message', () => {
    const result = reconcile(
      { entries: [entry({ name: 'r', boot_id: 'boot-yesterday' }), entry({ name: 'c' })], names: new Set(['r', 'c']) },
      observation([absent]),
      NOW,
    );
    expect(result.drifts).toEqual([
      expect.objectContaining({ class: 'A', session: 'r', tmux_server_lost: 'reboot', message: expect.stringMatching(/\(tmux server srv is not running; the host rebooted since it started; `mam restore` brings it back\)\. Marked terminated\.$/) }),
      expect.objectContaining({ class: 'A', session: 'c', tmux_server_lost: 'crash', message: expect.stringMatching(/tmux server srv is not running; `mam restore` brings it back\)\. Marked terminated\.$/) }),
    ]);
    expect(result.patch.updates.map((update) => [update.session, update.set['status'], update.set['termination_mode'], update.set['tmux_server_lost']])).toEqual([
      ['r', 'terminated', 'auto-detected', 'reboot'],
      ['c', 'terminated', 'auto-detected', 'crash'],
    ]);
  });

  it('leaves the marker off a session ended on a server that is still the same one', () => {
    const result = reconcile({ entries: [entry()], names: new Set(['a']) }, observation([up()]), NOW);
    expect(result.drifts).toEqual([expect.objectContaining({ class: 'A', session: 'a', message: 'a: tmux gone. Marked terminated.' })]);
    expect(result.drifts[0]).not.toHaveProperty('tmux_server_lost');
    expect(result.patch.updates[0]!.set).not.toHaveProperty('tmux_server_lost');
  });

  it('records where a session it registers runs (class B)', () => {
    const result = reconcile({ entries: [], names: new Set() }, observation([up(RAN, [pane('w-creator-claude')])]), NOW);
    expect(result.patch.additions).toEqual([expect.objectContaining({ name: 'w-creator-claude', boot_id: 'boot-today', tmux_server_pid: 500, tmux_server_started_at: '2026-11-21T09:00:00Z' })]);
  });
});

describe('runFields and lostAtReboot', () => {
  it('writes only what is known', () => {
    expect(runFields(BOOT, RAN)).toEqual({ boot_id: 'boot-today', tmux_server_pid: 500, tmux_server_started_at: '2026-11-21T09:00:00Z' });
    expect(runFields({ bootId: undefined, bootedAtMs: undefined }, undefined)).toEqual({});
  });

  it('counts the sessions a pass marked lost at a reboot during this boot, still down', () => {
    const lost = (fields: Partial<RegistryEntry>) => entry({ status: 'terminated', tmux_server_lost: 'reboot', terminated_at: '2026-11-22T08:01:00Z', ...fields });
    const entries = [
      lost({ name: 'x' }),
      lost({ name: 'y' }),
      lost({ name: 'crashed', tmux_server_lost: 'crash' }),
      lost({ name: 'earlier-boot', terminated_at: '2026-11-21T08:01:00Z' }),
      lost({ name: 'back', status: 'running' }),
    ];
    expect(lostAtReboot(entries, BOOT)).toEqual({ bootId: 'boot-today', count: 2 });
    expect(lostAtReboot([lost({ name: 'z', tmux_server_lost: 'crash' })], BOOT)).toBeUndefined();
    expect(lostAtReboot(entries, { bootId: undefined, bootedAtMs: undefined })).toBeUndefined();
  });
});
