import { bool, list, num, str } from '../args.js';
import type { BoardData } from '../board.js';
import { CliExit, kanbanError } from '../context.js';
import { addComment, appendEvent, blockTask, childIds, claimTask, claimTtl, clearClaim, completeTask, currentRun, endRun, getTask, parentsSatisfied, requireTask, resolveWorkspace, runGuardOk, scheduleTask, unblockTask, workerRunIdFor } from '../kernel.js';
import { pyJson } from '../output.js';
import { claimerId, profileAuthor } from '../paths.js';
import { terminateWorker } from '../processes.js';
import { parseMetadata } from './board.js';
import type { Handler } from './call.js';

/**
 * Verbs that move one task along: assignment, links, claims, comments, completion, block/schedule/unblock,
 * promotion, archiving and heartbeats.
 */

function profileArg(value: string): string | null {
  return ['none', '-', 'null'].includes(value.toLowerCase()) ? null : value;
}

export const cmdAssign: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const profile = profileArg(str(args, 'profile') ?? '');
  const ok = await store.update((board) => {
    const task = getTask(board, id);
    if (!task) return false;
    if (task.status === 'running') throw kanbanError(`cannot reassign ${id} while it is running; reclaim it first`);
    task.assignee = profile;
    appendEvent(board, id, 'assigned', { assignee: profile }, null, ctx.now());
    return true;
  });
  if (!ok) throw new CliExit(1, `no such task: ${id}`);
  ctx.out(`Assigned ${id} to ${profile || '(unassigned)'}`);
  return 0;
};

async function reclaimInBoard(board: BoardData, id: string, reason: string | null, now: number): Promise<boolean> {
  const task = getTask(board, id);
  if (!task) return false;
  if (task.status !== 'running' && task.claim_lock === null) return false;
  const prevLock = task.claim_lock;
  const termination = await terminateWorker(task.worker_pid);
  task.status = 'ready';
  clearClaim(task);
  const runId = endRun(board, task, now, {
    outcome: 'reclaimed',
    error: reason ? `manual_reclaim: ${reason}` : `manual_reclaim lock=${prevLock}`,
    metadata: termination,
  });
  appendEvent(board, id, 'reclaimed', { manual: true, reason, prev_lock: prevLock, ...termination }, runId, now);
  return true;
}

export const cmdReclaim: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const ok = await store.update((board) => reclaimInBoard(board, id, str(args, 'reason'), ctx.now()));
  if (!ok) throw new CliExit(1, `cannot reclaim ${id} (not running or unknown id)`);
  ctx.out(`Reclaimed ${id}`);
  return 0;
};

export const cmdReassign: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const profile = profileArg(str(args, 'profile') ?? '');
  const reclaim = bool(args, 'reclaim');
  const ok = await store.update(async (board) => {
    const now = ctx.now();
    if (reclaim) await reclaimInBoard(board, id, str(args, 'reason') ?? 'reassign', now);
    const task = getTask(board, id);
    if (!task || task.status === 'running') return false;
    task.assignee = profile;
    appendEvent(board, id, 'assigned', { assignee: profile }, null, now);
    return true;
  });
  if (!ok) throw new CliExit(1, `cannot reassign ${id} (unknown id, or still running — pass --reclaim to release first)`);
  ctx.out(`Reassigned ${id} to ${profile || '(unassigned)'}${reclaim ? ' (claim reclaimed)' : ''}`);
  return 0;
};

