import { describe, expect, it } from 'vitest';
import {
  coalesce,
  commentSeq,
  freezePending,
  initialState,
  MAX_PENDING_LINES,
  observedApprovals,
  observedFrom,
  observedLimits,
  progressNote,
  type Observed,
} from '../../src/kanban/coalesce.js';
import { isMonitorLaunch, parseDispatcherArgv, runDeadline, runLimits } from '../../src/kanban/launch.js';
import { DEFAULT_SETTINGS, parseDuration, settingsFromBody, settingsFromCard } from '../../src/kanban/settings.js';
import { isFromSomeoneElse, isStopRequest, nextBlockKind } from '../../src/kanban/stop.js';
import type { PassReport } from '../../src/reconcile/pass.js';

const T0 = Date.parse('2026-11-22T10:00:00Z');

describe('stop requests', () => {
  it('accepts the request itself, in any case, and nothing that merely mentions stopping', () => {
    for (const text of ['stop', 'STOP', ' Stop monitoring. ', 'please stop', 'stop now!', 'Stop the monitor']) expect(isStopRequest(text), text).toBe(true);
    for (const text of ["don't stop", 'do not stop monitoring', 'stop?', 'stopwatch', 'the build should stop on failure', 'nonstop', '']) {
      expect(isStopRequest(text), text).toBe(false);
    }
  });

  it('ignores the worker\'s own comments and Hermes\'s status echoes', () => {
    expect(isFromSomeoneElse({ author: 'mam-monitor', body: 'agent-sessions monitor: 1 change at x\n- stop\n[mam-monitor #3]', createdAt: 0 }, 'mam-monitor')).toBe(false);
    // Assigned to `default`, the worker shares its author with a person on the root profile: the marker tells them apart.
    expect(isFromSomeoneElse({ author: 'default', body: 'stop', createdAt: 0 }, 'default')).toBe(true);
    expect(isFromSomeoneElse({ author: 'default', body: 'agent-sessions monitor: 1 change at x\n- a\n[mam-monitor #1]', createdAt: 0 }, 'default')).toBe(false);
    expect(isFromSomeoneElse({ author: 'default', body: 'BLOCKED: stop-requested by user', createdAt: 0 }, 'mam-monitor')).toBe(false);
    expect(isFromSomeoneElse({ author: 'default', body: 'UNBLOCK: resume please', createdAt: 0 }, 'mam-monitor')).toBe(false);
    expect(isFromSomeoneElse({ author: 'default', body: 'stop', createdAt: 0 }, 'mam-monitor')).toBe(true);
  });
});

describe('block kinds', () => {
  it('alternate with the blocks already on the card, so a block after an unblock never sends it to triage', () => {
    const echo = (body: string) => ({ author: 'mam-monitor', body, createdAt: 0 });
    expect(nextBlockKind([])).toBe('needs_input');
    expect(nextBlockKind([echo('BLOCKED: no registry configured …'), echo('UNBLOCK: done')])).toBe('transient');
    expect(nextBlockKind([echo('BLOCKED: a'), echo('BLOCKED: b'), echo('stop')])).toBe('needs_input');
  });
});

