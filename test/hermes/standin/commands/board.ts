import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Args, bool, list, num, str } from '../args.js';
import type { BoardData, CommentRow, RunRow, TaskRow } from '../board.js';
import { DEFAULT_FAILURE_LIMIT, NO_GATEWAY_WARNING, STATUS_ICONS, TOOLSET_NAMES } from '../constants.js';
import { CliExit, kanbanError } from '../context.js';
import { appendEvent, childIds, getTask, parentIds, recomputeReady } from '../kernel.js';
import { fmtTs, pyJson, pyRepr, runToRunsDict, runToShowDict, taskToDict } from '../output.js';
import { profileAuthor, profileExists, profileNames } from '../paths.js';
import type { Handler } from './call.js';

/** Verbs that create tasks and read the board: init, create, list, show, stats, log, runs, assignees. */

function parseDuration(raw: string | null): number | null {
  if (raw === null || raw === '') return null;
  const s = raw.trim().toLowerCase();
  if (/^[-+]?\d+$/.test(s)) return Number.parseInt(s, 10);
  const units: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
  const unit = units[s.slice(-1)];
  if (s !== '' && unit !== undefined) {
    const n = Number(s.slice(0, -1));
    if (s.slice(0, -1).trim() === '' || !Number.isFinite(n)) throw new Error(`malformed duration ${pyRepr(raw)}`);
    return Math.trunc(n * unit);
  }
  throw new Error(`malformed duration ${pyRepr(raw)} (expected 30s, 5m, 2h, 1d, or a number)`);
}

function parseWorkspace(value: string | null): [string, string | null] {
  if (!value) return ['scratch', null];
  const v = value.trim();
  if (v === 'scratch' || v === 'worktree') return [v, null];
  for (const [prefix, kind] of [['dir:', 'dir'], ['worktree:', 'worktree']] as const) {
    if (!v.startsWith(prefix)) continue;
    const p = v.slice(prefix.length).trim();
    if (!p) throw kanbanError(`--workspace ${prefix} requires a path after the colon`, 2);
    return [kind, p.startsWith('~') ? path.join(os.homedir(), p.slice(1)) : p];
  }
  throw kanbanError(`unknown --workspace value ${pyRepr(value)}: use scratch, worktree, worktree:<path>, or dir:<path>`, 2);
}

