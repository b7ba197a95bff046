import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { HermesEnv } from './api.js';
import type { BoardData, RunRow, TaskRow } from './board.js';
import { BLOCK_RECURRENCE_LIMIT, DEFAULT_CLAIM_TTL_SECONDS } from './constants.js';
import { Ctx, kanbanError } from './context.js';
import type { BoardPaths } from './paths.js';

/**
 * The kernel (the reference's account of `kanban_db.py`): tasks and their links, runs, comments and events, claims,
 * blocks, completion and the failure circuit breaker. Everything here mutates a board inside one `Store.update`.
 */

export function getTask(board: BoardData, id: string): TaskRow | undefined {
  return board.tasks.find((t) => t.id === id);
}

export function requireTask(board: BoardData, id: string): TaskRow {
  const task = getTask(board, id);
  if (!task) throw kanbanError(`unknown task ${id}`);
  return task;
}

export function appendEvent(
  board: BoardData,
  taskId: string,
  kind: string,
  payload: Record<string, unknown> | null,
  runId: number | null,
  now: number,
): void {
  board.events.push({ id: board.next_ids.event++, task_id: taskId, run_id: runId, kind, payload, created_at: now });
}

export function addComment(board: BoardData, taskId: string, author: string, body: string, now: number): void {
  requireTask(board, taskId);
  board.comments.push({ id: board.next_ids.comment++, task_id: taskId, author, body, created_at: now });
  appendEvent(board, taskId, 'commented', { author, len: body.length }, null, now);
}

export function currentRun(board: BoardData, task: TaskRow): RunRow | undefined {
  if (task.current_run_id === null) return undefined;
  return board.runs.find((r) => r.id === task.current_run_id);
}

export function clearClaim(task: TaskRow): void {
  task.claim_lock = null;
  task.claim_expires = null;
  task.worker_pid = null;
  task.supervisor_pid = null;
}

/** `_end_run`: closes the active run and detaches it from the task; returns its id. */
export function endRun(
  board: BoardData,
  task: TaskRow,
  now: number,
  fields: { outcome: string; status?: string; summary?: string | null; error?: string | null; metadata?: Record<string, unknown> | null },
): number | null {
  const run = currentRun(board, task);
  task.current_run_id = null;
  if (!run) return null;
  run.status = fields.status ?? fields.outcome;
  run.outcome = fields.outcome;
  run.ended_at = now;
  if (fields.summary !== undefined) run.summary = fields.summary;
  if (fields.error !== undefined) run.error = fields.error;
  if (fields.metadata !== undefined) run.metadata = fields.metadata;
  return run.id;
}

function openRun(board: BoardData, task: TaskRow, lock: string, expires: number, now: number): RunRow {
  const run: RunRow = {
    id: board.next_ids.run++,
    task_id: task.id,
    profile: task.assignee,
    step_key: task.current_step_key,
    status: 'running',
    claim_lock: lock,
    claim_expires: expires,
    worker_pid: null,
    max_runtime_seconds: task.max_runtime_seconds,
    last_heartbeat_at: null,
    started_at: now,
    ended_at: null,
    outcome: null,
    summary: null,
    metadata: null,
    error: null,
  };
  board.runs.push(run);
  task.current_run_id = run.id;
  return run;
}

export function parentIds(board: BoardData, id: string): string[] {
  return board.links.filter((l) => l.child_id === id).map((l) => l.parent_id);
}

export function childIds(board: BoardData, id: string): string[] {
  return board.links.filter((l) => l.parent_id === id).map((l) => l.child_id);
}

export function parentsSatisfied(board: BoardData, id: string): boolean {
  return parentIds(board, id).every((pid) => {
    const parent = getTask(board, pid);
    return !parent || parent.status === 'done' || parent.status === 'archived';
  });
}

/** `claim_task`: `ready -> running` with a new run and a `claimed` event; null when not claimable. */
export function claimTask(board: BoardData, task: TaskRow, lock: string, ttl: number, now: number): RunRow | null {
  if (task.status !== 'ready' || task.claim_lock !== null) return null;
  if (!parentsSatisfied(board, task.id)) {
    task.status = 'todo';
    appendEvent(board, task.id, 'claim_rejected', { reason: 'parents_not_done' }, null, now);
    return null;
  }
  const expires = now + ttl;
  task.status = 'running';
  task.claim_lock = lock;
  task.claim_expires = expires;
  task.started_at ??= now;
  task.worker_pid = null;
  task.supervisor_pid = null;
  // last_heartbeat_at is deliberately NOT reset (issue #119155; 'The dispatcher').
  const run = openRun(board, task, lock, expires, now);
  appendEvent(board, task.id, 'claimed', { lock, expires, run_id: run.id }, run.id, now);
  return run;
}

