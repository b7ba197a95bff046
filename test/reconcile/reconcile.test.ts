import { describe, expect, it } from 'vitest';
import type { Conversation } from '../../src/agents/types.js';
import { exitKey, reconcile, type ReconcileInput } from '../../src/reconcile/reconcile.js';
import type { EntryArtifacts, Observation } from '../../src/reconcile/types.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import type { ServerSnapshot, TmuxPane } from '../../src/tmux/client.js';

const NOW = Date.parse('2026-11-22T12:00:00Z');
const LONG_AGO = '2026-11-20T10:00:00Z';

function entry(fields: Partial<RegistryEntry> & { name: string }): RegistryEntry {
  return { agent: 'claude', workspace: '/w/proj', status: 'running', tmux_server: 'srv', created_at: LONG_AGO, ...fields };
}

function pane(session: string, fields: Partial<TmuxPane> = {}): TmuxPane {
  return { session, windowIndex: 0, paneIndex: 0, paneId: '%1', pid: 100, command: 'claude', cwd: '/w/proj', dead: false, title: '', owner: null, ...fields };
}

function up(panes: TmuxPane[], server: string | null = 'srv'): ServerSnapshot {
  return { server, state: 'up', panes };
}

function observation(servers: ServerSnapshot[], artifacts: Record<string, EntryArtifacts> = {}, ancestry: Record<number, number[]> = {}): Observation {
  return {
    at: NOW,
    servers,
    artifacts: new Map(Object.entries(artifacts)),
    processAncestry: new Map(Object.entries(ancestry).map(([pid, lineage]) => [Number(pid), lineage])),
    problems: [],
  };
}

function input(entries: RegistryEntry[], extraNames: string[] = []): ReconcileInput {
  return { entries, names: new Set([...entries.map((item) => item.name), ...extraNames]) };
}

function claudeArtifacts(candidates: Conversation[], recorded: EntryArtifacts['recorded'] = []): EntryArtifacts {
  return { agent: 'claude', root: '/h/.claude/projects', rootExists: true, candidates, recorded };
}

function conversation(id: string, fields: Partial<Conversation> = {}): Conversation {
  return { id, path: `/h/.claude/projects/-w-proj/${id}.jsonl`, modifiedMs: NOW - 1000, startedMs: NOW - 5000, ...fields };
}

describe('reconcile — class A (registered running, tmux gone)', () => {
  it('marks the entry terminated with auto-detected mode and the original monitor\'s message', () => {
    const result = reconcile(
      input([entry({ name: 'lab-x-creator-claude', pane: { pid: 201132, cmd: 'claude' } })]),
      observation([up([])]),
      NOW,
    );
    expect(result.drifts).toEqual([
      expect.objectContaining({ class: 'A', session: 'lab-x-creator-claude', message: 'lab-x-creator-claude: tmux gone (was pane 201132, cmd claude). Marked terminated.' }),
    ]);
    expect(result.patch.updates).toEqual([
      { session: 'lab-x-creator-claude', set: { status: 'terminated', terminated_at: '2026-11-22T12:00:00Z', terminated_at_epoch: NOW / 1000, termination_mode: 'auto-detected' } },
    ]);
  });

  it('treats a server that is not running as every session gone, and says so', () => {
    const result = reconcile(input([entry({ name: 'a-creator-claude' })]), observation([{ server: 'srv', state: 'absent', panes: [], detail: 'no server running' }]), NOW);
    expect(result.drifts.map((drift) => drift.class)).toEqual(['A']);
    expect(result.drifts[0]!.message).toContain('tmux server srv is not running');
  });

  it('concludes nothing from a server that could not be read', () => {
    const result = reconcile(input([entry({ name: 'a-creator-claude' })]), observation([{ server: 'srv', state: 'unknown', panes: [], error: 'server exited unexpectedly' }]), NOW);
    expect(result.drifts).toEqual([]);
    expect(result.patch.updates).toEqual([]);
    expect(result.problems).toEqual([expect.objectContaining({ kind: 'tmux-unavailable', tmux_server: 'srv' })]);
  });

  it('leaves alive, stopped and terminated entries alone', () => {
    const result = reconcile(
      input([entry({ name: 'alive' }), entry({ name: 'off', status: 'stopped' }), entry({ name: 'gone', status: 'terminated' })]),
      observation([up([pane('alive')])]),
      NOW,
    );
    expect(result.drifts).toEqual([]);
  });

  it('does not flip an entry created, resumed or stopped within the grace window', () => {
    for (const field of ['created_at', 'resumed_at', 'stopped_at'] as const) {
      const fresh = entry({ name: 'fresh', [field]: new Date(NOW - 4_000).toISOString() });
      expect(reconcile(input([fresh]), observation([up([])]), NOW).drifts, field).toEqual([]);
      // …and does flip it once the window has passed.
      expect(reconcile(input([fresh]), observation([up([])]), NOW + 2_000).drifts.map((drift) => drift.class), field).toEqual(['A']);
    }
  });

  it('looks for the session on the entry\'s own server only', () => {
    const result = reconcile(input([entry({ name: 'x', tmux_server: 'one' })]), observation([up([], 'one'), up([pane('x')], 'two')]), NOW);
    expect(result.drifts.map((drift) => drift.class)).toEqual(['A']);
  });
});

