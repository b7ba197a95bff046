import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commentSeq } from '../../src/kanban/coalesce.js';
import { HermesBoard, type HermesResult, type HermesRunner } from '../../src/kanban/hermes-board.js';
import { DEFAULT_SETTINGS } from '../../src/kanban/settings.js';
import { runWorker, type Clock } from '../../src/kanban/worker.js';
import { pruneRegistry } from '../../src/lifecycle/prune.js';
import type { PassReport } from '../../src/reconcile/pass.js';
import { parseRegistry } from '../../src/registry/document.js';
import type { Drift } from '../../src/reconcile/types.js';
import { runHermes } from '../hermes/standin.js';

/**
 * The monitor worker driven by a fake clock against the stand-in Hermes (in-process, same code as the
 * `hermes` executable), so hours and days of monitoring run in seconds. Reconcile passes are scripted
 * as a function of virtual time; everything between them and the card is the real code.
 */
const T0 = Date.parse('2026-11-22T00:00:00Z');
const MIN = 60_000;
const HOUR = 60 * MIN;
const SELF = 'mam-monitor';
const silent = pino({ level: 'silent' });

let root: string;
let env: Record<string, string>;
let now: number;
/** Which test is running: a clock from an earlier test (one that overran its bound) must stop, not move `now`. */
let generation = 0;
beforeEach(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'mam-worker-'));
  await mkdir(path.join(root, 'profiles', SELF), { recursive: true });
  env = { HERMES_HOME: root, PATH: process.env['PATH'] ?? '' };
  now = T0;
});
afterEach(async () => {
  generation += 1;
  await rm(root, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
});

/**
 * Virtual time costs real time only per pass (each reads the whole stand-in board), so a test's bound is set by
 * its number of passes, never by a wall-clock duration. Generous: the 72-hour test took 233 s beside
 * `npm run test:busy`'s burner once and over 600 s another time. A test that overruns it anyway stops at its next
 * sleep (see `generation`) instead of running on against the next test's board and clock.
 */
const BOUND_MS = 1_800_000;

// The board's only user is this process, so the stand-in serialises its updates in-process (no `flock` per call).
const hermes = (args: string[], as: Record<string, string> = {}) => runHermes(args, { ...env, ...as }, { now: () => now, soleUser: true });

async function runningCard(): Promise<string> {
  const created = await hermes(['kanban', 'create', 'agent-sessions monitor', '--assignee', SELF, '--goal', '--json']);
  expect(created.exitCode, created.stderr).toBe(0);
  const id = (JSON.parse(created.stdout) as { id: string }).id;
  const claimed = await hermes(['kanban', 'claim', id, '--ttl', String(100 * 3600)]);
  expect(claimed.exitCode, claimed.stderr).toBe(0);
  return id;
}

interface Shown {
  task: { status: string };
  comments: { author: string; body: string; created_at: number }[];
  events: { kind: string; created_at: number }[];
}
async function show(id: string): Promise<Shown> {
  const shown = await hermes(['kanban', 'show', id, '--json']);
  return JSON.parse(shown.stdout) as Shown;
}

function report(drifts: Drift[]): PassReport {
  return { at: new Date(now).toISOString(), registry: '/r', dry_run: false, written: drifts.length > 0, drifts, problems: [] };
}
const dead = (session: string): Drift => ({ class: 'A', session, message: `${session}: tmux gone (was pane 1, cmd claude). Marked terminated.`, tmux_server: 's', pane: null });
const stale = (session: string): Drift => ({ class: 'D', session, message: `${session}: stale id x1 (claude_session_id_own): not found. Kept in YAML.`, fields: ['claude_session_id_own'], conversation_id: 'x1', artifact_root: '/h' });

/** Advances virtual time; `at` callbacks fire when their moment is crossed (a person's comment, say). */
function fakeClock(events: { at: number; run: () => Promise<unknown> }[]): Clock {
  const queue = [...events].sort((a, b) => a.at - b.at);
  const mine = generation;
  return {
    now: () => now,
    async sleep(ms) {
      if (generation !== mine) throw new Error('this test is over (it overran its bound): its worker stops here');
      now += ms;
      while (queue.length > 0 && queue[0]!.at <= now) await queue.shift()!.run();
    },
  };
}

function board(id: string, run: HermesRunner = (args) => hermes([...args], { HERMES_PROFILE: SELF }).then((result) => ({ ...result, timedOut: false }))) {
  return new HermesBoard({ cardId: id, self: SELF, run, retries: 0, minRetryDelayMs: 1 });
}

/** The worker's own comments; Hermes's `BLOCKED:`/`UNBLOCK:` echoes carry its name too but are not its words. */
function ourComments(card: Shown): string[] {
  return card.comments.filter((comment) => comment.author === SELF && !/^(BLOCKED|UNBLOCK):/.test(comment.body)).map((comment) => comment.body);
}

describe('monitor worker over simulated time', () => {
  it('8 hours: a heartbeat at start and every 5 minutes, each drift told once, stop honoured within one pass', async () => {
    const id = await runningCard();
    const stateFile = path.join(root, 'state', 'ws.state');
    // One session dies at 1 h (the registry is fixed in that pass), a stale id lasts from 2 h to 5 h.
    const pass = async (): Promise<PassReport> => {
      const t = now - T0;
      const drifts: Drift[] = [];
      if (t >= HOUR && t < HOUR + 30_000) drifts.push(dead('a-creator-claude'));
      if (t >= 2 * HOUR && t < 5 * HOUR) drifts.push(stale('b-creator-claude'));
      return report(drifts);
    };
    const stopAt = T0 + 8 * HOUR;
    const outcome = await runWorker({
      board: board(id),
      pass,
      clock: fakeClock([{ at: stopAt, run: () => hermes(['kanban', 'comment', id, 'stop monitoring'], { HERMES_PROFILE: 'default' }) }]),
      settings: DEFAULT_SETTINGS,
      stateFile,
      log: silent,
    });

    expect(outcome).toEqual({ kind: 'stopped', reason: 'stop-requested by user at 2026-11-22T08:00:00Z', blocked: true });
    const card = await show(id);
    expect(card.task.status).toBe('blocked');
    // Heartbeats at 0, 5, …, 475 min: the pass at exactly 8 h sees the stop before any heartbeat is due.
    const beats = card.events.filter((event) => event.kind === 'heartbeat');
    expect(beats).toHaveLength(96);
    expect(beats.map((event) => event.created_at - T0 / 1000)).toEqual(Array.from({ length: 96 }, (_, k) => k * 300));
    expect(ourComments(card).map((body) => body.split('\n').slice(1, -1))).toEqual([
      ['- A a-creator-claude: tmux gone (was pane 1, cmd claude). Marked terminated.'],
      ['- D b-creator-claude: stale id x1 (claude_session_id_own): not found. Kept in YAML.'],
      ['- resolved: D b-creator-claude: stale id x1 (claude_session_id_own): not found. Kept in YAML.'],
    ]);
    expect(card.comments.at(-1)!.body).toBe('BLOCKED: stop-requested by user at 2026-11-22T08:00:00Z');
    expect((await stat(stateFile)).size).toBeLessThan(4096);
  }, BOUND_MS);

  it('72 hours of churn: no comment repeats an unchanged drift, and the state file stays small', async () => {
    // A pass every 5 minutes (864 passes, not 8,640 at 30 s): the same churn, a tenth of the real work.
    const settings = { ...DEFAULT_SETTINGS, intervalMs: 5 * MIN };
    const id = await runningCard();
    const stateFile = path.join(root, 'state', 'ws.state');
    // Every 6 h a different session's id goes stale for 2 h; one session dies every 12 h.
    const pass = async (): Promise<PassReport> => {
      const t = now - T0;
      const drifts: Drift[] = [];
      const slot = Math.floor(t / (6 * HOUR));
      if (t % (6 * HOUR) < 2 * HOUR) drifts.push(stale(`s${slot}-creator-claude`));
      if (t % (12 * HOUR) === 0 && t > 0) drifts.push(dead(`d${t / (12 * HOUR)}-creator-claude`));
      return report(drifts);
    };
    let largestState = 0;
    const watchState = async (): Promise<void> => {
      largestState = Math.max(largestState, (await stat(stateFile).catch(() => ({ size: 0 }))).size);
    };
    const checks = Array.from({ length: 72 }, (_, hour) => ({ at: T0 + hour * HOUR + 1, run: watchState }));
    await runWorker({
      board: board(id),
      pass,
      clock: fakeClock([...checks, { at: T0 + 72 * HOUR, run: () => hermes(['kanban', 'comment', id, 'STOP'], { HERMES_PROFILE: 'default' }) }]),
      settings,
      stateFile,
      log: silent,
    });
    const card = await show(id);
    const lines = ourComments(card).flatMap((body) => body.split('\n').slice(1, -1));
    expect(new Set(lines).size).toBe(lines.length);
    expect(lines.filter((line) => line.startsWith('- D '))).toHaveLength(12);
    expect(lines.filter((line) => line.startsWith('- resolved: D '))).toHaveLength(12);
    expect(lines.filter((line) => line.startsWith('- A '))).toHaveLength(5);
    expect(card.events.filter((event) => event.kind === 'heartbeat')).toHaveLength(72 * 12);
    expect(largestState).toBeGreaterThan(0);
    expect(largestState).toBeLessThan(4096);
  }, BOUND_MS);

  it('Hermes failing for 10 minutes then recovering: every drift comment arrives exactly once', async () => {
    const id = await runningCard();
    const outageFrom = T0 + HOUR;
    const outageTo = outageFrom + 10 * MIN;
    let calls = 0;
    // During the outage, calls fail in every way a CLI can: refused, crashed, and timed out *after* the
    // comment was written (the case that tempts a blind retry into a duplicate).
    const flaky: HermesRunner = async (args): Promise<HermesResult> => {
      if (now < outageFrom || now >= outageTo) return { ...(await hermes([...args], { HERMES_PROFILE: SELF })), timedOut: false };
      calls += 1;
      switch (calls % 3) {
        case 0:
          return { exitCode: 1, stdout: '', stderr: 'kanban: database is locked', timedOut: false };
        case 1:
          return { exitCode: 137, stdout: '', stderr: '', timedOut: false };
        default: {
          await hermes([...args], { HERMES_PROFILE: SELF });
          return { exitCode: 1, stdout: '', stderr: '', timedOut: true };
        }
      }
    };
    // A new session dies every 2 minutes from 55 min to 75 min: before, during and after the outage.
    const deaths = Array.from({ length: 11 }, (_, k) => outageFrom - 5 * MIN + k * 2 * MIN);
    const pass = async (): Promise<PassReport> => report(deaths.filter((at) => now >= at && now < at + 30_000).map((at) => dead(`x${(at - T0) / MIN}-creator-claude`)));
    await runWorker({
      board: board(id, flaky),
      pass,
      clock: fakeClock([{ at: T0 + 2 * HOUR, run: () => hermes(['kanban', 'comment', id, 'stop'], { HERMES_PROFILE: 'default' }) }]),
      settings: DEFAULT_SETTINGS,
      stateFile: path.join(root, 'state', 'ws.state'),
      log: silent,
    });
    const card = await show(id);
    expect(calls).toBeGreaterThan(10);
    const comments = ourComments(card);
    const seqs = comments.map(commentSeq);
    expect(new Set(seqs).size).toBe(seqs.length);
    const told = comments.flatMap((body) => body.split('\n').slice(1, -1));
    expect(told.sort()).toEqual(deaths.map((at) => `- A x${(at - T0) / MIN}-creator-claude: tmux gone (was pane 1, cmd claude). Marked terminated.`).sort());
  }, BOUND_MS);

  it('a restarted worker delivers what the previous run could not, once, and does not repeat what it said', async () => {
    const id = await runningCard();
    const stateFile = path.join(root, 'state', 'ws.state');
    let down = false;
    const run: HermesRunner = async (args) => (down && args[1] === 'comment' ? { exitCode: 137, stdout: '', stderr: '', timedOut: false } : { ...(await hermes([...args], { HERMES_PROFILE: SELF })), timedOut: false });
    const pass = async (): Promise<PassReport> => report(now - T0 < 30 * MIN ? [stale('lasting-creator-claude')] : [stale('lasting-creator-claude'), dead('late-creator-claude')]);

    // First run: the stale id is told; the board then refuses comments; the run ends (budget) with one owed.
    const first = await runWorker({
      board: board(id, run),
      pass,
      clock: fakeClock([{ at: T0 + 20 * MIN, run: async () => (down = true) }]),
      settings: DEFAULT_SETTINGS,
      stateFile,
      deadline: T0 + 40 * MIN,
      log: silent,
    });
    expect(first.kind).toBe('handover');
    expect(ourComments(await show(id))).toHaveLength(1);

    // Second run, board healthy: the owed comment arrives once; the lasting stale id is not told again.
    down = false;
    await runWorker({
      board: board(id, run),
      pass,
      clock: fakeClock([{ at: now + 10 * MIN, run: () => hermes(['kanban', 'comment', id, 'stop'], { HERMES_PROFILE: 'default' }) }]),
      settings: DEFAULT_SETTINGS,
      stateFile,
      log: silent,
    });
    const told = ourComments(await show(id)).flatMap((body) => body.split('\n').slice(1, -1));
    expect(told).toEqual([
      '- D lasting-creator-claude: stale id x1 (claude_session_id_own): not found. Kept in YAML.',
      '- A late-creator-claude: tmux gone (was pane 1, cmd claude). Marked terminated.',
    ]);
  }, BOUND_MS);

  it('retries the block after a stop request, and says so when the card could not be blocked', async () => {
    const id = await runningCard();
    let blockCalls = 0;
    const refusesBlock: HermesRunner = async (args) => {
      if (args[1] === 'block') {
        blockCalls += 1;
        return { exitCode: 137, stdout: '', stderr: '', timedOut: false };
      }
      return { ...(await hermes([...args], { HERMES_PROFILE: SELF })), timedOut: false };
    };
    await hermes(['kanban', 'comment', id, 'stop'], { HERMES_PROFILE: 'default' });
    const outcome = await runWorker({ board: board(id, refusesBlock), pass: async () => report([]), clock: fakeClock([]), settings: DEFAULT_SETTINGS, stateFile: path.join(root, 's.state'), log: silent });
    expect(outcome).toMatchObject({ kind: 'stopped', blocked: false });
    expect(blockCalls).toBe(3);
    expect((await show(id)).task.status).toBe('running');
  }, BOUND_MS);

  it('a stop comment written while no worker ran is honoured by the next run; old comments are not', async () => {
    const id = await runningCard();
    const stateFile = path.join(root, 'state', 'ws.state');
    await hermes(['kanban', 'comment', id, 'stop'], { HERMES_PROFILE: 'default' }); // before any run: history
    now += 60_000;
    const first = await runWorker({ board: board(id), pass: async () => report([]), clock: fakeClock([]), settings: DEFAULT_SETTINGS, stateFile, deadline: now + 5 * MIN, log: silent });
    expect(first.kind).toBe('handover');
    await hermes(['kanban', 'comment', id, 'stop'], { HERMES_PROFILE: 'default' }); // between runs
    const second = await runWorker({ board: board(id), pass: async () => report([]), clock: fakeClock([]), settings: DEFAULT_SETTINGS, stateFile, log: silent });
    expect(second.kind).toBe('stopped');
  }, BOUND_MS);
  it('prunes ended sessions once a day by retention, keeps the schedule across a hand-over, and tells the card once', async () => {
    const id = await runningCard();
    const stateFile = path.join(root, 'state', 'ws.state');
    const registryFile = path.join(root, 'reg', 'agent-sessions.yaml');
    await mkdir(path.dirname(registryFile), { recursive: true });
    const at = (ms: number): string => new Date(ms).toISOString().replace('.000Z', 'Z');
    await writeFile(
      registryFile,
      `# mine\ntmux_sessions:\n` +
        `  - {name: early-creator-claude, agent: claude, workspace: /w, status: terminated, terminated_at: ${at(T0 - 2 * HOUR)}}\n` +
        `  - {name: later-creator-claude, agent: claude, workspace: /w, status: terminated, terminated_at: ${at(T0 + HOUR)}}\n` +
        `  - {name: last-creator-claude, agent: claude, workspace: /w, status: terminated, terminated_at: ${at(T0 + 25 * HOUR)}}\n` +
        `  - {name: live-creator-claude, agent: claude, workspace: /w, status: running, created_at: ${at(T0 - 48 * HOUR)}}\n`,
    );
    const names = async (): Promise<string[]> => parseRegistry(registryFile, await readFile(registryFile, 'utf8')).entries.map((entry) => entry.name);
    const settings = { ...DEFAULT_SETTINGS, intervalMs: 30 * MIN, retentionMs: HOUR };
    const prune = async (pruneNow: number, retentionMs: number) => {
      const pruned = await pruneRegistry({ registryFile, olderThanMs: retentionMs, dryRun: false, now: () => pruneNow });
      return { pruned: pruned.pruned.length, history: pruned.history };
    };
    const pass = async (): Promise<PassReport> => report([]);

    // First run, 0 → 30 h: prunes at its first pass (early), then a day later (later); last ended at 25 h is
    // over an hour old by 30 h but waits for the next daily prune.
    const first = await runWorker({ board: board(id), pass, clock: fakeClock([]), settings, stateFile, deadline: T0 + 30 * HOUR, log: silent, prune });
    expect(first.kind).toBe('handover');
    expect(await names()).toEqual(['last-creator-claude', 'live-creator-claude']);
    const history = registryFile.replace(/\.yaml$/, '.history.jsonl');
    const told = () => show(id).then((card) => ourComments(card).flatMap((body) => body.split('\n').slice(1, -1)));
    expect(await told()).toEqual([`- pruned 1 ended session older than 1h into ${history}`, `- pruned 1 ended session older than 1h into ${history}`]);
    expect(JSON.parse(await readFile(stateFile, 'utf8'))).toMatchObject({ lastPruneAt: at(T0 + 24 * HOUR) });

    // The next run (a hand-over) starts at ~30 h: not a day since the last prune, so nothing goes until 48 h.
    const stopAt = T0 + 50 * HOUR;
    await runWorker({
      board: board(id),
      pass,
      clock: fakeClock([
        { at: T0 + 47 * HOUR, run: async () => expect(await names()).toEqual(['last-creator-claude', 'live-creator-claude']) },
        { at: stopAt, run: () => hermes(['kanban', 'comment', id, 'stop'], { HERMES_PROFILE: 'default' }) },
      ]),
      settings,
      stateFile,
      log: silent,
      prune,
    });
    expect(await names()).toEqual(['live-creator-claude']);
    expect(await told()).toHaveLength(3);
    const lines = (await readFile(history, 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { action: string; entry: { name: string } });
    expect(lines.map((line) => [line.action, line.entry.name])).toEqual([['prune', 'early-creator-claude'], ['prune', 'later-creator-claude'], ['prune', 'last-creator-claude']]);
    expect(await readFile(registryFile, 'utf8')).toMatch(/^# mine\n/);
  }, BOUND_MS);
});

describe('monitor worker after a reboot', () => {
  it('says once per boot how many sessions the reboot took down and that `mam restore` brings them back, across a hand-over', async () => {
    const id = await runningCard();
    const stateFile = path.join(root, 'state', 'ws.state');
    // The first pass marks three sessions lost at the reboot (class A); they stay lost for hours, then a second reboot.
    let lost: { bootId: string; count: number } | undefined;
    const pass = async (): Promise<PassReport> => {
      const t = now - T0;
      lost = t < 10 * HOUR ? { bootId: 'boot-1', count: 3 } : { bootId: 'boot-2', count: 1 };
      return report(t < 30_000 ? [dead('a-creator-claude')] : []);
    };
    const run = (deadline: number | undefined, stopAt: number | undefined) =>
      runWorker({
        board: board(id),
        pass,
        clock: fakeClock(stopAt === undefined ? [] : [{ at: stopAt, run: () => hermes(['kanban', 'comment', id, 'stop'], { HERMES_PROFILE: 'default' }) }]),
        settings: DEFAULT_SETTINGS,
        stateFile,
        deadline,
        log: silent,
        rebootLost: async () => lost,
      });
    expect((await run(T0 + 4 * HOUR, undefined)).kind).toBe('handover');
    expect((await run(undefined, T0 + 12 * HOUR)).kind).toBe('stopped');
    const lines = ourComments(await show(id)).flatMap((body) => body.split('\n').slice(1, -1));
    expect(lines).toEqual([
      '- A a-creator-claude: tmux gone (was pane 1, cmd claude). Marked terminated.',
      '- 3 sessions were running before the reboot; `mam restore` brings them back',
      '- 1 session was running before the reboot; `mam restore` brings it back',
    ]);
  }, BOUND_MS);
});
