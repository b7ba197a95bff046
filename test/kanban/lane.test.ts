import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { laneAgent, laneProfiles, laneSessionName } from '../../src/kanban/lane-launch.js';
import { applyJobEvents, commentAction, firstPrompt, goalStep, heartbeatNote, isForAgent, waitedFor } from '../../src/kanban/lane-policy.js';
import { askJudge, parseVerdict } from '../../src/kanban/lane-judge.js';
import { addProgress, enqueue, freezeProgress, initialLaneState, laneStateFile, loadLaneState, MAX_PENDING, saveLaneState, settleSent } from '../../src/kanban/lane-state.js';
import { goalBudget, laneSettings } from '../../src/kanban/lane.js';
import type { JobEvent } from '../../src/jobs/schema.js';

/** The lane's pure parts (docs/lane.md): profiles, comments, job events, the outbox and its state file. */
const fresh = () => initialLaneState({ card: 't_1', agent: 'claude', session: 't_1-claude', server: 'mam' });
const event = (seq: number, name: JobEvent['event'], detail: string | null = null): JobEvent => ({ seq, event: name, at: '2026-01-01T00:00:00Z', detail });
const comment = (author: string, body: string) => ({ author, body, createdAt: 1 });

describe('lane profiles', () => {
  it('defaults to claude-tmux, codex-tmux, gemini-tmux and reads MAM_LANE_PROFILES pairs', () => {
    expect(laneProfiles({})).toEqual([
      { profile: 'claude-tmux', agent: 'claude' },
      { profile: 'codex-tmux', agent: 'codex' },
      { profile: 'gemini-tmux', agent: 'gemini' },
    ]);
    const env = { MAM_LANE_PROFILES: ' reviewer=codex , claude-tmux, odd ' };
    expect(laneAgent('reviewer', env)).toBe('codex');
    expect(laneAgent('claude-tmux', env)).toBe('claude');
    // A bare name that is not NAME-tmux names no agent, so it is no lane.
    expect(laneAgent('odd', env)).toBeUndefined();
    expect(laneAgent('default', {})).toBeUndefined();
    expect(laneSessionName('t_ab12cd34', 'claude')).toBe('t_ab12cd34-claude');
    expect(laneSessionName('t.x', 'a.b')).toBe('t-x-a-b');
  });
});

describe('comments', () => {
  it('types a person\'s comment, never our own or Hermes echoes; stop and slash commands are told apart', () => {
    expect(isForAgent(comment('claude-tmux', 'started\n[mam-lane #3]'), 'claude-tmux')).toBe(false);
    expect(isForAgent(comment('claude-tmux', 'BLOCKED: x'), 'claude-tmux')).toBe(false);
    expect(isForAgent(comment('default', 'BLOCKED: x'), 'claude-tmux')).toBe(false);
    // Same author name as ours but no marker: a person commenting with --author.
    expect(isForAgent(comment('claude-tmux', 'please hurry'), 'claude-tmux')).toBe(true);
    expect(commentAction(comment('ana', 'Stop.'))).toEqual({ kind: 'stop' });
    expect(commentAction(comment('ana', "don't stop"))).toEqual({ kind: 'message', text: "Comment from ana on the Kanban card: don't stop" });
    expect(commentAction(comment('ana', '/compact\nplease'))).toEqual({ kind: 'slash', command: '/compact' });
    expect(commentAction(comment('ana', 'line one\n\n  line two'))).toEqual({ kind: 'message', text: 'Comment from ana on the Kanban card: line one line two' });
  });

  it('the first prompt is the card without the lane settings, with the comments already on it', () => {
    const prompt = firstPrompt({ id: 't_1', title: 'fix it', body: 'Fix the test.\ninterval: 2s\n- approval_alert: 1m\nThen push.', comments: [comment('ana', 'use main'), comment('claude-tmux', 'x\n[mam-lane #1]')] }, 'claude-tmux');
    expect(prompt).toContain('Kanban card t_1: fix it. Fix the test. Then push.');
    expect(prompt).toContain('Comments so far — ana: use main');
    expect(prompt).not.toContain('interval');
    expect(prompt).not.toContain('mam-lane');
  });
});

describe('job events', () => {
  it('progress is collected, completed and error decide the finish once, and nothing is applied twice', () => {
    let state = applyJobEvents(fresh(), [event(1, 'submitted'), event(2, 'started'), event(3, 'progress', 'half'), event(4, 'progress', '  ')], 'needs_input');
    expect(state.pending).toEqual(['started', 'half']);
    expect(state.jobSeq).toBe(4);
    // A replay of the same events changes nothing.
    expect(applyJobEvents(state, [event(3, 'progress', 'half')], 'needs_input')).toEqual(state);
    state = applyJobEvents(state, [event(5, 'completed', 'all done'), event(6, 'error', 'late')], 'transient');
    expect(state.finish).toEqual({ kind: 'complete', summary: 'all done' });
    expect(applyJobEvents(fresh(), [event(2, 'error', 'no disk')], 'transient').finish).toEqual({ kind: 'block', reason: 'claude reported an error: no disk', blockKind: 'transient' });
    // The completed event a stop reports is not the agent's.
    expect(applyJobEvents({ ...fresh(), stopping: true }, [event(2, 'completed', 'session stopped')], 'transient').finish).toBeNull();
  });
});