describe('reconcile — class B (creator session alive, not registered)', () => {
  it('registers it with pane facts, server and auto-registered marker', () => {
    const result = reconcile(input([]), observation([up([pane('lab-pdf-creator-agy', { pid: 42, command: 'agy', cwd: '/w/pdf' })])]), NOW);
    expect(result.drifts).toEqual([
      expect.objectContaining({ class: 'B', session: 'lab-pdf-creator-agy', message: 'lab-pdf-creator-agy: tmux found but not in YAML. Auto-registered.' }),
    ]);
    expect(result.patch.additions).toEqual([
      expect.objectContaining({
        name: 'lab-pdf-creator-agy',
        agent: 'agy',
        workspace: '/w/pdf',
        status: 'running',
        tmux_server: 'srv',
        pane: { pid: 42, cmd: 'agy', cwd: '/w/pdf' },
        agy_conversation_id_own: null,
        last_visible_status: 'auto-registered',
        created_at: '2026-11-22T12:00:00Z',
      }),
    ]);
  });

  it('picks the pane the agent runs in, not just the first', () => {
    const result = reconcile(
      input([]),
      observation([up([pane('w-creator-claude', { pid: 1, command: 'bash', cwd: '/w/a' }), pane('w-creator-claude', { paneIndex: 1, pid: 2, command: '2.1.11', cwd: '/w/b' })])]),
      NOW,
    );
    expect(result.patch.additions[0]).toMatchObject({ workspace: '/w/b', pane: { pid: 2 } });
  });

  it('ignores sessions without the creator naming, and names already in the registry (even invalid ones)', () => {
    const result = reconcile(input([], ['taken-creator-claude']), observation([up([pane('scratch'), pane('taken-creator-claude')])]), NOW);
    expect(result.drifts).toEqual([]);
  });

  it('refuses hostile names without registering them', () => {
    const hostile = ['a;rm -rf ~-creator-claude', 'x_y_z\\n-creator-claude', `${'n'.repeat(300)}-creator-claude`];
    const result = reconcile(input([]), observation([up(hostile.map((name) => pane(name)))]), NOW);
    expect(result.patch.additions).toEqual([]);
    expect(result.problems.filter((problem) => problem.kind === 'unsafe-session-name')).toHaveLength(3);
  });

  it('omits tmux_server for the default server', () => {
    const result = reconcile(input([]), observation([up([pane('d-creator-codex', { command: 'codex' })], null)]), NOW);
    expect(result.patch.additions[0]).not.toHaveProperty('tmux_server');
    expect(result.patch.additions[0]).toHaveProperty('codex_session_id_own', null);
  });
});

