import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../src/util/wait.js';
import { until } from '../helpers/until.js';
import { HERMES_STANDIN_BIN, runHermes, type HermesResult } from './standin.js';

/**
 * Faithfulness tests for the `hermes kanban` stand-in (the contract: docs/hermes-kanban.md).
 * Most run in-process; the spawn path, exit classification and concurrency go through the executable.
 * Every test works in its own temp dir and kills only the worker/supervisor processes its board recorded.
 */

const T0 = 1_800_000_000;
const HOST = os.hostname();
const TASK_KEYS = [
  'id', 'title', 'body', 'assignee', 'status', 'priority', 'tenant', 'workspace_kind', 'workspace_path', 'branch_name',
  'project_id', 'created_by', 'created_at', 'started_at', 'completed_at', 'result', 'skills', 'max_retries',
  'session_id', 'workflow_template_id', 'current_step_key',
];
const SHOW_RUN_KEYS = ['id', 'profile', 'step_key', 'status', 'outcome', 'summary', 'error', 'metadata', 'worker_pid', 'started_at', 'ended_at'];
const RUNS_RUN_KEYS = ['id', 'profile', 'status', 'outcome', 'started_at', 'ended_at', 'summary', 'error', 'metadata', 'worker_pid', 'step_key'];
const DISPATCH_KEYS = [
  'reclaimed', 'crashed', 'timed_out', 'stale', 'auto_blocked', 'promoted', 'spawned', 'skipped_unassigned',
  'skipped_nonspawnable', 'skipped_per_profile_capped', 'auto_assigned_default',
];

interface Show {
  task: Record<string, unknown> & { id: string; status: string };
  latest_summary: string | null;
  parents: string[];
  children: string[];
  comments: { author: string; body: string; created_at: number }[];
  events: { kind: string; payload: Record<string, unknown> | null; created_at: number; run_id: number | null }[];
  runs: (Record<string, unknown> & { id: number; outcome: string | null; worker_pid: number | null; error: string | null })[];
}

/** Stand-in internals (the JSON board), for what the CLI deliberately does not expose. */
interface Internals {
  tasks: { id: string; status: string; claim_expires: number | null; last_heartbeat_at: number | null; max_runtime_seconds: number | null; consecutive_failures: number; worker_pid: number | null; supervisor_pid: number | null }[];
  runs: { id: number; task_id: string; worker_pid: number | null }[];
  worker_exits: { run_id: number; exit_code: number | null }[];
}

interface WorkerRecord {
  argv: string[];
  cwd: string;
  pid: number;
  env: Record<string, string>;
}

const disposers: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (disposers.length) await disposers.pop()?.();
});

class Kanban {
  readonly root: string;
  readonly record: string;
  readonly fakeWorker: string;

  constructor(
    readonly dir: string,
    public env: Record<string, string>,
  ) {
    this.root = env['HERMES_HOME'] ?? '';
    this.record = path.join(dir, 'worker-records.jsonl');
    this.fakeWorker = path.join(dir, 'fake-worker.mjs');
  }