export const cmdLink: Handler = async ({ ctx, store, args }) => {
  const parent = str(args, 'parent_id') ?? '';
  const child = str(args, 'child_id') ?? '';
  await store.update((board) => {
    requireTask(board, parent);
    const childTask = requireTask(board, child);
    if (parent === child) throw kanbanError('a task cannot depend on itself');
    const reaches = (from: string, to: string, seen = new Set<string>()): boolean => {
      if (from === to) return true;
      if (seen.has(from)) return false;
      seen.add(from);
      return childIds(board, from).some((next) => reaches(next, to, seen));
    };
    if (reaches(child, parent)) throw kanbanError(`linking ${parent} -> ${child} would create a cycle`);
    if (!board.links.some((l) => l.parent_id === parent && l.child_id === child)) board.links.push({ parent_id: parent, child_id: child });
    const now = ctx.now();
    appendEvent(board, child, 'linked', { parent, child }, null, now);
    if (childTask.status === 'ready' && !parentsSatisfied(board, child)) childTask.status = 'todo';
  });
  ctx.out(`Linked ${parent} -> ${child}`);
  return 0;
};

export const cmdUnlink: Handler = async ({ ctx, store, args }) => {
  const parent = str(args, 'parent_id') ?? '';
  const child = str(args, 'child_id') ?? '';
  const ok = await store.update((board) => {
    const index = board.links.findIndex((l) => l.parent_id === parent && l.child_id === child);
    if (index < 0) return false;
    board.links.splice(index, 1);
    appendEvent(board, child, 'unlinked', { parent, child }, null, ctx.now());
    return true;
  });
  if (!ok) throw new CliExit(1, `No such link: ${parent} -> ${child}`);
  ctx.out(`Unlinked ${parent} -> ${child}`);
  return 0;
};

export const cmdClaim: Handler = async ({ ctx, bp, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const outcome = await store.update(async (board): Promise<{ workspace: string } | { error: string }> => {
    const task = getTask(board, id);
    if (!task) return { error: `no such task: ${id}` };
    const run = claimTask(board, task, claimerId(), claimTtl(ctx, num(args, 'ttl')), ctx.now());
    if (!run) return { error: `cannot claim ${id}: status=${task.status} lock=${task.claim_lock || '(none)'}` };
    return { workspace: await resolveWorkspace(bp, task) };
  });
  if ('error' in outcome) throw new CliExit(1, outcome.error);
  ctx.out(`Claimed ${id}`);
  ctx.out(`Workspace: ${outcome.workspace}`);
  return 0;
};

export const cmdComment: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  let body = list(args, 'text').join(' ').trim();
  const maxLen = num(args, 'max_len');
  if (maxLen !== null) {
    if (maxLen < 1) throw kanbanError('--max-len must be positive', 2);
    if (body.length > maxLen) {
      const suffix = `\n\n[trimmed to ${maxLen} chars by --max-len]`;
      body = body.slice(0, Math.max(0, maxLen - suffix.length)).trimEnd() + suffix;
    }
  }
  const author = str(args, 'author') || profileAuthor(ctx.env);
  await store.update((board) => addComment(board, id, author, body, ctx.now()));
  ctx.out(`Comment added to ${id}`);
  return 0;
};

export const cmdComplete: Handler = async ({ ctx, bp, store, args }) => {
  const ids = list(args, 'task_ids');
  const summary = str(args, 'summary');
  const rawMeta = str(args, 'metadata');
  if (ids.length > 1 && (summary || rawMeta)) {
    throw new CliExit(
      2,
      "kanban: --summary / --metadata are per-task and can't be used with multiple ids (would apply the same handoff " +
        'to every task). Complete tasks one at a time, or drop the flags for the bulk close.',
    );
  }
  const metadata = parseMetadata(rawMeta);
  let failed = 0;
  for (const id of ids) {
    const ok = await store.update((board) => {
      const task = getTask(board, id);
      if (!task) return false;
      return completeTask(bp, board, task, { result: str(args, 'result'), summary, metadata }, workerRunIdFor(ctx.env, id), ctx.now());
    });
    if (ok) ctx.out(`Completed ${id}`);
    else {
      failed += 1;
      ctx.err(`cannot complete ${id} (unknown id or terminal state)`);
    }
  }
  return failed === 0 ? 0 : 1;
};