describe('reconcile — class C (conversation id materializes)', () => {
  const waiting = entry({ name: 'w-creator-claude', claude_session_id_own: null });

  it('records the newest unclaimed conversation active since the entry was created', () => {
    const result = reconcile(
      input([waiting]),
      observation([up([pane('w-creator-claude')])], { 'w-creator-claude': claudeArtifacts([conversation('b3a7c2f0', { modifiedMs: NOW - 500 }), conversation('older', { modifiedMs: NOW - 9000 })]) }),
      NOW,
    );
    expect(result.drifts).toEqual([expect.objectContaining({ class: 'C', message: 'w-creator-claude: session id materialized b3a7c2f0', conversation_id: 'b3a7c2f0' })]);
    expect(result.patch.updates).toEqual([{ session: 'w-creator-claude', set: { claude_session_id_own: 'b3a7c2f0' } }]);
  });

  it('never takes a conversation another entry records, or one last active before the entry existed', () => {
    const other = entry({ name: 'other', claude_session_id_own: 'taken' });
    const fresh = { ...waiting, created_at: new Date(NOW - 60_000).toISOString() };
    const result = reconcile(
      input([fresh, other]),
      observation([up([pane('w-creator-claude'), pane('other', { pid: 7 })])], {
        'w-creator-claude': claudeArtifacts([conversation('taken', { modifiedMs: NOW }), conversation('stale', { modifiedMs: NOW - 3_600_000 })]),
      }),
      NOW,
    );
    expect(result.drifts).toEqual([]);
  });

  it('binds through the live process even when two entries share the workspace', () => {
    const a = entry({ name: 'a-creator-claude' });
    const b = entry({ name: 'b-creator-claude' });
    const result = reconcile(
      input([a, b]),
      observation(
        [up([pane('a-creator-claude', { pid: 100, command: 'bash' }), pane('b-creator-claude', { pid: 200 })])],
        {
          'a-creator-claude': claudeArtifacts([conversation('conv-b', { livePid: 200 }), conversation('conv-a', { livePid: 555 })]),
          'b-creator-claude': claudeArtifacts([conversation('conv-b', { livePid: 200 }), conversation('conv-a', { livePid: 555 })]),
        },
        // claude 555 is the child of a's shell (pane pid 100)
        { 555: [555, 100], 200: [200] },
      ),
      NOW,
    );
    expect(result.patch.updates).toEqual([
      { session: 'a-creator-claude', set: { claude_session_id_own: 'conv-a' } },
      { session: 'b-creator-claude', set: { claude_session_id_own: 'conv-b' } },
    ]);
  });

  it('reports, rather than guesses, when two waiting entries share a workspace and nothing binds them', () => {
    const a = entry({ name: 'a-creator-claude' });
    const b = entry({ name: 'b-creator-claude' });
    const artifacts = claudeArtifacts([conversation('c1')]);
    const result = reconcile(input([a, b]), observation([up([pane('a-creator-claude'), pane('b-creator-claude', { pid: 2 })])], { 'a-creator-claude': artifacts, 'b-creator-claude': artifacts }), NOW);
    expect(result.patch.updates).toEqual([]);
    expect(result.problems.map((problem) => problem.kind)).toEqual(['ambiguous-conversation', 'ambiguous-conversation']);
  });

  it('does nothing once the id is recorded, or for a stopped entry', () => {
    const artifacts = { 'w-creator-claude': claudeArtifacts([conversation('new-one')]) };
    expect(reconcile(input([{ ...waiting, claude_session_id_own: 'known' }]), observation([up([pane('w-creator-claude')])], artifacts), NOW).drifts).toEqual([]);
    expect(reconcile(input([{ ...waiting, status: 'stopped' }]), observation([up([])], artifacts), NOW).drifts).toEqual([]);
  });
});