  static async create(extra: Record<string, string> = {}): Promise<Kanban> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hermes-standin-'));
    const root = path.join(dir, 'hermes-root');
    await mkdir(root, { recursive: true });
    const kb = new Kanban(dir, {
      PATH: path.dirname(process.execPath), // a minimal PATH: just node
      HOME: path.join(dir, 'home'),
      HERMES_HOME: root,
      LANG: 'C.UTF-8',
      ...extra,
    });
    disposers.push(() => kb.dispose());
    return kb;
  }

  /** In-process call. */
  run(args: string[], env: Record<string, string> = {}): Promise<HermesResult> {
    return runHermes(['kanban', ...args], { ...this.env, ...env });
  }

  /** In-process call at a stand-in time (epoch seconds). */
  at(seconds: number, args: string[], env: Record<string, string> = {}): Promise<HermesResult> {
    return this.run(args, { ...env, HERMES_STANDIN_NOW: String(seconds) });
  }

  /** Through the executable, from an unrelated cwd. */
  exec(args: string[], env: Record<string, string> = {}): Promise<HermesResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(HERMES_STANDIN_BIN, ['kanban', ...args], {
        cwd: this.dir,
        env: { ...this.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.once('error', reject);
      child.once('close', (code) => resolve({ exitCode: code ?? -1, stdout, stderr }));
    });
  }

  async create(title: string, ...flags: string[]): Promise<string> {
    const result = await this.at(T0, ['create', title, '--json', ...flags]);
    expect(result.exitCode, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as { id: string }).id;
  }

  async show(id: string): Promise<Show> {
    const result = await this.run(['show', id, '--json']);
    expect(result.exitCode, result.stderr).toBe(0);
    return JSON.parse(result.stdout) as Show;
  }

  async internals(): Promise<Internals> {
    return JSON.parse(await readFile(path.join(this.root, 'kanban.json'), 'utf8')) as Internals;
  }

  async task(id: string): Promise<Internals['tasks'][number]> {
    const task = (await this.internals()).tasks.find((t) => t.id === id);
    if (!task) throw new Error(`no ${id}`);
    return task;
  }

  async profile(...names: string[]): Promise<void> {
    for (const name of names) await mkdir(path.join(this.root, 'profiles', name), { recursive: true });
  }

  /**
   * A fake worker for HERMES_BIN: records argv/env/cwd, then acts by profile name: `exitN` exits N at once,
   * `sleeper` sleeps 60 s, anything else heartbeats, comments and completes through the stand-in executable.
   */
  async installFakeWorker(): Promise<void> {
    await writeFile(
      this.fakeWorker,
      `#!${process.execPath}
import { appendFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
const env = process.env;
const picked = Object.fromEntries(Object.entries(env).filter(([k]) => /^(HERMES_|TERMINAL_|FAKE_)/.test(k)));
appendFileSync(env.FAKE_RECORD, JSON.stringify({ argv: process.argv.slice(2), cwd: process.cwd(), pid: process.pid, env: picked }) + '\\n');
const id = env.HERMES_KANBAN_TASK;
const profile = env.HERMES_PROFILE ?? '';
const kanban = (...args) => spawnSync(env.FAKE_HERMES, ['kanban', ...args], { encoding: 'utf8' });
const exit = /^exit(\\d+)$/.exec(profile);
if (exit) process.exit(Number(exit[1]));
if (profile === 'sleeper') setTimeout(() => process.exit(0), 60000);
else {
  const hb = kanban('heartbeat', id, '--note', 'started');
  const comment = kanban('comment', id, 'progress from the fake worker');
  const done = kanban('complete', id, '--summary', 'fake worker finished');
  appendFileSync(env.FAKE_RECORD, JSON.stringify({ task: id, heartbeat: hb.status, comment: comment.status, complete: done.status, out: done.stdout + done.stderr }) + '\\n');
  process.stdout.write(done.stdout); // stdout goes to the worker log
  process.exit(0);
}
`,
    );
    await chmod(this.fakeWorker, 0o755);
    this.env = { ...this.env, HERMES_BIN: this.fakeWorker, FAKE_RECORD: this.record, FAKE_HERMES: HERMES_STANDIN_BIN };
  }

  async records(): Promise<WorkerRecord[]> {
    const text = await readFile(this.record, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as WorkerRecord)
      .filter((r) => Array.isArray(r.argv));
  }

  async waitForExits(count: number): Promise<void> {
    await until(async () => (await this.internals()).worker_exits.length >= count, `${count} recorded worker exits`, 30_000);
  }

  private async dispose(): Promise<void> {
    const pids = new Set<number>();
    try {
      const board = await this.internals();
      for (const t of board.tasks) for (const pid of [t.worker_pid, t.supervisor_pid]) if (pid) pids.add(pid);
      for (const r of board.runs) if (r.worker_pid) pids.add(r.worker_pid);
    } catch {
      // no board
    }
    for (const r of await this.records()) pids.add(r.pid);
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    // A supervisor killed while it records an exit may still be creating its temp file in the board's directory
    // (seen as ENOTEMPTY on a loaded machine): let the killed processes go, then retry what is still being removed.
    await waitFor(() => [...pids].every((pid) => !alive(pid)), 30_000);
    await rm(this.dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).charAt(0) !== 'Z';
  } catch {
    return true;
  }
}

const kinds = (show: Show): string[] => show.events.map((e) => e.kind);

