import { describe, expect, it } from 'vitest';
import { localRows, matchesFilter, orderRows, remoteRows, rowKey, stateOf, STATE_STYLE, trackSince, type FleetRow } from '../../src/ui/fleet.js';
import { agentFact, fleetRow, statusMessage, statusRow } from './fixtures.js';

const T0 = Date.parse('2026-01-01T00:00:00.000Z');

describe('the state of a local session', () => {
  it('comes from the registry status first, then tmux, then what the agent is doing', () => {
    expect(stateOf({ status: 'starting', tmux: 'alive', activity: 'working' })).toBe('starting');
    expect(stateOf({ status: 'stopped', tmux: 'gone', activity: null })).toBe('stopped');
    expect(stateOf({ status: 'terminated', tmux: 'gone', activity: null })).toBe('dead');
    expect(stateOf({ status: 'running', tmux: 'gone', activity: 'working' })).toBe('gone');
    expect(stateOf({ status: 'running', tmux: 'unknown', activity: null })).toBe('unknown');
    expect(stateOf({ status: 'running', tmux: 'alive', activity: 'needs_approval' })).toBe('needs_approval');
    expect(stateOf({ status: 'running', tmux: 'alive', activity: 'waiting' })).toBe('waiting');
    expect(stateOf({ status: 'running', tmux: 'alive', activity: null })).toBe('running');
  });

  it('every state has its own symbol and label, one column wide', () => {
    const styles = Object.values(STATE_STYLE);
    expect(new Set(styles.map((style) => style.symbol)).size).toBe(styles.length);
    expect(new Set(styles.map((style) => style.label)).size).toBe(styles.length);
    for (const style of styles) expect([...style.symbol]).toHaveLength(1);
  });
});

describe('local rows', () => {
  it('carry the pending approval from the fact files, and since when it has waited', () => {
    const facts = new Map([
      [
        'api',
        {
          main: agentFact({
            status: 'needs_approval',
            needs_approval_since: '2026-01-01T00:05:00.000Z',
            tools: {
              t1: { status: 'needs_approval', tool_name: 'Bash', input: '{"command":"rm -rf build"}', command: 'rm -rf build' },
              t2: { status: 'working', tool_name: 'Read', input: null, command: null },
            },
          }),
          sub1: agentFact({ status: 'needs_approval', needs_approval_since: '2026-01-01T00:03:00.000Z', tools: { t3: { status: 'needs_approval', tool_name: 'Write', input: '{"file":"a"}', command: null } } }),
        },
      ],
    ]);
    const [row] = localRows([statusRow('api', { activity: 'needs_approval', activity_source: 'hooks' })], facts, 'here');

    expect(row!.state).toBe('needs_approval');
    expect(row!.key).toBe(rowKey('here', 'api'));
    expect(row!.approvals).toEqual([
      { agent: 'main', tool: 'Bash', command: 'rm -rf build', input: '{"command":"rm -rf build"}' },
      { agent: 'sub1', tool: 'Write', command: null, input: '{"file":"a"}' },
    ]);
    // The earliest of the agents' waits.
    expect(row!.stateSince).toBe(Date.parse('2026-01-01T00:03:00.000Z'));
  });

  it('say working (background) and limited (until …) in a note beside the state', () => {
    const until = new Date(2026, 0, 1, 15, 5).toISOString();
    const rows = localRows(
      [
        statusRow('bg', { activity: 'working', activity_source: 'hooks', background: ['shell: sleep 12'] }),
        statusRow('fg', { activity: 'working', activity_source: 'hooks' }),
        statusRow('lim', { activity: 'limited', activity_source: 'hooks', limited_until: until }),
        statusRow('lim2', { activity: 'limited', activity_source: 'hooks' }),
      ],
      new Map(),
      'here',
    );
    expect(rows.map((row) => [row.name, row.state, row.note])).toEqual([
      ['bg', 'working', 'background'],
      ['fg', 'working', null],
      ['lim', 'limited', expect.stringMatching(/^until (?:Jan 1 )?15:05$/)],
      ['lim2', 'limited', null],
    ]);
    expect(STATE_STYLE.limited.rank).toBeGreaterThan(STATE_STYLE.unknown.rank);
    expect(STATE_STYLE.limited.rank).toBeLessThan(STATE_STYLE.waiting.rank);
  });

  it('take working/waiting since from the last hook event, and registry states from the registry', () => {
    const facts = new Map([['w', { main: agentFact({ status: 'waiting', updated_at: '2026-01-01T01:00:00.000Z' }), sub: agentFact({ updated_at: '2026-01-01T00:30:00.000Z' }) }]]);
    const rows = localRows(
      [
        statusRow('w', { activity: 'waiting', activity_source: 'hooks' }),
        statusRow('p', { activity: 'waiting', activity_source: 'pane' }),
        statusRow('s', { status: 'stopped', tmux: 'gone', since: '2026-01-02T00:00:00.000Z' }),
        statusRow('g', { tmux: 'gone' }),
      ],
      facts,
      'here',
    );
    expect(rows.map((row) => [row.name, row.state, row.stateSince])).toEqual([
      ['w', 'waiting', Date.parse('2026-01-01T01:00:00.000Z')],
      // The pane says nothing about when: the dashboard times it from the change it sees.
      ['p', 'waiting', undefined],
      ['s', 'stopped', Date.parse('2026-01-02T00:00:00.000Z')],
      ['g', 'gone', undefined],
    ]);
    expect(rows.every((row) => row.approvals.length === 0 && row.local)).toBe(true);
  });

  it('show a delegated job as its id and state', () => {
    const [row] = localRows([statusRow('j', { job: { id: 'job-1', status: 'running' } })], new Map(), 'here');
    expect(row!.job).toBe('job-1 running');
  });
});