export function parseMetadata(raw: string | null): Record<string, unknown> | null {
  if (!raw) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch (error) {
    throw kanbanError(`--metadata: ${(error as Error).message}`, 2);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw kanbanError('--metadata: must be a JSON object', 2);
  return value as Record<string, unknown>;
}

function newTaskId(board: BoardData): string {
  for (;;) {
    const id = `t_${randomBytes(4).toString('hex')}`;
    if (!getTask(board, id)) return id;
  }
}

function validateSkills(skills: string[]): string[] | null {
  if (skills.length === 0) return null;
  const out: string[] = [];
  for (const raw of skills) {
    const skill = raw.trim();
    if (!skill) throw kanbanError('skill names must be non-empty');
    if (skill.includes(',')) throw kanbanError(`skill name ${pyRepr(skill)} contains a comma; pass --skill once per skill`);
    if (TOOLSET_NAMES.has(skill)) {
      throw kanbanError(`${pyRepr(skill)} is a toolset, not a skill; configure toolsets on the profile instead`);
    }
    if (!out.includes(skill)) out.push(skill);
  }
  return out;
}

export const cmdInit: Handler = async ({ ctx, bp }) => {
  ctx.out(`Kanban DB initialized at ${bp.file}`);
  ctx.out();
  const profiles = profileNames(bp.root);
  if (profiles.length > 0) {
    ctx.out(`Discovered ${profiles.length} profile(s) on disk; any of these can be an --assignee:`);
    for (const name of profiles) ctx.out(`  ${name}`);
  } else {
    ctx.out('No profiles found under ~/.hermes/profiles/.');
    ctx.out('Create one with `hermes -p <name> setup` before assigning tasks.');
  }
  ctx.out();
  ctx.out('Next step: start the gateway so ready tasks actually get picked up.');
  ctx.out('  hermes gateway start');
  ctx.out();
  ctx.out(
    'The gateway hosts an embedded dispatcher that ticks every 60 seconds\n' +
      'by default (config: kanban.dispatch_interval_seconds). Without a\n' +
      "running gateway, tasks stay in 'ready' forever.",
  );
  return 0;
};

export const cmdCreate: Handler = async ({ ctx, store, args }) => {
  const [workspaceKind, workspacePath] = parseWorkspace(str(args, 'workspace'));
  const branch = str(args, 'branch');
  if (branch !== null) {
    const b = branch.trim();
    if (!b) throw kanbanError('--branch requires a non-empty name', 2);
    if (b.startsWith('-')) throw kanbanError("--branch must not start with '-'", 2);
    if (/\s/.test(b)) throw kanbanError('--branch must not contain whitespace', 2);
    if (workspaceKind !== 'worktree') throw kanbanError('--branch is only valid with --workspace worktree', 2);
  }
  let maxRuntime: number | null;
  try {
    maxRuntime = parseDuration(str(args, 'max_runtime'));
  } catch (error) {
    throw kanbanError(`--max-runtime: ${(error as Error).message}`, 2);
  }
  const maxRetries = num(args, 'max_retries');
  if (maxRetries !== null && maxRetries < 1) {
    throw kanbanError(`--max-retries must be >= 1 (got ${maxRetries}); use 1 to trip on the first failure.`, 2);
  }
  if (workspaceKind === 'dir' && workspacePath !== null && !path.isAbsolute(workspacePath)) {
    throw kanbanError(`dir workspace path must be absolute (got ${pyRepr(workspacePath)})`);
  }
  const skills = validateSkills(list(args, 'skills'));
  const parents = list(args, 'parent');
  const goalMode = bool(args, 'goal_mode');
  const json = bool(args, 'json');
  const task = await store.update((board) => {
    const now = ctx.now();
    const key = str(args, 'idempotency_key');
    if (key) {
      const existing = board.tasks.find((t) => t.idempotency_key === key && t.status !== 'archived');
      if (existing) return { ...existing };
    }
    for (const parent of parents) if (!getTask(board, parent)) throw kanbanError(`unknown parent task ${parent}`);
    let status: string;
    if (str(args, 'initial_status') === 'blocked') status = 'blocked';
    else if (bool(args, 'triage')) status = 'triage';
    else if (parents.some((p) => !['done', 'archived'].includes(getTask(board, p)?.status ?? ''))) status = 'todo';
    else status = 'ready';
    const id = newTaskId(board);
    const row: TaskRow = {
      id,
      title: str(args, 'title') ?? '',
      body: str(args, 'body'),
      assignee: str(args, 'assignee'),
      status,
      priority: num(args, 'priority') ?? 0,
      created_by: str(args, 'created_by') || profileAuthor(ctx.env),
      created_at: now,
      started_at: null,
      completed_at: null,
      workspace_kind: workspaceKind,
      workspace_path: workspacePath,
      branch_name: branch?.trim() ?? null,
      project_id: str(args, 'project'),
      claim_lock: null,
      claim_expires: null,
      tenant: str(args, 'tenant'),
      result: null,
      idempotency_key: key,
      consecutive_failures: 0,
      worker_pid: null,
      last_failure_error: null,
      max_runtime_seconds: maxRuntime,
      last_heartbeat_at: null,
      current_run_id: null,
      workflow_template_id: null,
      current_step_key: null,
      skills,
      model_override: null,
      max_retries: maxRetries,
      goal_mode: goalMode ? 1 : 0,
      goal_max_turns: num(args, 'goal_max_turns'),
      session_id: null,
      block_kind: null,
      block_recurrences: 0,
      supervisor_pid: null,
    };
    board.tasks.push(row);
    for (const parent of parents) {
      if (!board.links.some((l) => l.parent_id === parent && l.child_id === id)) board.links.push({ parent_id: parent, child_id: id });
    }
    const payload: Record<string, unknown> = { assignee: row.assignee, status, parents, tenant: row.tenant };
    if (goalMode) {
      payload['goal_mode'] = true;
      payload['goal_max_turns'] = row.goal_max_turns;
    }
    appendEvent(board, id, 'created', payload, null, now);
    if (status === 'blocked') appendEvent(board, id, 'blocked', { reason: null, kind: null, initial_status: true }, null, now);
    return { ...row };
  });
  if (json) {
    ctx.out(pyJson(taskToDict(task), false));
  } else {
    ctx.out(`Created ${task.id}  (${task.status}, assignee=${task.assignee || '-'})`);
    if (task.status === 'ready' && task.assignee) ctx.err(NO_GATEWAY_WARNING);
  }
  return 0;
};

function sortTasks(tasks: TaskRow[], order: string | null, board: BoardData): TaskRow[] {
  const copy = [...tasks];
  const byCreated = (a: TaskRow, b: TaskRow): number => a.created_at - b.created_at;
  const lastEvent = (t: TaskRow): number => {
    for (let i = board.events.length - 1; i >= 0; i -= 1) if (board.events[i]?.task_id === t.id) return board.events[i]?.id ?? 0;
    return 0;
  };
  switch (order) {
    case 'created':
      return copy.sort(byCreated);
    case 'created-desc':
      return copy.sort((a, b) => b.created_at - a.created_at);
    case 'status':
    case 'assignee':
    case 'title':
      return copy.sort((a, b) => String(a[order] ?? '').localeCompare(String(b[order] ?? '')) || byCreated(a, b));
    case 'updated':
      return copy.sort((a, b) => lastEvent(b) - lastEvent(a));
    case 'priority-desc':
    case 'priority':
    default:
      return copy.sort((a, b) => b.priority - a.priority || byCreated(a, b));
  }
}

export const cmdList: Handler = async ({ ctx, store, args }) => {
  let assignee = str(args, 'assignee');
  if (bool(args, 'mine') && !assignee) assignee = profileAuthor(ctx.env);
  const status = str(args, 'status');
  const tasks = await store.update((board) => {
    recomputeReady(board, DEFAULT_FAILURE_LIMIT, ctx.now());
    const filtered = board.tasks.filter(
      (t) =>
        (assignee === null || t.assignee === assignee) &&
        (status === null || t.status === status) &&
        (bool(args, 'archived') || status === 'archived' || t.status !== 'archived') &&
        (str(args, 'tenant') === null || t.tenant === str(args, 'tenant')) &&
        (str(args, 'session') === null || t.session_id === str(args, 'session')) &&
        (str(args, 'workflow_template_id') === null || t.workflow_template_id === str(args, 'workflow_template_id')) &&
        (str(args, 'current_step_key') === null || t.current_step_key === str(args, 'current_step_key')),
    );
    return sortTasks(filtered, str(args, 'sort'), board).map((t) => ({ ...t }));
  });
  if (bool(args, 'json')) {
    ctx.out(pyJson(tasks.map(taskToDict), false));
    return 0;
  }
  if (tasks.length === 0) {
    ctx.out('(no matching tasks)');
    return 0;
  }
  for (const t of tasks) {
    const tenant = t.tenant ? ` [${t.tenant}]` : '';
    ctx.out(`${STATUS_ICONS[t.status] ?? '?'} ${t.id}  ${t.status.padEnd(8)}  ${(t.assignee || '(unassigned)').padEnd(20)}${tenant}  ${t.title}`);
  }
  return 0;
};

function filterRuns(runs: RunRow[], args: Args, verb: string): RunRow[] {
  const stateType = str(args, 'state_type');
  const stateName = str(args, 'state_name');
  if ((stateType === null) !== (stateName === null)) {
    throw new CliExit(2, `kanban ${verb}: pass both --state-type and --state-name, or omit both`);
  }
  if (stateType === null) return runs;
  return runs.filter((r) => (stateType === 'status' ? r.status : r.outcome) === stateName);
}

function latestSummary(board: BoardData, id: string): string | null {
  const runs = board.runs.filter((r) => r.task_id === id && r.summary !== null);
  return runs[runs.length - 1]?.summary ?? null;
}

function commentsOf(board: BoardData, id: string): CommentRow[] {
  return board.comments.filter((c) => c.task_id === id).sort((a, b) => a.created_at - b.created_at || a.id - b.id);
}

export const cmdShow: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const board = await store.read();
  const runs = filterRuns(board.runs.filter((r) => r.task_id === id), args, 'show');
  const task = getTask(board, id);
  if (!task) throw new CliExit(1, `no such task: ${id}`);
  const comments = commentsOf(board, id);
  const events = board.events.filter((e) => e.task_id === id);
  const parents = parentIds(board, id);
  const children = childIds(board, id);
  const summary = latestSummary(board, id);
  if (bool(args, 'json')) {
    ctx.out(
      pyJson(
        {
          task: taskToDict(task),
          latest_summary: summary,
          parents,
          children,
          comments: comments.map((c) => ({ author: c.author, body: c.body, created_at: c.created_at })),
          events: events.map((e) => ({ kind: e.kind, payload: e.payload, created_at: e.created_at, run_id: e.run_id })),
          runs: runs.map(runToShowDict),
        },
        false,
      ),
    );
    return 0;
  }
  ctx.out(`Task ${task.id}: ${task.title}`);
  ctx.out(`  status:    ${task.status}`);
  ctx.out(`  assignee:  ${task.assignee || '-'}`);
  if (task.tenant) ctx.out(`  tenant:    ${task.tenant}`);
  ctx.out(`  workspace: ${task.workspace_kind}${task.workspace_path ? ` @ ${task.workspace_path}` : ''}`);
  if (task.branch_name) ctx.out(`  branch:    ${task.branch_name}`);
  if (task.skills?.length) ctx.out(`  skills:    ${task.skills.join(', ')}`);
  if (task.max_retries !== null) ctx.out(`  max-retries: ${task.max_retries} (task)`);
  else ctx.out(`  max-retries: ${DEFAULT_FAILURE_LIMIT} (default)`);
  ctx.out(`  created:   ${fmtTs(task.created_at)} by ${task.created_by || '-'}`);
  if (task.started_at) ctx.out(`  started:   ${fmtTs(task.started_at)}`);
  if (task.completed_at) ctx.out(`  completed: ${fmtTs(task.completed_at)}`);
  if (parents.length) ctx.out(`  parents:   ${parents.join(', ')}`);
  if (children.length) ctx.out(`  children:  ${children.join(', ')}`);
  if (task.body) {
    ctx.out();
    ctx.out('Body:');
    ctx.out(task.body);
  }
  if (task.result) {
    ctx.out();
    ctx.out('Result:');
    ctx.out(task.result);
  } else if (summary) {
    ctx.out();
    ctx.out('Latest summary:');
    ctx.out(summary);
  }
  if (comments.length) {
    ctx.out();
    ctx.out(`Comments (${comments.length}):`);
    for (const c of comments) ctx.out(`  [${fmtTs(c.created_at)}] ${c.author}: ${c.body}`);
  }
  if (events.length) {
    ctx.out();
    ctx.out(`Events (${events.length}):`);
    for (const e of events.slice(-20)) {
      const payload = e.payload && Object.keys(e.payload).length > 0 ? ` ${pyRepr(e.payload)}` : '';
      const runTag = e.run_id ? ` [run ${e.run_id}]` : '';
      ctx.out(`  [${fmtTs(e.created_at)}]${runTag} ${e.kind}${payload}`);
    }
  }
  if (runs.length) {
    ctx.out();
    ctx.out(`Runs (${runs.length}):`);
    for (const r of runs) {
      const elapsed = r.ended_at ? `${Math.max(0, r.ended_at - r.started_at)}s` : 'active';
      const outcome = r.outcome || r.status || 'active';
      ctx.out(`  #${String(r.id).padEnd(3)} ${outcome.padEnd(12)} @${r.profile || '-'}  ${elapsed}  ${fmtTs(r.started_at)}`);
      if (r.summary) ctx.out(`        → ${(r.summary.split('\n')[0] ?? '').slice(0, 160)}`);
      if (r.error) ctx.out(`        ! ${(r.error.split('\n')[0] ?? '').slice(0, 160)}`);
    }
  }
  return 0;
};