export const cmdEdit: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const metadata = parseMetadata(str(args, 'metadata'));
  const ok = await store.update((board) => {
    const task = getTask(board, id);
    if (!task || task.status !== 'done') return false;
    const result = str(args, 'result');
    task.result = result;
    const completed = board.runs.filter((r) => r.task_id === id && r.outcome === 'completed');
    const last = completed[completed.length - 1];
    if (last) {
      last.summary = str(args, 'summary') ?? result;
      if (metadata !== null) last.metadata = metadata;
    }
    appendEvent(board, id, 'edited', { fields: ['result'] }, null, ctx.now());
    return true;
  });
  if (!ok) throw new CliExit(1, `cannot edit ${id} (unknown id or task is not done)`);
  ctx.out(`Edited ${id}`);
  return 0;
};

export const cmdBlock: Handler = async ({ ctx, store, args }) => {
  const words = list(args, 'reason');
  const reason = words.length > 0 ? words.join(' ').trim() : null;
  const kind = str(args, 'kind');
  const author = profileAuthor(ctx.env);
  const ids = [str(args, 'task_id') ?? '', ...list(args, 'ids')];
  let failed = 0;
  for (const id of ids) {
    // The BLOCKED echo is its own write, before (and whatever) the block itself does (kanban.py:1939-2018).
    if (reason) await store.update((board) => addComment(board, id, author, `BLOCKED: ${reason}`, ctx.now()));
    const landed = await store.update((board) => {
      const task = getTask(board, id);
      if (!task) return null;
      return blockTask(board, task, reason, kind, workerRunIdFor(ctx.env, id), ctx.now()) ? task.status : null;
    });
    const suffix = reason ? `: ${reason}` : '';
    if (landed === null) {
      failed += 1;
      ctx.err(`cannot block ${id}`);
    } else if (landed === 'todo') ctx.out(`${id} → todo (dependency wait)${suffix}`);
    else if (landed === 'triage') ctx.out(`${id} → triage (unblock loop detected — needs a human decision)${suffix}`);
    else ctx.out(`Blocked ${id}${suffix}`);
  }
  return failed === 0 ? 0 : 1;
};

export const cmdSchedule: Handler = async ({ ctx, store, args }) => {
  const words = list(args, 'reason');
  const reason = words.length > 0 ? words.join(' ').trim() : null;
  const author = profileAuthor(ctx.env);
  const ids = [str(args, 'task_id') ?? '', ...list(args, 'ids')];
  let failed = 0;
  for (const id of ids) {
    if (reason) await store.update((board) => addComment(board, id, author, `SCHEDULED: ${reason}`, ctx.now()));
    const ok = await store.update((board) => {
      const task = getTask(board, id);
      return task ? scheduleTask(board, task, reason, workerRunIdFor(ctx.env, id), ctx.now()) : false;
    });
    if (ok) ctx.out(`Scheduled ${id}${reason ? `: ${reason}` : ''}`);
    else {
      failed += 1;
      ctx.err(`cannot schedule ${id}`);
    }
  }
  return failed === 0 ? 0 : 1;
};

export const cmdUnblock: Handler = async ({ ctx, store, args }) => {
  const ids = list(args, 'task_ids');
  const rawReason = str(args, 'reason');
  const reason = rawReason === null ? null : rawReason.trim() || null;
  const author = profileAuthor(ctx.env);
  let failed = 0;
  for (const id of ids) {
    if (reason) await store.update((board) => addComment(board, id, author, `UNBLOCK: ${reason}`, ctx.now()));
    const ok = await store.update((board) => {
      const task = getTask(board, id);
      return task ? unblockTask(board, task, ctx.now()) : false;
    });
    if (ok) ctx.out(`Unblocked ${id}${reason ? `: ${reason}` : ''}`);
    else {
      failed += 1;
      ctx.err(`cannot unblock ${id} (not blocked/scheduled?)`);
    }
  }
  return failed === 0 ? 0 : 1;
};