describe('card body settings', () => {
  it('reads only the keys it knows, as data', () => {
    const body = [
      '# monitor',
      'interval: 60s',
      '- heartbeat: 2m',
      'registry: /home/me/p/.hermes/agent-sessions.yaml',
      'command: rm -rf ~',
      '$(touch /tmp/pwned)',
      'timeout: 5s',
    ].join('\n');
    const { settings, rejected } = settingsFromBody(body);
    expect(settings).toEqual({ ...DEFAULT_SETTINGS, intervalMs: 60_000, heartbeatMs: 120_000, registry: '/home/me/p/.hermes/agent-sessions.yaml' });
    expect(rejected).toEqual([]);
  });

  it('rejects values it cannot use, keeping the defaults', () => {
    const { settings, rejected } = settingsFromBody('interval: soon\nheartbeat: 0s\nregistry: relative/path.yaml');
    expect(settings).toEqual(DEFAULT_SETTINGS);
    expect(rejected).toHaveLength(3);
  });

  it('treats unfilled {{placeholders}} as unset, never as a value', () => {
    const { settings, rejected } = settingsFromBody('registry: {{registry}}\ninterval: {{interval}}\nheartbeat: `{{heartbeat}}`');
    expect(settings).toEqual(DEFAULT_SETTINGS);
    expect(rejected).toEqual([]);
  });

  it('lets a comment by someone else override the body, newest first, and ignores the worker\'s own', () => {
    const others = (comment: { author: string }) => comment.author !== 'mam-monitor';
    const card = {
      body: 'registry: {{registry}}\ninterval: 30s',
      comments: [
        { author: 'default', body: 'registry: /srv/a/.hermes/agent-sessions.yaml', createdAt: 1 },
        { author: 'mam-monitor', body: 'registry: /wrong.yaml\ninterval: 1h', createdAt: 2 },
        { author: 'alice', body: 'use this one\nregistry: ~/b/.hermes/agent-sessions.yaml\ninterval: 2m', createdAt: 3 },
      ],
    };
    const { settings, rejected } = settingsFromCard(card, others);
    expect(settings).toEqual({ ...DEFAULT_SETTINGS, registry: '~/b/.hermes/agent-sessions.yaml', intervalMs: 120_000 });
    expect(rejected).toEqual([]);
    expect(settingsFromCard({ ...card, comments: card.comments.slice(0, 2) }, others).settings.registry).toBe('/srv/a/.hermes/agent-sessions.yaml');
  });

  it('parses durations', () => {
    expect([parseDuration('30'), parseDuration('30s'), parseDuration('5m'), parseDuration('1.5 min'), parseDuration('2h'), parseDuration('250ms')]).toEqual([30_000, 30_000, 300_000, 90_000, 7_200_000, 250]);
    expect(parseDuration('5 parsecs')).toBeUndefined();
  });
});

function report(drifts: PassReport['drifts'], problems: PassReport['problems'] = []): PassReport {
  return { at: '', registry: '/r', dry_run: false, written: false, drifts, problems };
}

const A = { class: 'A', session: 'gone', message: 'gone: tmux gone. Marked terminated.', tmux_server: 's', pane: null } as const;
const D = { class: 'D', session: 'stale', message: 'stale: stale id x (f): missing. Kept in YAML.', fields: ['f'], conversation_id: 'x', artifact_root: '/r' } as const;