export const cmdStats: Handler = async ({ ctx, store, args }) => {
  const board = await store.read();
  const now = ctx.now();
  const byStatus: Record<string, number> = {};
  const byAssignee: Record<string, Record<string, number>> = {};
  let oldestReady: number | null = null;
  for (const t of board.tasks) {
    byStatus[t.status] = (byStatus[t.status] ?? 0) + 1;
    if (t.assignee) {
      const counts = (byAssignee[t.assignee] ??= {});
      counts[t.status] = (counts[t.status] ?? 0) + 1;
    }
    if (t.status === 'ready') oldestReady = Math.max(oldestReady ?? 0, now - t.created_at);
  }
  const stats = { by_status: byStatus, by_assignee: byAssignee, oldest_ready_age_seconds: oldestReady, now };
  if (bool(args, 'json')) {
    ctx.out(pyJson(stats, false));
    return 0;
  }
  ctx.out('By status:');
  for (const k of ['triage', 'todo', 'scheduled', 'ready', 'running', 'blocked', 'done']) ctx.out(`  ${k.padEnd(8)}  ${byStatus[k] ?? 0}`);
  const assignees = Object.keys(byAssignee).sort();
  if (assignees.length) {
    ctx.out('\nBy assignee:');
    for (const who of assignees) {
      const counts = byAssignee[who] ?? {};
      ctx.out(`  ${who.padEnd(20)}  ${Object.keys(counts).sort().map((k) => `${k}=${counts[k]}`).join(', ')}`);
    }
  }
  if (oldestReady !== null) ctx.out(`\nOldest ready task age: ${oldestReady}s`);
  return 0;
};