export function runGuardOk(task: TaskRow, expectedRunId: number | null): boolean {
  return expectedRunId === null || task.current_run_id === expectedRunId;
}

/** `_worker_run_id_for` ('The dispatcher', run-id guard): the run id a dispatched worker's CLI call is fenced to. */
export function workerRunIdFor(env: HermesEnv, taskId: string): number | null {
  if (env['HERMES_KANBAN_TASK'] !== taskId) return null;
  const raw = env['HERMES_KANBAN_RUN_ID'];
  if (!raw || !/^\s*[-+]?\d+\s*$/.test(raw)) return null;
  return Number.parseInt(raw, 10);
}

/** `block_task` ('Ending a run'): typed kinds, the dependency route and the unblock-loop breaker. */
export function blockTask(board: BoardData, task: TaskRow, reason: string | null, kind: string | null, expectedRunId: number | null, now: number): boolean {
  if (task.status !== 'running' && task.status !== 'ready') return false;
  if (!runGuardOk(task, expectedRunId)) return false;
  const sourceStatus = task.status;
  clearClaim(task);
  if (kind === 'dependency') {
    task.status = 'todo';
    task.block_kind = 'dependency';
    const runId = endRun(board, task, now, { outcome: 'blocked', summary: reason });
    appendEvent(board, task.id, 'dependency_wait', { reason, kind }, runId, now);
    return true;
  }
  const recurrences = task.block_kind === kind ? task.block_recurrences + 1 : 1;
  task.block_kind = kind;
  task.block_recurrences = recurrences;
  const runId = endRun(board, task, now, { outcome: 'blocked', summary: reason });
  appendEvent(board, task.id, 'blocked', { reason, kind, recurrences }, runId, now);
  if (recurrences >= BLOCK_RECURRENCE_LIMIT) {
    task.status = 'triage';
    appendEvent(
      board,
      task.id,
      'block_loop_detected',
      { reason, kind, recurrences, limit: BLOCK_RECURRENCE_LIMIT, source_status: sourceStatus },
      runId,
      now,
    );
  } else {
    task.status = 'blocked';
  }
  return true;
}

export function scheduleTask(board: BoardData, task: TaskRow, reason: string | null, expectedRunId: number | null, now: number): boolean {
  if (task.status !== 'running' && task.status !== 'ready') return false;
  if (!runGuardOk(task, expectedRunId)) return false;
  clearClaim(task);
  task.status = 'scheduled';
  const runId = endRun(board, task, now, { outcome: 'scheduled', summary: reason });
  appendEvent(board, task.id, 'scheduled', { reason }, runId, now);
  return true;
}

export function unblockTask(board: BoardData, task: TaskRow, now: number): boolean {
  if (task.status !== 'blocked' && task.status !== 'scheduled') return false;
  clearClaim(task);
  task.status = parentsSatisfied(board, task.id) ? 'ready' : 'todo';
  task.consecutive_failures = 0;
  appendEvent(board, task.id, 'unblocked', task.status === 'ready' ? null : { status: task.status }, null, now);
  return true;
}

function firstLine(text: string | null | undefined, limit: number): string | null {
  if (!text) return null;
  return (text.split('\n')[0] ?? '').slice(0, limit);
}