describe('reconcile — class D (recorded id, artifact gone)', () => {
  it('reports once per id, naming every field that holds it, and changes nothing', () => {
    const stale = entry({ name: 's', claude_session_id_own: '87dc548e', agent_identities: { claude: { session_id: '87dc548e' } } });
    const result = reconcile(
      input([stale]),
      observation([up([pane('s')])], {
        s: claudeArtifacts([], [
          { field: 'claude_session_id_own', id: '87dc548e', path: null },
          { field: 'agent_identities.claude.session_id', id: '87dc548e', path: null },
        ]),
      }),
      NOW,
    );
    expect(result.drifts).toEqual([
      expect.objectContaining({ class: 'D', session: 's', conversation_id: '87dc548e', fields: ['claude_session_id_own', 'agent_identities.claude.session_id'] }),
    ]);
    expect(result.drifts[0]!.message).toBe('s: stale id 87dc548e (claude_session_id_own, agent_identities.claude.session_id): not found under /h/.claude/projects. Kept in YAML.');
    expect(result.patch.updates).toEqual([]);
  });

  it('is silent for ids whose artifact exists and for purged entries', () => {
    const present = entry({ name: 'p', claude_session_id_own: 'here' });
    const purged = entry({ name: 'q', status: 'terminated', termination_mode: 'purge', claude_session_id_own: 'gone' });
    const result = reconcile(
      input([present, purged]),
      observation([up([pane('p')])], {
        p: claudeArtifacts([], [{ field: 'claude_session_id_own', id: 'here', path: '/x/here.jsonl' }]),
        q: claudeArtifacts([], [{ field: 'claude_session_id_own', id: 'gone', path: null }]),
      }),
      NOW,
    );
    expect(result.drifts).toEqual([]);
  });
});

describe('reconcile — idempotence', () => {
  it('a second pass over its own output and the same reality changes nothing', () => {
    const registry = [entry({ name: 'gone' }), entry({ name: 'w-creator-claude' })];
    const reality = observation([up([pane('w-creator-claude'), pane('new-creator-codex', { pid: 9, command: 'codex' })])], {
      'w-creator-claude': claudeArtifacts([conversation('c9')]),
    });
    const first = reconcile(input(registry), reality, NOW);
    expect(first.drifts.map((drift) => drift.class).sort()).toEqual(['A', 'B', 'C']);

    const applied = registry.map((item) => ({ ...item, ...first.patch.updates.find((update) => update.session === item.name)?.set })) as RegistryEntry[];
    const second = reconcile(input([...applied, ...first.patch.additions]), reality, NOW + 30_000);
    expect(second.patch).toEqual({ updates: [], additions: [] });
    expect(second.drifts).toEqual([]);
  });
});

describe('reconcile — entries left `starting` (issue 11)', () => {
  const REGISTRY = '/h/.hermes/agent-sessions.yaml';
  const startedAt = (msAgo: number): string => new Date(NOW - msAgo).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const starting = (fields: Partial<RegistryEntry> = {}): RegistryEntry =>
    entry({ name: 'w-creator-claude', status: 'starting', starting_pid: 4242, starting_at: startedAt(10_000), created_at: startedAt(10_000), start_command: 'claude', ...fields });
  const withStarters = (base: Observation, starters: Record<number, boolean>): Observation => ({ ...base, starters: new Map(Object.entries(starters).map(([pid, alive]) => [Number(pid), alive])) });

  it('leaves a starting entry alone while its creator runs and the bound has not passed, whether or not tmux has the session yet', () => {
    for (const panes of [[pane('w-creator-claude', { owner: REGISTRY })], []]) {
      const result = reconcile({ ...input([starting()]), file: REGISTRY }, withStarters(observation([up(panes)]), { 4242: true }), NOW);
      expect(result.drifts).toEqual([]);
      expect(result.patch).toEqual({ updates: [], additions: [] });
      expect(result.claims).toEqual([]);
    }
  });

  it('marks it running with pane facts when its creator is dead and the session is alive, and drops the starting bookkeeping', () => {
    const result = reconcile(
      { ...input([starting()]), file: REGISTRY },
      withStarters(observation([up([pane('w-creator-claude', { pid: 777, owner: REGISTRY })])]), { 4242: false }),
      NOW,
    );
    expect(result.drifts).toEqual([
      expect.objectContaining({ class: 'B', session: 'w-creator-claude', message: 'w-creator-claude: left starting (its creator, mam pid 4242, is gone), tmux alive. Marked running.' }),
    ]);
    expect(result.patch).toEqual({
      updates: [{ session: 'w-creator-claude', set: { status: 'running', pane: { pid: 777, cmd: 'claude', cwd: '/w/proj' } }, unset: ['starting_pid', 'starting_at'] }],
      additions: [],
    });
    // Already carries this registry's mark: nothing to claim.
    expect(result.claims).toEqual([]);
  });

  it('marks it terminated when it has been starting past the bound and no session came up, even with its creator alive', () => {
    const result = reconcile({ ...input([starting({ starting_at: startedAt(121_000) })]), file: REGISTRY }, withStarters(observation([up([])]), { 4242: true }), NOW);
    expect(result.drifts).toEqual([expect.objectContaining({ class: 'A', session: 'w-creator-claude', message: expect.stringContaining('left starting (starting for more than 120 s)') })]);
    expect(result.patch.updates).toEqual([
      {
        session: 'w-creator-claude',
        set: { status: 'terminated', terminated_at: '2026-11-22T12:00:00Z', terminated_at_epoch: NOW / 1000, termination_mode: 'auto-detected' },
        unset: ['starting_pid', 'starting_at'],
      },
    ]);
  });

  it('judges nothing on a server that could not be read, and the repair is idempotent', () => {
    const unreadable = reconcile(input([starting()]), withStarters(observation([{ server: 'srv', state: 'unknown', panes: [], error: 'x' }]), { 4242: false }), NOW);
    expect(unreadable.patch.updates).toEqual([]);
    const reality = withStarters(observation([up([pane('w-creator-claude', { owner: REGISTRY })])]), { 4242: false });
    const first = reconcile({ ...input([starting()]), file: REGISTRY }, reality, NOW);
    const { starting_pid: _pid, starting_at: _at, ...rest } = starting();
    const repaired = { ...rest, ...first.patch.updates[0]!.set } as RegistryEntry;
    const second = reconcile({ ...input([repaired]), file: REGISTRY }, reality, NOW + 30_000);
    expect(second.patch).toEqual({ updates: [], additions: [] });
    expect(second.drifts).toEqual([]);
  });

  it('never counts a starting entry as class A or C while it is being started', () => {
    const result = reconcile(
      input([starting({ created_at: startedAt(60_000), starting_at: startedAt(60_000) })]),
      observation([up([])], { 'w-creator-claude': claudeArtifacts([conversation('c1')]) }),
      NOW,
    );
    expect(result.drifts).toEqual([]);
  });
});

