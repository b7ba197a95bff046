import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { waitFor } from '../../../src/util/wait.js';
import { type BoardData, flockBin, Store, type TaskRow, type WorkerExit } from './board.js';
import { ACTIVE_PR_GUARD_SECONDS, CLAIM_HEARTBEAT_MAX_STALE_SECONDS, DEFAULT_CRASH_GRACE_SECONDS, DEFAULT_RATE_LIMIT_COOLDOWN_SECONDS, PROTOCOL_VIOLATION_ERROR, PROTOCOL_VIOLATION_FAILURE_LIMIT, RATE_LIMIT_EXIT_CODE, RECENT_COMPLETION_GUARD_SECONDS } from './constants.js';
import { Ctx } from './context.js';
import { appendEvent, claimTask, claimTtl, clearClaim, currentRun, endRun, recomputeReady, recordFailure, resolveWorkspace, sortedForDispatch, workspaceFor } from './kernel.js';
import { type BoardPaths, claimerId, hostPrefix, lockSettings, profileExists } from './paths.js';
import { findExit, pidAlive, type SpawnSpec, startWorker, terminateWorker, workerArgv, workerEnv } from './processes.js';

/** The dispatcher tick ('The dispatcher'): stale claims, crashed workers, max runtime, promotion, then spawning. */

export interface TickResult {
  reclaimed: number;
  crashed: string[];
  timed_out: string[];
  stale: string[];
  auto_blocked: string[];
  promoted: number;
  spawned: [string, string, string | null][];
  skipped_unassigned: string[];
  skipped_nonspawnable: string[];
  skipped_per_profile_capped: [string, string, number][];
  auto_assigned_default: string[];
}

export interface TickOptions {
  dryRun: boolean;
  max: number | null;
  failureLimit: number;
}

/** Gives supervisors that are about to record an exit a moment, so a reaped exit is never "unknown". */
async function waitForReapers(store: Store): Promise<void> {
  await waitFor(async () => {
    const board = await store.read();
    return !board.tasks.some(
      (t) =>
        t.status === 'running' &&
        t.worker_pid !== null &&
        !pidAlive(t.worker_pid) &&
        !findExit(board, t) &&
        pidAlive(t.supervisor_pid),
    );
  }, 5000);
}

export async function dispatchOnce(ctx: Ctx, bp: BoardPaths, store: Store, options: TickOptions): Promise<TickResult> {
  await waitForReapers(store);
  return store.update(async (board) => {
    const now = ctx.now();
    const res: TickResult = {
      reclaimed: 0,
      crashed: [],
      timed_out: [],
      stale: [],
      auto_blocked: [],
      promoted: 0,
      spawned: [],
      skipped_unassigned: [],
      skipped_nonspawnable: [],
      skipped_per_profile_capped: [],
      auto_assigned_default: [],
    };
    // 1. reap zombies: the supervisors reap. 2. release_stale_claims
    await releaseStaleClaims(ctx, board, res, now);
    // 3. detect_stale_running: disabled for the one-shot CLI and `daemon` (timeout 0; 'The dispatcher').
    // 4. detect_crashed_workers
    detectCrashedWorkers(ctx, board, res, now, options.failureLimit);
    // 5. enforce_max_runtime
    await enforceMaxRuntime(board, res, now, options.failureLimit);
    // 6. recompute_ready
    res.promoted = recomputeReady(board, options.failureLimit, now);
    // 7. spawn
    await spawnReady(ctx, bp, board, res, now, options);
    return res;
  });
}

async function releaseStaleClaims(ctx: Ctx, board: BoardData, res: TickResult, now: number): Promise<void> {
  for (const task of board.tasks) {
    if (task.status !== 'running' || task.claim_expires === null || task.claim_expires >= now) continue;
    const lock = task.claim_lock;
    const hostLocal = (lock ?? '').startsWith(hostPrefix());
    const heartbeat = task.last_heartbeat_at;
    const heartbeatStale = heartbeat !== null && now - heartbeat > CLAIM_HEARTBEAT_MAX_STALE_SECONDS;
    const run = currentRun(board, task);
    if (hostLocal && task.worker_pid && pidAlive(task.worker_pid) && !heartbeatStale) {
      const was = task.claim_expires;
      task.claim_expires = now + claimTtl(ctx);
      if (run) run.claim_expires = task.claim_expires;
      appendEvent(
        board,
        task.id,
        'claim_extended',
        {
          reason: 'pid_alive',
          worker_pid: task.worker_pid,
          claim_lock: lock,
          claim_expires_was: was,
          claim_expires_now: task.claim_expires,
          last_heartbeat_at: heartbeat,
        },
        run?.id ?? null,
        now,
      );
      continue;
    }
    const pid = task.worker_pid;
    const claimExpires = task.claim_expires;
    const termination = hostLocal && pid ? await terminateWorker(pid) : {};
    task.status = 'ready';
    clearClaim(task);
    const runId = endRun(board, task, now, {
      outcome: 'reclaimed',
      error: `stale_lock=${lock}`,
      metadata: Object.keys(termination).length > 0 ? termination : null,
    });
    appendEvent(
      board,
      task.id,
      'reclaimed',
      {
        stale_lock: lock,
        worker_pid: pid,
        claim_expires: claimExpires,
        last_heartbeat_at: heartbeat,
        now,
        host_local: hostLocal,
        heartbeat_stale: heartbeatStale,
        ...termination,
      },
      runId,
      now,
    );
    res.reclaimed += 1;
  }
}