describe('hermes kanban stand-in, in-process', () => {
  it('create prints the 0.18 line, and --json is exactly the documented task dict (no goal/runtime fields)', async () => {
    const kb = await Kanban.create();
    const text = await kb.at(T0, ['create', 'Translate the docs', '--assignee', 'linguist', '--body', 'all of them']);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^Created t_[0-9a-f]{8} {2}\(ready, assignee=linguist\)\n$/);
    expect(text.stderr).toContain('No gateway is running');
    expect((await kb.at(T0, ['create', 'nobody'])).stdout).toMatch(/\(ready, assignee=-\)\n$/);

    const json = await kb.at(T0, [
      'create', 'Goal card', '--json', '--goal', '--goal-max-turns', '5', '--max-runtime', '2h',
      '--skill', 'translation', '--skill', 'github-code-review', '--priority', '5', '--tenant', 'acme',
    ]);
    expect(json.exitCode).toBe(0);
    expect(json.stderr).toBe('');
    const task = JSON.parse(json.stdout) as Record<string, unknown>;
    expect(Object.keys(task)).toEqual(TASK_KEYS);
    expect(task).toMatchObject({
      title: 'Goal card', body: null, status: 'ready', priority: 5, tenant: 'acme', workspace_kind: 'scratch',
      created_by: 'user', created_at: T0, skills: ['translation', 'github-code-review'], max_retries: null,
    });
    const show = await kb.show(String(task['id']));
    expect(show.events[0]).toMatchObject({ kind: 'created', payload: { goal_mode: true, goal_max_turns: 5 } });
    expect((await kb.task(String(task['id']))).max_runtime_seconds).toBe(7200);
  });

  it('--max-runtime takes 300, 90s, 30m, 2h and 1d; anything else is a usage error', async () => {
    const kb = await Kanban.create();
    const expected: Record<string, number> = { '300': 300, '90s': 90, '30m': 1800, '2h': 7200, '1d': 86400 };
    for (const [flag, seconds] of Object.entries(expected)) {
      const id = await kb.create(`rt ${flag}`, '--max-runtime', flag);
      expect((await kb.task(id)).max_runtime_seconds).toBe(seconds);
    }
    const bad = await kb.run(['create', 'x', '--max-runtime', 'soon']);
    expect(bad).toMatchObject({ exitCode: 2, stdout: '' });
    expect(bad.stderr).toBe("kanban: --max-runtime: malformed duration 'soon' (expected 30s, 5m, 2h, 1d, or a number)\n");
  });

  it('usage errors exit 2 the argparse way; a non-kanban hermes call exits 2', async () => {
    const kb = await Kanban.create();
    const cases: [string[], RegExp][] = [
      [['create'], /hermes kanban create: error: the following arguments are required: title\n$/],
      [['block'], /hermes kanban block: error: the following arguments are required: task_id\n$/],
      [['block', 't_1', '--kind', 'bogus'], /argument --kind: invalid choice: 'bogus' \(choose from 'capability', 'dependency', 'needs_input', 'transient'\)/],
      [['claim', 't_1', '--ttl', 'soon'], /argument --ttl: invalid int value: 'soon'/],
      [['create', 'x', '--branch', 'wt/x'], /^kanban: --branch is only valid with --workspace worktree\n$/],
      [['create', 'x', '--max-retries', '0'], /^kanban: --max-retries must be >= 1/],
      [['frobnicate'], /argument kanban_action: invalid choice: 'frobnicate'/],
      [['complete', 'a', 'b', '--summary', 's'], /can't be used with multiple ids/],
    ];
    for (const [args, pattern] of cases) {
      const result = await kb.run(args);
      expect(result.exitCode, args.join(' ')).toBe(2);
      expect(result.stderr, args.join(' ')).toMatch(pattern);
    }
    const chat = await runHermes(['-p', 'prof', '--accept-hooks', 'chat', '-q', 'work kanban task t_1'], kb.env);
    expect(chat).toEqual({ exitCode: 2, stdout: '', stderr: "hermes stand-in: only 'kanban' is implemented\n" });
  });

  it('show --json: comments have no id, epoch-second timestamps, created_at order; events and runs arrays', async () => {
    const kb = await Kanban.create();
    const created = await runHermes(['kanban', 'create', 'card', '--json', '--assignee', 'ts-lane'], kb.env, {
      now: () => T0 * 1000 + 999,
    });
    const id = (JSON.parse(created.stdout) as { id: string }).id;
    expect(await kb.at(T0 + 20.9, ['comment', id, 'later', 'words'])).toEqual({
      exitCode: 0, stdout: `Comment added to ${id}\n`, stderr: '',
    });
    await kb.at(T0 + 10.5, ['comment', id, 'earlier']);
    await kb.at(T0 + 30, ['claim', id]);
    const show = await kb.show(id);
    expect(Object.keys(show)).toEqual(['task', 'latest_summary', 'parents', 'children', 'comments', 'events', 'runs']);
    expect(show.task.created_at).toBe(T0);
    expect(show.comments).toEqual([
      { author: 'default', body: 'earlier', created_at: T0 + 10 },
      { author: 'default', body: 'later words', created_at: T0 + 20 },
    ]);
    for (const event of show.events) expect(Object.keys(event)).toEqual(['kind', 'payload', 'created_at', 'run_id']);
    const claimed = show.events.find((e) => e.kind === 'claimed');
    expect(claimed).toEqual({
      kind: 'claimed',
      payload: { lock: `${HOST}:${process.pid}`, expires: T0 + 30 + 900, run_id: 1 },
      created_at: T0 + 30,
      run_id: 1,
    });
    expect(show.runs).toHaveLength(1);
    expect(Object.keys(show.runs[0] ?? {})).toEqual(SHOW_RUN_KEYS);
    expect(show.runs[0]).toMatchObject({ id: 1, profile: 'ts-lane', status: 'running', outcome: null, started_at: T0 + 30, ended_at: null });
    const runs = JSON.parse((await kb.run(['runs', id, '--json'])).stdout) as Record<string, unknown>[];
    expect(Object.keys(runs[0] ?? {})).toEqual(RUNS_RUN_KEYS);
    expect(await kb.run(['show', 't_00000000', '--json'])).toEqual({ exitCode: 1, stdout: '', stderr: 'no such task: t_00000000\n' });
  });

  it('comment authorship: --author, then $HERMES_PROFILE_NAME, then $HERMES_PROFILE, then default', async () => {
    const kb = await Kanban.create();
    const id = await kb.create('card');
    await kb.run(['comment', id, 'a', '--author', 'alice'], { HERMES_PROFILE_NAME: 'pn', HERMES_PROFILE: 'p' });
    await kb.run(['comment', id, 'b'], { HERMES_PROFILE_NAME: 'pn', HERMES_PROFILE: 'p' });
    await kb.run(['comment', id, 'c'], { HERMES_PROFILE: 'p' });
    await kb.run(['comment', id, 'd']);
    expect((await kb.show(id)).comments.map((c) => `${c.author}:${c.body}`)).toEqual(['alice:a', 'pn:b', 'p:c', 'default:d']);
  });

  it('block writes BLOCKED: before the state check, so a failed block still leaves it; unblock --reason writes UNBLOCK:', async () => {
    const kb = await Kanban.create();
    const id = await kb.create('card');
    expect(await kb.run(['complete', id])).toEqual({ exitCode: 0, stdout: `Completed ${id}\n`, stderr: '' });
    const failed = await kb.run(['block', id, 'need', 'glossary'], { HERMES_PROFILE: 'linguist' });
    expect(failed).toEqual({ exitCode: 1, stdout: '', stderr: `cannot block ${id}\n` });
    expect((await kb.show(id)).comments).toMatchObject([{ author: 'linguist', body: 'BLOCKED: need glossary' }]);

    const other = await kb.create('other');
    expect(await kb.run(['block', other, 'which', 'glossary?'], { HERMES_PROFILE: 'linguist' })).toEqual({
      exitCode: 0, stdout: `Blocked ${other}: which glossary?\n`, stderr: '',
    });
    expect(await kb.run(['unblock', '--reason', 'use the 2026 one', other])).toEqual({
      exitCode: 0, stdout: `Unblocked ${other}: use the 2026 one\n`, stderr: '',
    });
    const show = await kb.show(other);
    expect(show.task.status).toBe('ready');
    expect(show.comments.map((c) => `${c.author}:${c.body}`)).toEqual(['linguist:BLOCKED: which glossary?', 'default:UNBLOCK: use the 2026 one']);
    expect(await kb.run(['unblock', other])).toEqual({ exitCode: 1, stdout: '', stderr: `cannot unblock ${other} (not blocked/scheduled?)\n` });
  });

  it('block → unblock → block with the same kind (None == None too) lands in triage; another kind stays blocked; dependency waits in todo', async () => {
    const kb = await Kanban.create();
    const same = await kb.create('same kind');
    await kb.run(['block', same, 'q1', '--kind', 'needs_input']);
    await kb.run(['unblock', same]);
    expect(await kb.run(['block', same, 'q2', '--kind', 'needs_input'])).toEqual({
      exitCode: 0, stdout: `${same} → triage (unblock loop detected — needs a human decision): q2\n`, stderr: '',
    });
    const show = await kb.show(same);
    expect(show.task.status).toBe('triage');
    expect(show.events.find((e) => e.kind === 'block_loop_detected')?.payload).toMatchObject({ kind: 'needs_input', recurrences: 2 });
    expect((await kb.run(['unblock', same])).exitCode).toBe(1);

    const untyped = await kb.create('no kind');
    await kb.run(['block', untyped, 'x']);
    await kb.run(['unblock', untyped]);
    expect((await kb.run(['block', untyped, 'y'])).stdout).toContain('→ triage (unblock loop detected');

    const switched = await kb.create('switched kind');
    await kb.run(['block', switched, 'a', '--kind', 'needs_input']);
    await kb.run(['unblock', switched]);
    expect((await kb.run(['block', switched, 'b', '--kind', 'capability'])).stdout).toBe(`Blocked ${switched}: b\n`);
    expect((await kb.show(switched)).task.status).toBe('blocked');

    const dependency = await kb.create('dependency');
    expect((await kb.run(['block', dependency, 'wait for parent', '--kind', 'dependency'])).stdout).toBe(
      `${dependency} → todo (dependency wait): wait for parent\n`,
    );
    expect((await kb.show(dependency)).task.status).toBe('todo');
  });

  it('heartbeat records last_heartbeat_at and an event but never extends the claim: a --ttl 3 claim is reclaimed', async () => {
    const kb = await Kanban.create();
    const id = await kb.create('pull lane card', '--assignee', 'ts-lane');
    expect(await kb.at(T0, ['heartbeat', id])).toEqual({ exitCode: 1, stdout: '', stderr: `cannot heartbeat ${id} (not running?)\n` });
    expect(await kb.at(T0, ['claim', id, '--ttl', '3'])).toEqual({
      exitCode: 0,
      stdout: `Claimed ${id}\nWorkspace: ${path.join(kb.root, 'kanban', 'workspaces', id)}\n`,
      stderr: '',
    });
    expect(await kb.at(T0, ['claim', id])).toEqual({
      exitCode: 1, stdout: '', stderr: `cannot claim ${id}: status=running lock=${HOST}:${process.pid}\n`,
    });
    for (const t of [T0 + 1, T0 + 2, T0 + 2.9]) {
      expect(await kb.at(t, ['heartbeat', id, '--note', 'alive'])).toEqual({ exitCode: 0, stdout: `Heartbeat recorded for ${id}\n`, stderr: '' });
    }
    expect(await kb.task(id)).toMatchObject({ claim_expires: T0 + 3, last_heartbeat_at: T0 + 2, status: 'running' });

    const tick = await kb.at(T0 + 4, ['dispatch', '--json']);
    const res = JSON.parse(tick.stdout) as Record<string, unknown>;
    expect(Object.keys(res)).toEqual(DISPATCH_KEYS);
    expect(res).toMatchObject({ reclaimed: 1, skipped_nonspawnable: [id], spawned: [] });
    const show = await kb.show(id);
    expect(show.task.status).toBe('ready');
    expect(show.runs[0]).toMatchObject({ outcome: 'reclaimed', ended_at: T0 + 4 });
    expect(kinds(show).filter((k) => k === 'heartbeat')).toHaveLength(3);
    expect(show.events.find((e) => e.kind === 'heartbeat')?.payload).toEqual({ note: 'alive' });
    expect(kinds(show)).toContain('reclaimed');
    expect((await kb.at(T0 + 5, ['heartbeat', id])).exitCode).toBe(1);
  });

  it('the run-id guard fails complete/block/heartbeat of a superseded run with exit 1', async () => {
    const kb = await Kanban.create();
    const id = await kb.create('guarded', '--assignee', 'ts-lane');
    await kb.at(T0, ['claim', id]);
    const oldWorker = { HERMES_KANBAN_TASK: id, HERMES_KANBAN_RUN_ID: '1', HERMES_PROFILE: 'ts-lane' };
    expect((await kb.at(T0 + 1, ['heartbeat', id], oldWorker)).exitCode).toBe(0);
    expect(await kb.at(T0 + 2, ['reclaim', id, '--reason', 'operator'])).toEqual({ exitCode: 0, stdout: `Reclaimed ${id}\n`, stderr: '' });
    await kb.at(T0 + 3, ['claim', id]); // run 2 supersedes run 1

    expect(await kb.at(T0 + 4, ['heartbeat', id], oldWorker)).toEqual({ exitCode: 1, stdout: '', stderr: `cannot heartbeat ${id} (not running?)\n` });
    expect(await kb.at(T0 + 4, ['complete', id, '--summary', 'stale'], oldWorker)).toEqual({
      exitCode: 1, stdout: '', stderr: `cannot complete ${id} (unknown id or terminal state)\n`,
    });
    expect(await kb.at(T0 + 4, ['block', id, 'stale'], oldWorker)).toEqual({ exitCode: 1, stdout: '', stderr: `cannot block ${id}\n` });
    expect((await kb.show(id)).task.status).toBe('running');

    const otherTask = { ...oldWorker, HERMES_KANBAN_TASK: 't_elsewhere' }; // the guard only binds its own task
    expect((await kb.at(T0 + 5, ['heartbeat', id], otherTask)).exitCode).toBe(0);
    const newWorker = { ...oldWorker, HERMES_KANBAN_RUN_ID: '2' };
    expect(await kb.at(T0 + 6, ['complete', id, '--summary', 'done right'], newWorker)).toEqual({ exitCode: 0, stdout: `Completed ${id}\n`, stderr: '' });
    const show = await kb.show(id);
    expect(show.runs.map((r) => [r.id, r.outcome])).toEqual([[1, 'reclaimed'], [2, 'completed']]);
    expect(show.latest_summary).toBe('done right');
  });

  it('complete works from ready, running and blocked but not twice; reclaim only from running', async () => {
    const kb = await Kanban.create();
    const ready = await kb.create('ready');
    const running = await kb.create('running');
    const blocked = await kb.create('blocked');
    await kb.run(['claim', running]);
    await kb.run(['block', blocked]);
    expect(await kb.run(['complete', ready, running, blocked, '--result', 'ok'])).toEqual({
      exitCode: 0, stdout: `Completed ${ready}\nCompleted ${running}\nCompleted ${blocked}\n`, stderr: '',
    });
    expect(await kb.run(['complete', ready])).toEqual({ exitCode: 1, stdout: '', stderr: `cannot complete ${ready} (unknown id or terminal state)\n` });
    expect(await kb.run(['reclaim', ready])).toEqual({ exitCode: 1, stdout: '', stderr: `cannot reclaim ${ready} (not running or unknown id)\n` });
    const done = JSON.parse((await kb.run(['list', '--status', 'done', '--json'])).stdout) as { id: string; result: string }[];
    expect(done.map((t) => t.id).sort()).toEqual([ready, running, blocked].sort());
    expect(done.every((t) => t.result === 'ok')).toBe(true);
  });

  it('list filters by assignee and status, in text and --json', async () => {
    const kb = await Kanban.create();
    const mine = await kb.create('mine', '--assignee', 'me');
    await kb.create('theirs', '--assignee', 'them');
    const blocked = await kb.create('blocked mine', '--assignee', 'me');
    await kb.run(['block', blocked]);
    const json = JSON.parse((await kb.run(['list', '--assignee', 'me', '--status', 'ready', '--json'])).stdout) as Record<string, unknown>[];
    expect(json.map((t) => t['id'])).toEqual([mine]);
    expect(Object.keys(json[0] ?? {})).toEqual(TASK_KEYS);
    expect((await kb.run(['ls', '--assignee', 'me'])).stdout).toBe(
      `▶ ${mine}  ready     me                    mine\n⊘ ${blocked}  blocked   me                    blocked mine\n`,
    );
    expect((await kb.run(['list', '--status', 'running'])).stdout).toBe('(no matching tasks)\n');
  });

  it('the board root rule: a worker with HERMES_HOME=<root>/profiles/<p> or only HERMES_KANBAN_DB uses the same board', async () => {
    const kb = await Kanban.create();
    const id = await kb.create('shared');
    const asWorker = { HERMES_HOME: path.join(kb.root, 'profiles', 'tsworker'), HERMES_PROFILE: 'tsworker' };
    await kb.run(['comment', id, 'from the profile home'], asWorker);
    const viaDb = { ...kb.env, HERMES_KANBAN_DB: path.join(kb.root, 'kanban.json') };
    delete (viaDb as Record<string, string | undefined>)['HERMES_HOME'];
    await runHermes(['kanban', 'comment', id, 'via the db path', '--author', 'db'], viaDb);
    expect((await kb.show(id)).comments.map((c) => `${c.author}:${c.body}`)).toEqual(['tsworker:from the profile home', 'db:via the db path']);
  });

  it('dispatch --json has the documented keys and skips unassigned cards and assignees without a profile directory', async () => {
    const kb = await Kanban.create();
    const unassigned = await kb.create('nobody');
    const lane = await kb.create('lane', '--assignee', 'ts-lane');
    const dry = await kb.create('dry', '--assignee', 'tsworker');
    await kb.profile('tsworker');
    const res = JSON.parse((await kb.at(T0, ['dispatch', '--json', '--dry-run'])).stdout) as Record<string, unknown>;
    expect(res).toEqual({
      reclaimed: 0, crashed: [], timed_out: [], stale: [], auto_blocked: [], promoted: 0,
      spawned: [{ task_id: dry, assignee: 'tsworker', workspace: path.join(kb.root, 'kanban', 'workspaces', dry) }],
      skipped_unassigned: [unassigned], skipped_nonspawnable: [lane], skipped_per_profile_capped: [], auto_assigned_default: [],
    });
    expect((await kb.show(dry)).task.status).toBe('ready');
  });
});