describe('reconcile — ownership (@mam_registry, issue 11)', () => {
  const OURS = '/h/one/agent-sessions.yaml';
  const OTHER = '/h/two/agent-sessions.yaml';
  const withOwners = (base: Observation, owners: Record<string, boolean>): Observation => ({ ...base, owners: new Map(Object.entries(owners)) });

  it('claims an unmarked creator session it registers', () => {
    const result = reconcile({ ...input([]), file: OURS }, observation([up([pane('a-creator-claude')])]), NOW);
    expect(result.patch.additions.map((added) => added.name)).toEqual(['a-creator-claude']);
    expect(result.claims).toEqual([{ session: 'a-creator-claude', tmux_server: 'srv', from: null }]);
  });

  it('never registers a session another existing registry owns, and lists it only with verbose', () => {
    const reality = withOwners(observation([up([pane('a-creator-claude', { owner: OTHER })])]), { [OTHER]: true });
    for (const verbose of [false, true]) {
      const result = reconcile({ ...input([]), file: OURS }, reality, NOW, { verbose });
      expect(result.drifts).toEqual([]);
      expect(result.patch.additions).toEqual([]);
      expect(result.claims).toEqual([]);
      expect(result.problems).toEqual(verbose ? [expect.objectContaining({ kind: 'owned-elsewhere', session: 'a-creator-claude', owner: OTHER, tmux_server: 'srv' })] : []);
    }
    // An owner whose existence was not observed counts as existing: nothing is taken on a guess.
    expect(reconcile({ ...input([]), file: OURS }, observation([up([pane('a-creator-claude', { owner: OTHER })])]), NOW).patch.additions).toEqual([]);
  });

  it('adopts a session whose owning registry file is gone, under any name, and re-marks it', () => {
    const reality = withOwners(observation([up([pane('scratch', { owner: OTHER, command: 'codex' })])]), { [OTHER]: false });
    const result = reconcile({ ...input([]), file: OURS }, reality, NOW);
    expect(result.patch.additions).toEqual([expect.objectContaining({ name: 'scratch', agent: 'codex', status: 'running', last_visible_status: 'auto-registered' })]);
    expect(result.drifts).toEqual([expect.objectContaining({ class: 'B', session: 'scratch', message: `scratch: tmux found but not in YAML. Adopted from ${OTHER}, which no longer exists.` })]);
    expect(result.claims).toEqual([{ session: 'scratch', tmux_server: 'srv', from: OTHER }]);
  });

  it('registers a session under any name that carries its own mark, with nothing to claim; unmarked non-creator sessions stay people\'s own', () => {
    const result = reconcile(
      { ...input([]), file: OURS },
      observation([up([pane('mine', { owner: OURS, command: 'gemini' }), pane('yours', { paneId: '%2', command: 'gemini' })])]),
      NOW,
    );
    expect(result.patch.additions.map((added) => [added.name, added.agent])).toEqual([['mine', 'gemini']]);
    expect(result.claims).toEqual([]);
  });
});