interface DeadWorker {
  eventKind: 'protocol_violation' | 'rate_limited' | 'crashed';
  error: string;
  payload: Record<string, unknown>;
}

function classifyDeadWorker(pid: number, claimer: string | null, exit: WorkerExit | undefined): DeadWorker {
  if (exit && exit.exit_code === 0) {
    return {
      eventKind: 'protocol_violation',
      error: PROTOCOL_VIOLATION_ERROR,
      payload: { pid, claimer, exit_code: 0, protocol_violation: true },
    };
  }
  if (exit && exit.exit_code === RATE_LIMIT_EXIT_CODE) {
    return {
      eventKind: 'rate_limited',
      error: `pid ${pid} exited rate-limited (quota wall) — requeued without counting a failure`,
      payload: { pid, claimer, exit_code: RATE_LIMIT_EXIT_CODE },
    };
  }
  if (exit && exit.exit_code !== null) {
    return {
      eventKind: 'crashed',
      error: `pid ${pid} exited with code ${exit.exit_code}`,
      payload: { pid, claimer, exit_kind: 'nonzero_exit', exit_code: exit.exit_code },
    };
  }
  if (exit && exit.signal) {
    const signum = os.constants.signals[exit.signal as keyof typeof os.constants.signals] ?? null;
    return {
      eventKind: 'crashed',
      error: `pid ${pid} killed by signal ${signum ?? exit.signal}`,
      payload: { pid, claimer, exit_kind: 'signaled', exit_code: signum },
    };
  }
  return { eventKind: 'crashed', error: `pid ${pid} not alive`, payload: { pid, claimer } };
}

function detectCrashedWorkers(ctx: Ctx, board: BoardData, res: TickResult, now: number, failureLimit: number): void {
  const grace = ctx.envNumber('HERMES_KANBAN_CRASH_GRACE_SECONDS', DEFAULT_CRASH_GRACE_SECONDS);
  for (const task of board.tasks) {
    if (task.status !== 'running' || !task.worker_pid) continue;
    if (!(task.claim_lock ?? '').startsWith(hostPrefix())) continue;
    if (task.started_at !== null && now - task.started_at < grace) continue;
    if (pidAlive(task.worker_pid)) continue;
    const exit = findExit(board, task);
    if (!exit && pidAlive(task.supervisor_pid)) continue; // still being reaped; the next tick sees it
    const pid = task.worker_pid;
    const dead = classifyDeadWorker(pid, task.claim_lock, exit);
    task.status = 'ready';
    clearClaim(task);
    const outcome = dead.eventKind === 'rate_limited' ? 'rate_limited' : 'crashed';
    const runId = endRun(board, task, now, { outcome, error: dead.error, metadata: { ...dead.payload } });
    appendEvent(board, task.id, dead.eventKind, dead.payload, runId, now);
    if (dead.eventKind === 'rate_limited') continue; // not a failure; the respawn guard defers it
    res.crashed.push(task.id);
    const limit =
      task.max_retries ?? (dead.eventKind === 'protocol_violation' ? PROTOCOL_VIOLATION_FAILURE_LIMIT : failureLimit);
    if (recordFailure(board, task, dead.error, limit, runId, now, { pid, outcome })) res.auto_blocked.push(task.id);
  }
}