describe('hermes kanban stand-in, through the executable', () => {
  it('spawns the worker with the documented argv, env and cwd, and a worker that completes then exits 0 is fine', async () => {
    const kb = await Kanban.create({ HERMES_KANBAN_CRASH_GRACE_SECONDS: '0', FAKE_MARK: 'copied' });
    await kb.installFakeWorker();
    await kb.profile('tsworker');
    const goal = await kb.create('goal card', '--assignee', 'tsworker', '--goal', '--goal-max-turns', '7', '--skill', 'translation', '--skill', 'review', '--max-runtime', '5m', '--priority', '2');
    const plain = await kb.create('plain card', '--assignee', 'tsworker');
    const tick = await kb.exec(['dispatch', '--json']);
    expect(tick.exitCode, tick.stderr).toBe(0);
    const res = JSON.parse(tick.stdout) as { spawned: { task_id: string; assignee: string; workspace: string }[] };
    const workspace = (id: string): string => path.join(kb.root, 'kanban', 'workspaces', id);
    expect(res.spawned).toEqual([
      { task_id: goal, assignee: 'tsworker', workspace: workspace(goal) },
      { task_id: plain, assignee: 'tsworker', workspace: workspace(plain) },
    ]);

    await until(async () => (await kb.records()).length === 2, 'both workers to start', 30_000);
    const records = await kb.records();
    const goalRecord = records.find((r) => r.env['HERMES_KANBAN_TASK'] === goal);
    const plainRecord = records.find((r) => r.env['HERMES_KANBAN_TASK'] === plain);
    expect(goalRecord?.argv).toEqual(['-p', 'tsworker', '--accept-hooks', '--skills', 'translation', '--skills', 'review', 'chat', '-q', `work kanban task ${goal}`]);
    expect(plainRecord?.argv).toEqual(['-p', 'tsworker', '--accept-hooks', 'chat', '-q', `work kanban task ${plain}`]);
    expect(goalRecord?.cwd).toBe(workspace(goal));
    expect(goalRecord?.env).toMatchObject({
      HERMES_HOME: path.join(kb.root, 'profiles', 'tsworker'),
      HERMES_PROFILE: 'tsworker',
      HERMES_KANBAN_TASK: goal,
      HERMES_KANBAN_RUN_ID: '1',
      HERMES_KANBAN_WORKSPACE: workspace(goal),
      HERMES_KANBAN_WORKSPACES_ROOT: path.join(kb.root, 'kanban', 'workspaces'),
      HERMES_KANBAN_DB: path.join(kb.root, 'kanban.json'),
      HERMES_KANBAN_BOARD: 'default',
      HERMES_KANBAN_GOAL_MODE: '1',
      HERMES_KANBAN_GOAL_MAX_TURNS: '7',
      TERMINAL_CWD: workspace(goal),
      TERMINAL_TIMEOUT: '270',
      TERMINAL_MAX_FOREGROUND_TIMEOUT: '270',
      FAKE_MARK: 'copied',
    });
    expect(goalRecord?.env['HERMES_KANBAN_CLAIM_LOCK']).toMatch(new RegExp(`^${HOST}:\\d+$`));
    expect(plainRecord?.env['HERMES_KANBAN_GOAL_MODE']).toBeUndefined();
    expect(plainRecord?.env['TERMINAL_TIMEOUT']).toBeUndefined();

    // The fake workers heartbeat, comment and complete through the executable, then exit 0.
    for (const id of [goal, plain]) await until(async () => (await kb.task(id)).status === 'done', `${id} done`, 30_000);
    await kb.waitForExits(2);
    const after = await kb.exec(['dispatch', '--json']);
    expect(JSON.parse(after.stdout)).toMatchObject({ crashed: [], auto_blocked: [], spawned: [] });
    const show = await kb.show(goal);
    expect(show.comments).toEqual([expect.objectContaining({ author: 'tsworker', body: 'progress from the fake worker' })]);
    expect(show.runs).toMatchObject([{ id: 1, outcome: 'completed', summary: 'fake worker finished', worker_pid: goalRecord?.pid }]);
    expect(kinds(show)).not.toContain('protocol_violation');
    expect(kinds(show)).not.toContain('crashed');
    expect(await readFile(path.join(kb.root, 'kanban', 'logs', `${goal}.log`), 'utf8')).toContain(`Completed ${goal}`);
  });

  it('classifies reaped exits: rc 0 while running → protocol_violation + gave_up, 75 → rate_limited, 3 → crashed; the breaker blocks', async () => {
    const kb = await Kanban.create({ HERMES_KANBAN_CRASH_GRACE_SECONDS: '0' });
    await kb.installFakeWorker();
    await kb.profile('exit0', 'exit75', 'exit3');
    const violator = await kb.create('violator', '--assignee', 'exit0');
    const limited = await kb.create('limited', '--assignee', 'exit75');
    const crasher = await kb.create('crasher', '--assignee', 'exit3');

    expect(JSON.parse((await kb.exec(['dispatch', '--json'])).stdout).spawned).toHaveLength(3);
    await kb.waitForExits(3);
    const second = JSON.parse((await kb.exec(['dispatch', '--json'])).stdout) as {
      crashed: string[]; auto_blocked: string[]; promoted: number; spawned: { task_id: string }[];
    };
    expect(second.crashed.sort()).toEqual([violator, crasher].sort());
    expect(second.auto_blocked).toEqual([violator]); // failure limit forced to 1 for a protocol violation
    expect(second.promoted).toBe(1); // a gave_up block is not sticky: respawned once
    expect(second.spawned.map((s) => s.task_id).sort()).toEqual([violator, crasher].sort());

    const v = await kb.show(violator);
    expect(kinds(v).slice(kinds(v).indexOf('protocol_violation'))).toEqual(['protocol_violation', 'gave_up', 'promoted', 'claimed', 'spawned']);
    expect(v.runs[0]).toMatchObject({ outcome: 'crashed' });
    expect(v.runs[0]?.error).toContain('protocol violation');
    const l = await kb.show(limited);
    expect(l.task.status).toBe('ready');
    expect(l.runs[0]).toMatchObject({ outcome: 'rate_limited' });
    expect(l.events.filter((e) => e.kind === 'respawn_guarded').map((e) => e.payload?.['reason'])).toEqual(['rate_limit_cooldown']);
    expect((await kb.task(limited)).consecutive_failures).toBe(0);
    const c = await kb.show(crasher);
    expect(c.events.find((e) => e.kind === 'crashed')?.payload).toMatchObject({ exit_kind: 'nonzero_exit', exit_code: 3 });
    expect(c.runs[0]?.error).toBe(`pid ${c.runs[0]?.worker_pid} exited with code 3`);

    await kb.waitForExits(5);
    const third = JSON.parse((await kb.exec(['dispatch', '--json'])).stdout) as { crashed: string[]; auto_blocked: string[]; spawned: unknown[] };
    expect(third.auto_blocked.sort()).toEqual([violator, crasher].sort());
    expect(third.spawned).toEqual([]); // limited is still in its 300 s cooldown
    for (const id of [violator, crasher]) expect((await kb.show(id)).task.status).toBe('blocked');
    expect(kinds(await kb.show(violator)).filter((k) => k === 'protocol_violation')).toHaveLength(2);
    expect(kinds(await kb.show(crasher)).filter((k) => k === 'gave_up')).toHaveLength(1);
  });

  it('concurrent writers (CLI processes and in-process calls) lose no comment', async () => {
    const kb = await Kanban.create();
    const id = await kb.create('busy card');
    const cli = Array.from({ length: 8 }, (_, i) => kb.exec(['comment', id, `cli ${i}`]));
    const inProcess = Array.from({ length: 24 }, (_, i) => kb.run(['comment', id, `local ${i}`]));
    const results = await Promise.all([...cli, ...inProcess]);
    expect(results.every((r) => r.exitCode === 0)).toBe(true);
    const show = await kb.show(id);
    expect(show.comments.map((c) => c.body).sort()).toEqual(
      [...Array.from({ length: 8 }, (_, i) => `cli ${i}`), ...Array.from({ length: 24 }, (_, i) => `local ${i}`)].sort(),
    );
    expect(kinds(show).filter((k) => k === 'commented')).toHaveLength(32);
  });
});