describe("other hosts' rows", () => {
  it("leave out this host's own messages and ended sessions, and never pass a terminal escape through", () => {
    const rows = remoteRows(
      [
        statusMessage('here', 'mine'),
        statusMessage('far', 'ok', { status: 'needs_approval', needs_approval_since: '2026-01-01T00:01:00.000Z' }),
        statusMessage('far', 'ended', { status: 'gone' }),
        statusMessage('evil\u001b[2J', 'x\u0007', { cwd: '/tmp/\u001b]0;pwned\u0007' }),
      ],
      'here',
    );
    expect(rows.map((row) => [row.host, row.name, row.state, row.local, row.source])).toEqual([
      ['far', 'ok', 'needs_approval', false, 'mqtt'],
      ['evil?[2J', 'x?', 'working', false, 'mqtt'],
    ]);
    expect(rows[0]!.stateSince).toBe(Date.parse('2026-01-01T00:01:00.000Z'));
    expect(rows[1]!.workspace).toBe('/tmp/?]0;pwned?');
  });
});

describe('how long in a state', () => {
  const row = (state: FleetRow['state'], stateSince?: number): FleetRow => fleetRow('a', { state, stateSince });

  it('keeps the start of a state while it lasts, and restarts it on a change', () => {
    const first = trackSince(new Map(), [row('working', T0)], T0 + 10_000);
    expect(first.get(row('working').key)).toEqual({ state: 'working', since: T0 });
    // A later hook event while still working does not restart the clock.
    const same = trackSince(first, [row('working', T0 + 5_000)], T0 + 20_000);
    expect(same.get(row('working').key)!.since).toBe(T0);
    // A change with a source timestamp takes it; one without takes the moment it was seen.
    expect(trackSince(same, [row('waiting', T0 + 15_000)], T0 + 20_000).get(row('waiting').key)).toEqual({ state: 'waiting', since: T0 + 15_000 });
    expect(trackSince(same, [row('gone')], T0 + 30_000).get(row('gone').key)).toEqual({ state: 'gone', since: T0 + 30_000 });
  });

  it('says nothing for a row first seen without a timestamp, and ignores one from the future', () => {
    expect(trackSince(new Map(), [row('gone')], T0).get(row('gone').key)!.since).toBeUndefined();
    expect(trackSince(new Map(), [row('working', T0 + 60_000)], T0).get(row('working').key)!.since).toBeUndefined();
  });
});

describe('needs-you-first order', () => {
  it('ranks by state, then the longest in it, then by name', () => {
    const rows = [
      fleetRow('work', { state: 'working' }),
      fleetRow('stop', { state: 'stopped' }),
      fleetRow('wait-new', { state: 'waiting' }),
      fleetRow('ask-new', { state: 'needs_approval' }),
      fleetRow('gone', { state: 'gone' }),
      fleetRow('wait-old', { state: 'waiting' }),
      fleetRow('ask-old', { state: 'needs_approval' }),
      fleetRow('dead', { state: 'dead' }),
      fleetRow('b-unknown-age', { state: 'waiting' }),
      fleetRow('a-unknown-age', { state: 'waiting' }),
    ];
    const since = new Map([
      ['ask-new', T0 + 100],
      ['ask-old', T0],
      ['wait-new', T0 + 100],
      ['wait-old', T0],
    ]);
    expect(orderRows(rows, (row) => since.get(row.name)).map((row) => row.name)).toEqual([
      'ask-old',
      'ask-new',
      'gone',
      'dead',
      'wait-old',
      'wait-new',
      'a-unknown-age',
      'b-unknown-age',
      'work',
      'stop',
    ]);
  });
});

describe('the filter', () => {
  it('matches any shown field, case-insensitively; blank matches all', () => {
    const row = fleetRow('api-fix', { agent: 'codex', state: 'needs_approval', workspace: '/srv/Payments', job: 'job-9 running', host: 'box2' });
    for (const text of ['API', 'codex', 'needs appr', 'payments', 'job-9', 'box2', '  ']) expect(matchesFilter(row, text)).toBe(true);
    expect(matchesFilter(row, 'claude')).toBe(false);
  });
});