export const cmdPromote: Handler = async ({ ctx, store, args }) => {
  const words = list(args, 'reason');
  const reason = words.length > 0 ? words.join(' ').trim() : null;
  const ids = [...new Set([str(args, 'task_id') ?? '', ...list(args, 'ids')])];
  const dryRun = bool(args, 'dry_run');
  const force = bool(args, 'force');
  const author = profileAuthor(ctx.env);
  const results = await store.update((board) =>
    ids.map((id) => {
      const task = getTask(board, id);
      let error: string | null = null;
      if (!task) error = 'unknown task';
      else if (task.status !== 'todo' && task.status !== 'blocked') error = `status is ${task.status} (only todo/blocked can be promoted)`;
      else if (!force && !parentsSatisfied(board, id)) error = 'parents not done (use --force to override)';
      if (task && error === null && !dryRun) {
        task.status = 'ready';
        appendEvent(board, id, 'promoted', { reason, actor: author, forced: force }, null, ctx.now());
      }
      return { task_id: id, promoted: error === null, dry_run: dryRun, forced: force, reason, error };
    }),
  );
  const failed = results.filter((r) => !r.promoted).length;
  if (bool(args, 'json')) {
    ctx.out(pyJson(results.length === 1 ? results[0] : results, false));
    return failed === 0 ? 0 : 1;
  }
  for (const r of results) {
    if (r.promoted) ctx.out(`${dryRun ? 'Would promote' : 'Promoted'} ${r.task_id} -> ready${dryRun ? ' (dry)' : ''}${reason ? `: ${reason}` : ''}`);
    else ctx.err(`cannot promote ${r.task_id}: ${r.error}`);
  }
  return failed === 0 ? 0 : 1;
};

export const cmdArchive: Handler = async ({ ctx, store, args }) => {
  const ids = list(args, 'task_ids');
  const purge = list(args, 'purge_ids');
  if (ids.length > 0 && purge.length > 0) throw new CliExit(1, 'choose either task_ids to archive or --rm archived task_ids');
  if (ids.length === 0 && purge.length === 0) throw new CliExit(1, 'at least one task_id is required');
  let failed = 0;
  await store.update((board) => {
    for (const id of purge) {
      const task = getTask(board, id);
      if (!task || task.status !== 'archived') {
        failed += 1;
        ctx.err(`cannot delete ${id} (must already be archived)`);
        continue;
      }
      board.tasks = board.tasks.filter((t) => t.id !== id);
      board.links = board.links.filter((l) => l.parent_id !== id && l.child_id !== id);
      board.comments = board.comments.filter((c) => c.task_id !== id);
      board.events = board.events.filter((e) => e.task_id !== id);
      board.runs = board.runs.filter((r) => r.task_id !== id);
      ctx.out(`Deleted ${id}`);
    }
    for (const id of ids) {
      const task = getTask(board, id);
      if (!task || task.status === 'archived') {
        failed += 1;
        ctx.err(`cannot archive ${id}`);
        continue;
      }
      clearClaim(task);
      task.status = 'archived';
      appendEvent(board, id, 'archived', null, endRun(board, task, ctx.now(), { outcome: 'archived' }), ctx.now());
      ctx.out(`Archived ${id}`);
    }
  });
  return failed === 0 ? 0 : 1;
};

export const cmdHeartbeat: Handler = async ({ ctx, store, args }) => {
  const id = str(args, 'task_id') ?? '';
  const note = str(args, 'note');
  const ok = await store.update((board) => {
    const task = getTask(board, id);
    if (!task || task.status !== 'running') return false;
    if (!runGuardOk(task, workerRunIdFor(ctx.env, id))) return false;
    const now = ctx.now();
    // heartbeat_worker only: last_heartbeat_at + an event; claim_expires is left alone ('The dispatcher').
    task.last_heartbeat_at = now;
    const run = currentRun(board, task);
    if (run) run.last_heartbeat_at = now;
    appendEvent(board, id, 'heartbeat', note ? { note } : null, run?.id ?? null, now);
    return true;
  });
  if (!ok) throw new CliExit(1, `cannot heartbeat ${id} (not running?)`);
  ctx.out(`Heartbeat recorded for ${id}`);
  return 0;
};