describe('hermes kanban stand-in, supervision of a live worker', () => {
  it('extends the expired claim of a live worker, SIGTERMs it on a stale heartbeat, and enforces max runtime', async () => {
    const kb = await Kanban.create();
    await kb.installFakeWorker();
    await kb.profile('sleeper');
    const id = await kb.create('long job', '--assignee', 'sleeper', '--max-runtime', '2h', '--max-retries', '1');
    expect((await kb.at(T0, ['dispatch'])).stdout).toContain(`  - ${id}  ->  sleeper  @ ${path.join(kb.root, 'kanban', 'workspaces', id)}`);
    const first = (await kb.task(id)).worker_pid ?? 0;
    expect(alive(first)).toBe(true);
    await kb.at(T0 + 10, ['heartbeat', id]);

    // Claim expired at T0+900, but the worker is alive and heartbeated 990 s ago: extended.
    await kb.at(T0 + 1000, ['dispatch', '--json']);
    expect(await kb.task(id)).toMatchObject({ status: 'running', claim_expires: T0 + 1900, worker_pid: first });
    expect((await kb.show(id)).events.find((e) => e.kind === 'claim_extended')?.payload).toMatchObject({ reason: 'pid_alive', worker_pid: first });

    // Expired again and the last heartbeat is over 1 h old: SIGTERM, reclaimed (then respawned).
    const stale = JSON.parse((await kb.at(T0 + 3700, ['dispatch', '--json'])).stdout) as { reclaimed: number; spawned: unknown[] };
    expect(stale).toMatchObject({ reclaimed: 1, spawned: [expect.objectContaining({ task_id: id })] });
    expect(alive(first)).toBe(false);
    const reclaimed = (await kb.show(id)).events.find((e) => e.kind === 'reclaimed');
    expect(reclaimed?.payload).toMatchObject({ worker_pid: first, heartbeat_stale: true, terminated: true, signal: 'SIGTERM' });
    const second = (await kb.task(id)).worker_pid ?? 0;
    expect(second).not.toBe(first);

    // Run 2 started at T0+3700 with a 2 h cap: timed out, SIGTERMed, and max-retries 1 trips the breaker.
    await kb.at(T0 + 3700 + 7100, ['heartbeat', id]);
    const timedOut = JSON.parse((await kb.at(T0 + 3700 + 7200, ['dispatch', '--json'])).stdout) as Record<string, unknown>;
    expect(timedOut).toMatchObject({ reclaimed: 0, timed_out: [id], auto_blocked: [id], spawned: [] });
    expect(alive(second)).toBe(false);
    const show = await kb.show(id);
    expect(show.task.status).toBe('blocked');
    expect(show.runs.map((r) => r.outcome)).toEqual(['reclaimed', 'timed_out']);
    expect(kinds(show).slice(-2)).toEqual(['timed_out', 'gave_up']);
  });
});