describe('coalescing', () => {
  it('tells a lasting condition once, again when it changes, and once when it clears', () => {
    let state = initialState('t_1');
    state = coalesce(state, observedFrom({ report: report([D]) }), T0);
    expect(state.pending).toEqual([`D ${D.message}`]);
    state = { ...state, pending: [] };
    for (let pass = 1; pass <= 50; pass += 1) state = coalesce(state, observedFrom({ report: report([D]) }), T0 + pass * 30_000);
    expect(state.pending).toEqual([]);
    const changed = { ...D, message: 'stale: stale id x (f): root gone. Kept in YAML.' };
    state = coalesce(state, observedFrom({ report: report([changed]) }), T0 + 60 * 30_000);
    expect(state.pending).toEqual([`changed: D ${changed.message}`]);
    state = coalesce({ ...state, pending: [] }, observedFrom({ report: report([]) }), T0 + 61 * 30_000);
    expect(state.pending).toEqual([`resolved: D ${changed.message}`]);
    expect(state.active).toEqual({});
    expect(state.driftsDetected).toBe(1);
  });

  it('tells an action once and forgets it silently when it is gone', () => {
    let state = coalesce(initialState('t_1'), observedFrom({ report: report([A]) }), T0);
    state = coalesce(state, observedFrom({ report: report([A]) }), T0 + 30_000);
    state = coalesce(state, observedFrom({ report: report([]) }), T0 + 60_000);
    expect(state.pending).toEqual([`A ${A.message}`]);
    // The same session dying again later is news again.
    state = coalesce({ ...state, pending: [] }, observedFrom({ report: report([A]) }), T0 + 90_000);
    expect(state.pending).toEqual([`A ${A.message}`]);
    expect(state.driftsDetected).toBe(2);
    expect(state.lastDriftAt).toBe('2026-11-22T10:01:30Z');
  });

  it('turns a failing pass into one lasting problem', () => {
    let state = coalesce(initialState('t_1'), observedFrom({ error: 'r.yaml:3:1: invalid YAML' }), T0);
    state = coalesce(state, observedFrom({ error: 'r.yaml:3:1: invalid YAML' }), T0 + 30_000);
    state = coalesce(state, observedFrom({ report: report([]) }), T0 + 60_000);
    expect(state.pending).toEqual(['reconcile pass failed, nothing written: r.yaml:3:1: invalid YAML', 'resolved: reconcile pass failed, nothing written: r.yaml:3:1: invalid YAML']);
    expect(state.driftsDetected).toBe(0);
  });

  it('tells an unreadable tmux server only when it stays unreadable for two passes', () => {
    const unreadable = report([], [{ kind: 'tmux-unavailable', tmux_server: 's', message: 'tmux server s could not be read (server exited unexpectedly)' }]);
    let state = coalesce(initialState('t_1'), observedFrom({ report: unreadable }), T0);
    state = coalesce(state, observedFrom({ report: report([A]) }), T0 + 30_000);
    expect(state.pending).toEqual([`A ${A.message}`]);
    state = coalesce({ ...state, pending: [] }, observedFrom({ report: unreadable }), T0 + 60_000);
    expect(state.pending).toEqual([]);
    state = coalesce(state, observedFrom({ report: unreadable }), T0 + 90_000);
    expect(state.pending).toEqual(['problem: tmux server s could not be read (server exited unexpectedly)']);
    state = coalesce({ ...state, pending: [] }, observedFrom({ report: report([]) }), T0 + 120_000);
    expect(state.pending).toEqual(['resolved: problem: tmux server s could not be read (server exited unexpectedly)']);
  });

  it('freezes pending lines into one numbered comment, and no second while one is in flight', () => {
    let state = coalesce(initialState('t_1'), observedFrom({ report: report([A, D]) }), T0);
    state = freezePending(state, T0);
    expect(state.pending).toEqual([]);
    expect(state.outbox).toHaveLength(1);
    expect(state.outbox[0]!.text).toBe(`agent-sessions monitor: 2 changes at 2026-11-22T10:00:00Z\n- A ${A.message}\n- D ${D.message}\n[mam-monitor #1]`);
    expect(commentSeq(state.outbox[0]!.text)).toBe(1);
    state = coalesce(state, observedFrom({ report: report([]) }), T0 + 30_000);
    state = freezePending(state, T0 + 30_000);
    expect(state.outbox.map((comment) => comment.seq)).toEqual([1]);
    expect(state.pending).toEqual([`resolved: D ${D.message}`]);
    state = freezePending({ ...state, outbox: [] }, T0 + 60_000);
    expect(state.outbox.map((comment) => comment.seq)).toEqual([2]);
  });

  it('keeps the state bounded however much churns while nothing can be sent', () => {
    let state = initialState('t_1');
    for (let pass = 0; pass < 5_000; pass += 1) {
      const churn: Observed[] = [{ key: `D:s${pass}:x`, fingerprint: `f${pass}`, line: `D s${pass}`, lasting: true, isDrift: true }];
      state = coalesce(state, churn, T0 + pass * 30_000);
    }
    expect(state.pending.length).toBeLessThanOrEqual(MAX_PENDING_LINES);
    expect(state.pending[0]).toMatch(/^… and \d+ earlier changes/);
    expect(Number(/… and (\d+) earlier/.exec(state.pending[0]!)![1]) + state.pending.length - 1).toBe(5_000 * 2 - 1);
    expect(JSON.stringify(state).length).toBeLessThan(20_000);
  });

  it('tells an approval wait once past the threshold, resolved when it ends, and a new wait again', () => {
    const since = new Date(T0).toISOString();
    let state = coalesce(initialState('t'), observedApprovals([{ session: 'w', since }], T0 + 9 * 60_000, 10 * 60_000), T0 + 9 * 60_000);
    expect(state.pending).toEqual([]);
    for (const minute of [10, 11, 25]) state = coalesce(state, observedApprovals([{ session: 'w', since }], T0 + minute * 60_000, 10 * 60_000), T0 + minute * 60_000);
    expect(state.pending).toEqual(['w: waiting for approval since 2026-11-22T10:00:00Z (over 10 min)']);
    state = coalesce({ ...state, pending: [] }, observedApprovals([], T0 + 26 * 60_000, 10 * 60_000), T0 + 26 * 60_000);
    expect(state.pending).toEqual(['resolved: w: waiting for approval since 2026-11-22T10:00:00Z (over 10 min)']);
    const later = new Date(T0 + 30 * 60_000).toISOString();
    state = coalesce({ ...state, pending: [] }, observedApprovals([{ session: 'w', since: later }], T0 + 41 * 60_000, 10 * 60_000), T0 + 41 * 60_000);
    expect(state.pending).toHaveLength(1);
  });

  it('tells a usage limit once, however many passes see it; nothing when it ends; a new limit again', () => {
    const limit = { session: 'w', since: '2026-11-22T10:00:00.000Z', until: '2026-11-22T15:00:00.000Z', resumeText: 'continue' };
    let state = initialState('t');
    for (const minute of [0, 1, 2, 30]) state = coalesce(state, observedLimits([limit]), T0 + minute * 60_000);
    expect(state.pending).toEqual(['w: stopped on a usage limit; it resets at 2026-11-22T15:00:00Z (auto_resume: `continue` is sent then)']);
    state = coalesce({ ...state, pending: [] }, observedLimits([]), T0 + 31 * 60_000);
    expect(state.pending).toEqual([]);
    state = coalesce(state, observedLimits([{ ...limit, since: '2026-11-22T16:00:00.000Z', until: null, resumeText: null }]), T0 + 400 * 60_000);
    expect(state.pending).toEqual(['w: stopped on a usage limit; it did not say when it resets (auto_resume is off: it waits for a prompt)']);
  });

  it('writes the heartbeat progress note', () => {
    expect(progressNote(initialState('t'))).toBe('alive, 0 drifts detected, last at none yet');
    expect(progressNote({ ...initialState('t'), driftsDetected: 3, lastDriftAt: '2026-11-22T10:00:00Z' })).toBe('alive, 3 drifts detected, last at 2026-11-22T10:00:00Z');
  });
});