describe('the outbox', () => {
  it('coalesces progress into at most one comment per interval, numbered, settled when seen on the card', () => {
    let state = addProgress(addProgress(fresh(), 'a'), 'b');
    state = freezeProgress(state, 1_000, 60_000, 'claude-tmux (claude)');
    expect(state.outbox).toEqual([{ seq: 1, text: 'claude-tmux (claude) progress:\n- a\n- b\n[mam-lane #1]', tried: false }]);
    state = freezeProgress(addProgress(state, 'c'), 30_000, 60_000, 'x');
    expect(state.outbox).toHaveLength(1);
    state = freezeProgress(state, 61_000, 60_000, 'x');
    expect(state.outbox.map((item) => item.text)).toEqual([expect.any(String), 'x progress: c\n[mam-lane #2]']);
    state = enqueue(state, 'hello');
    state = { ...state, outbox: state.outbox.map((item) => ({ ...item, tried: item.seq !== 3 })) };
    const settled = settleSent(state, { id: 't_1', title: '', body: '', status: 'running', comments: [comment('claude-tmux', 'x progress: c\n[mam-lane #2]'), comment('ana', 'y\n[mam-lane #1]')] }, 'claude-tmux');
    // #2 landed (ours); #1 was not seen under our name; #3 was never tried.
    expect(settled.outbox.map((item) => item.seq)).toEqual([1, 3]);
    // The card was read after #1's try and it is not there: #1 is free to send again (once), not dropped.
    expect(settled.outbox.map((item) => item.tried)).toEqual([false, false]);
  });

  it('folds a flood of progress so the state stays small', () => {
    let state = fresh();
    for (let index = 0; index < MAX_PENDING * 3; index += 1) state = addProgress(state, `p${index}`);
    expect(state.pending).toHaveLength(MAX_PENDING);
    expect(state.pending[0]).toBe(`… and ${MAX_PENDING * 3 - (MAX_PENDING - 1)} earlier progress reports (see the job's audit log)`);
  });
});

describe('the state file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'mam-lane-state-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips, and sets aside a file that is unreadable or another card\'s', async () => {
    const file = laneStateFile(dir, 't_1');
    expect((await loadLaneState(file, 't_1')).state).toBeUndefined();
    const state = enqueue(fresh(), 'hi');
    await saveLaneState(file, state);
    expect((await loadLaneState(file, 't_1')).state).toEqual(state);
    const other = await loadLaneState(file, 't_2');
    expect(other.state).toBeUndefined();
    expect(other.discarded).toContain('.corrupt');
    await writeFile(file, '{not json');
    expect((await loadLaneState(file, 't_1')).discarded).toContain('.corrupt');
    expect(await readFile(`${file}.corrupt`, 'utf8')).toBe('{not json');
  });
});

describe('settings and heartbeats', () => {
  it('reads the lane settings from the body and comments, flags winning', () => {
    const card = { body: 'interval: 2s\nprogress_every: 5s', comments: [comment('ana', 'approval_block: 2m'), comment('claude-tmux', 'interval: 9s\n[mam-lane #1]')] };
    expect(laneSettings(card, 'claude-tmux', {})).toEqual({ intervalMs: 2_000, heartbeatMs: 300_000, approvalAlertMs: 600_000, approvalBlockMs: 120_000, progressEveryMs: 5_000 });
    expect(laneSettings(card, 'claude-tmux', { intervalMs: 7_000 }).intervalMs).toBe(7_000);
  });

  it('says the live status as a person reads it', () => {
    expect(heartbeatNote('claude', 's', { activity: 'working', job: 'running' }, 0)).toBe('claude in s: working; job running');
    expect(heartbeatNote('claude', 's', { activity: 'waiting', job: null }, 0)).toBe('claude in s: waiting for input');
    expect([waitedFor(45_900), waitedFor(60_000), waitedFor(3 * 3_600_000 + 5 * 60_000), waitedFor(7_200_000), waitedFor(-5)]).toEqual(['45 s', '1 min', '3 h 5 min', '2 h', '0 s']);
    expect(heartbeatNote('codex', 's', { activity: 'needs_approval', approval: { sinceMs: 0, what: 'Bash: rm -rf build' }, job: 'running' }, 12 * 60_000 + 5)).toBe('codex in s: needs approval for 12 min (Bash: rm -rf build); job running');
    expect(heartbeatNote('claude', 's', { activity: 'limited', limitedUntil: '2026-12-03T15:00:00Z', job: 'running' }, 0)).toBe('claude in s: stopped on a usage limit, resets at 2026-12-03T15:00:00Z; job running');
    expect(heartbeatNote('claude', 's', { activity: 'limited', limitedUntil: null, job: null }, 0)).toBe('claude in s: stopped on a usage limit');
  });
});