describe('reconcile: an agent that exited in a session mam started (issue 13.4)', () => {
  const OURS = '/h/one/agent-sessions.yaml';
  const dead = (fields: Partial<TmuxPane> = {}): TmuxPane => pane('a', { dead: true, deadStatus: 3, mamStarted: true, owner: OURS, paneId: '%7', command: 'bash', ...fields });
  const screen = 'building…\nmarker line\n\n\nPane is dead (status 3, Wed Dec  2 21:20:15 2026)\n\n';

  it('marks it terminated with its exit status and last screen, says "exited with status N", and closes it by pane id', () => {
    const reality = { ...observation([up([dead()])]), exits: new Map([[exitKey('srv', 'a'), { status: 3, screen }]]) };
    const result = reconcile({ ...input([entry({ name: 'a', agent: 'bash', pane: { pid: 9, cmd: 'bash' } })]), file: OURS }, reality, NOW);
    expect(result.drifts).toEqual([
      expect.objectContaining({ class: 'A', session: 'a', message: 'a: agent exited with status 3 (was pane 9, cmd bash). Marked terminated.', exit_status: 3, last_lines: ['building…', 'marker line'] }),
    ]);
    expect(result.patch.updates).toEqual([
      { session: 'a', set: expect.objectContaining({ status: 'terminated', termination_mode: 'auto-detected', exit_status: 3, last_visible_status: 'building…\nmarker line\nPane is dead (status 3, Wed Dec  2 21:20:15 2026)' }) },
    ]);
    expect(result.closes).toEqual([{ session: 'a', tmux_server: 'srv', pane_id: '%7' }]);
  });

  it('an exit status tmux never reaped is null ("exit status unknown"); a recorded entry whose dead session is left is only closed', () => {
    const unknown = reconcile({ ...input([entry({ name: 'a', agent: 'bash' })]), file: OURS }, observation([up([dead({ deadStatus: null })])]), NOW);
    expect(unknown.drifts).toEqual([expect.objectContaining({ class: 'A', message: 'a: agent exited (exit status unknown). Marked terminated.', exit_status: null, last_lines: [] })]);
    const leftover = reconcile({ ...input([entry({ name: 'a', agent: 'bash', status: 'terminated' })]), file: OURS }, observation([up([dead()])]), NOW);
    expect(leftover.drifts).toEqual([]);
    expect(leftover.closes).toEqual([{ session: 'a', tmux_server: 'srv', pane_id: '%7' }]);
  });

  it('a dead pane in a session mam did not start stays as it was: alive for reconcile, never closed; a dead one is never registered', () => {
    const theirs = reconcile({ ...input([entry({ name: 'a', agent: 'bash' })]), file: OURS }, observation([up([dead({ mamStarted: false })])]), NOW);
    expect(theirs.drifts).toEqual([]);
    expect(theirs.closes).toEqual([]);
    const unregistered = reconcile({ ...input([]), file: OURS }, observation([up([dead({ session: 'b' })])]), NOW);
    expect(unregistered.patch.additions).toEqual([]);
    expect(unregistered.closes).toEqual([{ session: 'b', tmux_server: 'srv', pane_id: '%7' }]);
  });
});