async function enforceMaxRuntime(board: BoardData, res: TickResult, now: number, failureLimit: number): Promise<void> {
  for (const task of board.tasks) {
    if (task.status !== 'running' || !task.worker_pid || !task.max_runtime_seconds) continue;
    if (!(task.claim_lock ?? '').startsWith(hostPrefix())) continue;
    const run = currentRun(board, task);
    const started = run?.started_at ?? task.started_at ?? now;
    const elapsed = now - started;
    if (elapsed < task.max_runtime_seconds) continue;
    const pid = task.worker_pid;
    const termination = await terminateWorker(pid);
    task.status = 'ready';
    clearClaim(task);
    const error = `elapsed ${elapsed}s exceeded max_runtime ${task.max_runtime_seconds}s`;
    const runId = endRun(board, task, now, { outcome: 'timed_out', error, metadata: termination });
    appendEvent(
      board,
      task.id,
      'timed_out',
      { pid, elapsed_seconds: elapsed, max_runtime_seconds: task.max_runtime_seconds, ...termination },
      runId,
      now,
    );
    res.timed_out.push(task.id);
    const limit = task.max_retries ?? failureLimit;
    if (recordFailure(board, task, error, limit, runId, now, { pid, outcome: 'timed_out' })) res.auto_blocked.push(task.id);
  }
}

const PR_URL = /https?:\/\/github\.com\/[^/\s]+\/[^/\s]+\/pull\/\d+/;

/** `check_respawn_guard` ('The dispatcher', respawn guard), minus the quota/auth regex on last_failure_error. */
function respawnGuard(ctx: Ctx, board: BoardData, task: TaskRow, now: number): Record<string, unknown> | null {
  const runs = board.runs.filter((r) => r.task_id === task.id);
  const last = runs[runs.length - 1];
  const cooldown = ctx.envNumber('HERMES_KANBAN_RATE_LIMIT_COOLDOWN_SECONDS', DEFAULT_RATE_LIMIT_COOLDOWN_SECONDS);
  if (last?.outcome === 'rate_limited' && last.ended_at !== null && now - last.ended_at < cooldown) {
    return { reason: 'rate_limit_cooldown', retry_after_seconds: last.ended_at + cooldown - now };
  }
  const completed = runs.filter((r) => r.outcome === 'completed' && r.ended_at !== null && now - r.ended_at < RECENT_COMPLETION_GUARD_SECONDS);
  const recent = completed[completed.length - 1];
  if (recent) return { reason: 'recent_completion', run_id: recent.id };
  for (const comment of board.comments) {
    if (comment.task_id !== task.id || now - comment.created_at > ACTIVE_PR_GUARD_SECONDS) continue;
    const match = PR_URL.exec(comment.body);
    if (match) return { reason: 'active_pr', url: match[0] };
  }
  return null;
}

async function spawnReady(ctx: Ctx, bp: BoardPaths, board: BoardData, res: TickResult, now: number, options: TickOptions): Promise<void> {
  const ready = sortedForDispatch(board.tasks.filter((t) => t.status === 'ready'));
  for (const task of ready) {
    if (!task.assignee) {
      res.skipped_unassigned.push(task.id);
      continue;
    }
    if (!profileExists(bp.root, task.assignee)) {
      res.skipped_nonspawnable.push(task.id);
      continue;
    }
    if (options.max !== null && res.spawned.length >= options.max) break;
    const guard = respawnGuard(ctx, board, task, now);
    if (guard) {
      appendEvent(board, task.id, 'respawn_guarded', guard, null, now);
      continue;
    }
    if (options.dryRun) {
      res.spawned.push([task.id, task.assignee, workspaceFor(bp, task)]);
      continue;
    }
    const lock = claimerId();
    const run = claimTask(board, task, lock, claimTtl(ctx), now);
    if (!run) continue;
    const workspace = await resolveWorkspace(bp, task);
    await mkdir(bp.logsDir, { recursive: true });
    const spec: SpawnSpec = {
      argv: workerArgv(ctx, task),
      cwd: workspace,
      env: workerEnv(ctx, bp, task, run.id, lock, workspace),
      log: path.join(bp.logsDir, `${task.id}.log`),
      board_file: bp.file,
      task_id: task.id,
      run_id: run.id,
      lock_timeout_ms: lockSettings(ctx.env).timeoutMs,
      flock_bin: flockBin(ctx.env),
    };
    const started = await startWorker(spec);
    if ('error' in started) {
      task.status = 'ready';
      clearClaim(task);
      const runId = endRun(board, task, now, { outcome: 'spawn_failed', error: started.error });
      appendEvent(board, task.id, 'spawn_failed', { error: started.error }, runId, now);
      const limit = task.max_retries ?? options.failureLimit;
      if (recordFailure(board, task, started.error, limit, runId, now, { outcome: 'spawn_failed' })) res.auto_blocked.push(task.id);
      continue;
    }
    task.worker_pid = started.pid;
    task.supervisor_pid = started.supervisorPid;
    run.worker_pid = started.pid;
    appendEvent(board, task.id, 'spawned', { pid: started.pid }, run.id, now);
    res.spawned.push([task.id, task.assignee, workspace]);
  }
}