describe('goal cards and the judge', () => {
  it('a goal card\'s completed waits for the judge instead of finishing; other cards finish at once', () => {
    const events = [event(1, 'started'), event(2, 'completed', 'all done'), event(3, 'progress', 'after')];
    expect(applyJobEvents(fresh(), events, 'needs_input', true)).toMatchObject({ judging: 'all done', finish: null, jobSeq: 3 });
    expect(applyJobEvents(fresh(), events, 'needs_input', false)).toMatchObject({ judging: null, finish: { kind: 'complete', summary: 'all done' } });
  });

  it('done completes, continue goes back with the reason until the budget is spent, an unavailable judge fails open', () => {
    const budget = { maxTurns: 3 };
    expect(goalStep(fresh(), budget, { kind: 'done', reason: 'ok' }, 'L')).toEqual({ kind: 'complete' });
    expect(goalStep(fresh(), budget, { kind: 'unavailable', reason: 'exit status 2' }, 'L')).toEqual({ kind: 'complete', note: 'L: the goal judge could not be asked (exit status 2); the completion stands.' });
    const retry = goalStep(fresh(), budget, { kind: 'continue', reason: 'tests\nmissing' }, 'L');
    expect(retry).toMatchObject({ kind: 'retry', turn: 1 });
    expect(retry.kind === 'retry' && retry.prompt).toMatch(/^\[Continuing Kanban card t_1: the judge says it is not done yet\] Reason: tests missing\. /);
    expect(retry.kind === 'retry' && retry.comment).toBe('L reported the card done; the goal judge disagreed (turn 1/3): tests missing. Sent back to claude to go on.');
    expect(goalStep({ ...fresh(), goalTurns: 1 }, budget, { kind: 'continue', reason: 'x' }, 'L')).toMatchObject({ kind: 'retry', turn: 2 });
    expect(goalStep({ ...fresh(), goalTurns: 2 }, budget, { kind: 'continue', reason: 'still x' }, 'L')).toEqual({
      kind: 'block',
      reason: 'Goal-mode worker exhausted its turn budget (3/3) without completing the task. Last judge verdict: still x',
    });
  });

  it('reads the verdict in the judge model\'s shape, after any log lines; anything else is unavailable', () => {
    expect(parseVerdict('{"done": false, "reason": "no tests"}')).toEqual({ kind: 'continue', reason: 'no tests' });
    expect(parseVerdict('thinking...\n{"done": "yes"}\n')).toEqual({ kind: 'done', reason: 'no reason provided' });
    expect(parseVerdict('maybe').kind).toBe('unavailable');
    expect(parseVerdict('{"verdict": "done"}').kind).toBe('unavailable');
  });

  it('asks the judge command with the question on stdin; a failing or silent judge is unavailable, never a throw', async () => {
    const question = { card: 't_1', goal: 'write\n\nNOTES', response: 'written' };
    const echo = `node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const q=JSON.parse(s);console.log(JSON.stringify({done:false,reason:q.card+"|"+q.goal+"|"+q.response}))})'`;
    expect(await askJudge(echo, question, { env: process.env, cwd: os.tmpdir() })).toEqual({ kind: 'continue', reason: 't_1|write\n\nNOTES|written' });
    const failed = await askJudge('echo no model >&2; exit 3', question, { env: process.env, cwd: os.tmpdir() });
    expect(failed).toEqual({ kind: 'unavailable', reason: 'the judge command failed (exit status 3): no model' });
    const slow = await askJudge('sleep 30', question, { env: process.env, cwd: os.tmpdir(), timeoutMs: 200 });
    expect(slow.kind).toBe('unavailable');
    expect(slow.reason).toMatch(/killed by SIGKILL/);
  });

  it('knows a goal card from the dispatcher\'s env for its own card, or from the card; Hermes\' 20 turns by default', () => {
    const card = { id: 't_1' };
    expect(goalBudget({}, card)).toBeUndefined();
    expect(goalBudget({ HERMES_KANBAN_GOAL_MODE: '1', HERMES_KANBAN_GOAL_MAX_TURNS: '4', HERMES_KANBAN_TASK: 't_1' }, card)).toEqual({ maxTurns: 4 });
    // The env names another card (a pull lane started from a worker's shell): the card decides.
    expect(goalBudget({ HERMES_KANBAN_GOAL_MODE: '1', HERMES_KANBAN_TASK: 't_9' }, card)).toBeUndefined();
    expect(goalBudget({}, { ...card, goal: { maxTurns: undefined } })).toEqual({ maxTurns: 20 });
    expect(goalBudget({}, { ...card, goal: { maxTurns: 2 } })).toEqual({ maxTurns: 2 });
  });

  it('a state file written before goal cards still loads', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'mam-lane-goal-'));
    try {
      const file = laneStateFile(dir, 't_1');
      const { judging: _j, goalTurns: _t, goalPrompt: _p, ...old } = fresh();
      await writeFile(file, JSON.stringify(old));
      expect((await loadLaneState(file, 't_1')).state).toMatchObject({ judging: null, goalTurns: 0, goalPrompt: null });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