export const cmdLog: Handler = async ({ ctx, bp, args }) => {
  const id = str(args, 'task_id') ?? '';
  let content: string;
  try {
    content = await readFile(path.join(bp.logsDir, `${id}.log`), 'utf8');
  } catch {
    throw new CliExit(1, `(no log for ${id} — task may not have spawned yet)`);
  }
  const tail = num(args, 'tail');
  if (tail !== null && tail >= 0) content = Buffer.from(content, 'utf8').subarray(-tail).toString('utf8');
  ctx.out(content.endsWith('\n') ? content.slice(0, -1) : content);
  return 0;
};

export const cmdRuns: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const board = await store.read();
  const runs = filterRuns(board.runs.filter((r) => r.task_id === id), args, 'runs');
  if (bool(args, 'json')) {
    ctx.out(pyJson(runs.map(runToRunsDict), false));
    return 0;
  }
  if (runs.length === 0) {
    ctx.out(`(no runs yet for ${id})`);
    return 0;
  }
  ctx.out(`${'#'.padEnd(3)}  ${'OUTCOME'.padEnd(12)}  ${'PROFILE'.padEnd(16)}  ${'ELAPSED'.padStart(8)}  STARTED`);
  const now = ctx.now();
  runs.forEach((r, i) => {
    const elapsed = Math.max(0, (r.ended_at ?? now) - r.started_at);
    const el = elapsed < 60 ? `${elapsed}s` : elapsed < 3600 ? `${Math.floor(elapsed / 60)}m` : `${(elapsed / 3600).toFixed(1)}h`;
    const outcome = r.outcome || (!r.ended_at ? '(running)' : r.status);
    ctx.out(`${String(i + 1).padStart(3)}  ${outcome.padEnd(12)}  ${(r.profile || '-').padEnd(16)}  ${el.padStart(8)}  ${fmtTs(r.started_at)}`);
    if (r.summary) ctx.out(`     → ${(r.summary.split('\n')[0] ?? '').slice(0, 100)}`);
    if (r.error) ctx.out(`     ✖ ${r.error.slice(0, 100)}`);
  });
  return 0;
};

export const cmdAssignees: Handler = async ({ ctx, bp, store, args }) => {
  const board = await store.read();
  const names = new Set([...profileNames(bp.root), ...board.tasks.map((t) => t.assignee).filter((a): a is string => !!a)]);
  const data = [...names].sort().map((name) => {
    const counts: Record<string, number> = {};
    for (const t of board.tasks) if (t.assignee === name && t.status !== 'archived') counts[t.status] = (counts[t.status] ?? 0) + 1;
    return { name, on_disk: profileExists(bp.root, name), counts };
  });
  if (bool(args, 'json')) {
    ctx.out(pyJson(data, false));
    return 0;
  }
  if (data.length === 0) {
    ctx.out('(no assignees — create a profile with `hermes -p <name> setup`)');
    return 0;
  }
  ctx.out(`${'NAME'.padEnd(20)}  ${'ON DISK'.padEnd(8)}  COUNTS`);
  for (const entry of data) {
    const counts = Object.keys(entry.counts).sort().map((k) => `${k}=${entry.counts[k]}`).join(', ') || '(idle)';
    ctx.out(`${entry.name.padEnd(20)}  ${(entry.on_disk ? 'yes' : 'no').padEnd(8)}  ${counts}`);
  }
  return 0;
};