export async function completeTask(
  bp: BoardPaths,
  board: BoardData,
  task: TaskRow,
  fields: { result: string | null; summary: string | null; metadata: Record<string, unknown> | null },
  expectedRunId: number | null,
  now: number,
): Promise<boolean> {
  if (!['running', 'ready', 'blocked'].includes(task.status)) return false;
  if (!runGuardOk(task, expectedRunId)) return false;
  const handoff = fields.summary ?? fields.result;
  let runId: number | null = null;
  if (task.current_run_id !== null) {
    runId = endRun(board, task, now, { outcome: 'completed', status: 'done', summary: handoff, metadata: fields.metadata });
  } else if (handoff !== null || fields.metadata !== null) {
    // `_synthesize_ended_run`: keep the handoff even without an active run.
    const run = openRun(board, task, task.claim_lock ?? '', now, now);
    runId = endRun(board, task, now, { outcome: 'completed', status: 'done', summary: handoff, metadata: fields.metadata });
    run.claim_lock = null;
    run.claim_expires = null;
  }
  clearClaim(task);
  task.status = 'done';
  task.completed_at = now;
  if (fields.result !== null) task.result = fields.result;
  task.consecutive_failures = 0;
  task.block_kind = null;
  task.block_recurrences = 0;
  task.last_failure_error = null;
  const summary = firstLine(handoff, 400);
  appendEvent(board, task.id, 'completed', summary === null ? null : { summary }, runId, now);
  if (task.workspace_kind === 'scratch') {
    const scratch = path.join(bp.workspacesRoot, task.id);
    if (scratch.startsWith(bp.workspacesRoot + path.sep)) await rm(scratch, { recursive: true, force: true });
  }
  return true;
}

/** `_record_task_failure`: the circuit breaker. True when it tripped (task blocked, `gave_up`). */
export function recordFailure(
  board: BoardData,
  task: TaskRow,
  error: string,
  limit: number,
  runId: number | null,
  now: number,
  extra: Record<string, unknown> = {},
): boolean {
  task.consecutive_failures += 1;
  task.last_failure_error = error.slice(0, 500);
  if (task.consecutive_failures < limit) return false;
  if (task.status === 'ready' || task.status === 'running') {
    clearClaim(task);
    task.status = 'blocked';
  }
  appendEvent(
    board,
    task.id,
    'gave_up',
    { failures: task.consecutive_failures, limit, error: error.slice(0, 500), ...extra },
    runId,
    now,
  );
  return true;
}

/** `_has_sticky_block`: the newest blocked/unblocked event is an explicit block. */
function hasStickyBlock(board: BoardData, id: string): boolean {
  for (let i = board.events.length - 1; i >= 0; i -= 1) {
    const event = board.events[i];
    if (!event || event.task_id !== id) continue;
    if (event.kind === 'blocked') return true;
    if (event.kind === 'unblocked') return false;
  }
  return false;
}

/** `recompute_ready`: todo/non-sticky blocked whose parents are done -> ready. */
export function recomputeReady(board: BoardData, failureLimit: number, now: number): number {
  let promoted = 0;
  for (const task of board.tasks) {
    if (task.status !== 'todo' && task.status !== 'blocked') continue;
    if (task.status === 'blocked' && hasStickyBlock(board, task.id)) continue;
    if (!parentsSatisfied(board, task.id)) continue;
    if (task.status === 'blocked') {
      const limit = task.max_retries ?? failureLimit;
      if (task.consecutive_failures >= limit) continue;
    }
    task.status = 'ready';
    appendEvent(board, task.id, 'promoted', null, null, now);
    promoted += 1;
  }
  return promoted;
}

export function sortedForDispatch(tasks: TaskRow[]): TaskRow[] {
  return [...tasks].sort((a, b) => b.priority - a.priority || a.created_at - b.created_at);
}

export function claimTtl(ctx: Ctx, explicit: number | null = null): number {
  if (explicit !== null) return explicit;
  return Math.trunc(ctx.envNumber('HERMES_KANBAN_CLAIM_TTL_SECONDS', DEFAULT_CLAIM_TTL_SECONDS));
}

function scratchPath(bp: BoardPaths, task: TaskRow): string {
  return path.join(bp.workspacesRoot, task.id);
}

export function workspaceFor(bp: BoardPaths, task: TaskRow): string {
  if (task.workspace_kind === 'dir' && task.workspace_path) return task.workspace_path;
  if (task.workspace_kind === 'worktree') return task.workspace_path ?? path.join(bp.boardDir, 'worktrees', task.id);
  return scratchPath(bp, task);
}

/** `resolve_workspace` + `set_workspace_path` (worktrees are plain directories here). */
export async function resolveWorkspace(bp: BoardPaths, task: TaskRow): Promise<string> {
  const dir = workspaceFor(bp, task);
  await mkdir(dir, { recursive: true });
  task.workspace_path = dir;
  return dir;
}