describe('launch by Hermes', () => {
  it('reads the dispatcher argv of 0.18 and of later versions', () => {
    expect(parseDispatcherArgv(['-p', 'mam-monitor', '--accept-hooks', 'chat', '-q', 'work kanban task t_9500dfce'])).toEqual({ profile: 'mam-monitor', taskId: 't_9500dfce', skills: [] });
    expect(
      parseDispatcherArgv(['-p', 'x', '--cli', '--accept-hooks', '--skills', 'agent-sessions-monitor', '-m', 'm', '--provider', 'p', '--toolsets', 'a,b', 'chat', '-Q', '-q', 'work kanban task t_1']),
    ).toEqual({ profile: 'x', taskId: 't_1', skills: ['agent-sessions-monitor'] });
    expect(parseDispatcherArgv(['reconcile', '--once'])).toBeUndefined();
  });

  it('takes a card with the monitor skill as the monitor\'s whatever its assignee; others only by profile', () => {
    const seed = parseDispatcherArgv(['-p', 'default', '--accept-hooks', '--skills', 'github', '--skills', 'agent-sessions-monitor', 'chat', '-q', 'work kanban task t_2'])!;
    expect(isMonitorLaunch(seed, {})).toBe(true);
    const other = parseDispatcherArgv(['-p', 'default', '--accept-hooks', '--skills', 'github', 'chat', '-q', 'work kanban task t_3'])!;
    expect(isMonitorLaunch(other, {})).toBe(false);
    expect(isMonitorLaunch(other, { MAM_MONITOR_PROFILES: 'ops,default' })).toBe(true);
    expect(isMonitorLaunch(parseDispatcherArgv(['-p', 'mam-monitor', 'chat', '-q', 'work kanban task t_4'])!, {})).toBe(true);
  });

  it('ends the run before the earlier of the goal budget and the max runtime', () => {
    const limits = runLimits({ HERMES_KANBAN_GOAL_MODE: '1', HERMES_KANBAN_GOAL_MAX_TURNS: '100', TERMINAL_TIMEOUT: String(8 * 3600 - 30) });
    expect(runDeadline(T0, limits, 300_000)).toBe(T0 + (8 * 3600 - 30) * 1000);
    expect(runDeadline(T0, runLimits({ HERMES_KANBAN_GOAL_MODE: '1' }), 300_000)).toBe(T0 + 20 * 300_000);
    expect(runDeadline(T0, runLimits({}), 300_000)).toBeUndefined();
  });
});

describe('observedFrom: an exited agent\'s last lines (issue 13.4)', () => {
  it('quotes them under its class A line, so the monitor\'s comment shows what the agent said before it died', () => {
    const drift: PassReport['drifts'][number] = { class: 'A', session: 'a', message: 'a: agent exited with status 3 (was pane 9, cmd bash). Marked terminated.', tmux_server: 's', pane: null, exit_status: 3, last_lines: ['Error: out of tokens', 'bye'] };
    expect(observedFrom({ report: report([drift]) }).map((item) => item.line)).toEqual(['A a: agent exited with status 3 (was pane 9, cmd bash). Marked terminated.\n  > Error: out of tokens\n  > bye']);
  });
});
