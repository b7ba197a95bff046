import { mkdir, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { type Args, bool, num, str } from '../args.js';
import { DEFAULT_FAILURE_LIMIT } from '../constants.js';
import { CliExit, Ctx, sleep } from '../context.js';
import { dispatchOnce, type TickOptions, type TickResult } from '../dispatcher.js';
import { fmtTs, pyFloat, pyJson } from '../output.js';
import type { Handler } from './call.js';

/** The dispatcher verbs: one tick (`dispatch`) and the deprecated standalone loop (`daemon --force`). */

function printTick(ctx: Ctx, res: TickResult, dryRun: boolean): void {
  ctx.out(`Reclaimed:    ${res.reclaimed}`);
  ctx.out(`Crashed:      ${res.crashed.length}`);
  if (res.crashed.length) ctx.out(`  ${res.crashed.join(', ')}`);
  ctx.out(`Timed out:    ${res.timed_out.length}`);
  if (res.timed_out.length) ctx.out(`  ${res.timed_out.join(', ')}`);
  ctx.out(`Stale:        ${res.stale.length}`);
  if (res.stale.length) ctx.out(`  ${res.stale.join(', ')}`);
  ctx.out(`Auto-blocked: ${res.auto_blocked.length}`);
  if (res.auto_blocked.length) ctx.out(`  ${res.auto_blocked.join(', ')}`);
  ctx.out(`Promoted:     ${res.promoted}`);
  ctx.out(`Spawned:      ${res.spawned.length}`);
  for (const [id, who, ws] of res.spawned) ctx.out(`  - ${id}  ->  ${who}  @ ${ws || '-'}${dryRun ? ' (dry)' : ''}`);
  if (res.skipped_unassigned.length) ctx.out(`Skipped (unassigned): ${res.skipped_unassigned.join(', ')}`);
  if (res.skipped_nonspawnable.length) {
    ctx.out(`Skipped (non-spawnable assignee — terminal lane, OK): ${res.skipped_nonspawnable.join(', ')}`);
  }
}

function tickOptions(args: Args): TickOptions {
  return {
    dryRun: bool(args, 'dry_run'),
    max: num(args, 'max'),
    failureLimit: num(args, 'failure_limit') ?? DEFAULT_FAILURE_LIMIT,
  };
}

export const cmdDispatch: Handler = async ({ ctx, bp, store, args }) => {
  const options = tickOptions(args);
  const res = await dispatchOnce(ctx, bp, store, options);
  if (bool(args, 'json')) {
    ctx.out(
      pyJson(
        {
          reclaimed: res.reclaimed,
          crashed: res.crashed,
          timed_out: res.timed_out,
          stale: res.stale,
          auto_blocked: res.auto_blocked,
          promoted: res.promoted,
          spawned: res.spawned.map(([task_id, assignee, workspace]) => ({ task_id, assignee, workspace })),
          skipped_unassigned: res.skipped_unassigned,
          skipped_nonspawnable: res.skipped_nonspawnable,
          skipped_per_profile_capped: res.skipped_per_profile_capped.map(([task_id, assignee, current]) => ({ task_id, assignee, current })),
          auto_assigned_default: res.auto_assigned_default,
        },
        true,
      ),
    );
    return 0;
  }
  printTick(ctx, res, options.dryRun);
  return 0;
};

const DAEMON_DEPRECATED =
  'hermes kanban daemon: DEPRECATED — the dispatcher now runs\ninside the gateway. To use kanban:\n\n' +
  '    hermes gateway start       # starts the gateway + embedded dispatcher\n\n' +
  'Ready tasks will be picked up on the next dispatcher tick\n(default: every 60 seconds). Configure via config.yaml:\n\n' +
  '    kanban:\n      dispatch_in_gateway: true      # default\n      dispatch_interval_seconds: 60\n' +
  '      failure_limit: 2              # consecutive non-success attempts before auto-block\n\n' +
  'Running both the gateway AND this standalone daemon will\nrace for claims. If you truly need the old standalone\n' +
  'daemon (no gateway available), rerun with --force.';

export const cmdDaemon: Handler = async ({ ctx, bp, store, args }) => {
  if (!bool(args, 'force')) throw new CliExit(2, DAEMON_DEPRECATED);
  const interval = num(args, 'interval') ?? 60;
  const pidfile = str(args, 'pidfile');
  if (pidfile) {
    try {
      await mkdir(path.dirname(path.resolve(pidfile)), { recursive: true });
      await writeFile(pidfile, String(process.pid), 'utf8');
    } catch (error) {
      ctx.err(`warning: could not write pidfile ${pidfile}: ${(error as Error).message}`);
    }
  }
  ctx.err(
    `Kanban dispatcher running STANDALONE via --force (interval=${pyFloat(interval)}s, pid=${process.pid}). ` +
      'Ctrl-C to stop. NOTE: if a gateway is also running with dispatch_in_gateway=true (default), you have two ' +
      'dispatchers racing for claims.',
  );
  const signal = ctx.options.signal;
  const options = { ...tickOptions(args), dryRun: false };
  try {
    while (!signal?.aborted) {
      try {
        const res = await dispatchOnce(ctx, bp, store, options);
        const didWork = res.reclaimed || res.crashed.length || res.timed_out.length || res.promoted || res.spawned.length || res.auto_blocked.length;
        if (bool(args, 'verbose') && didWork) {
          ctx.out(
            `[${fmtTs(ctx.now())}] reclaimed=${res.reclaimed} crashed=${res.crashed.length} timed_out=${res.timed_out.length} ` +
              `stale=${res.stale.length} promoted=${res.promoted} spawned=${res.spawned.length} auto_blocked=${res.auto_blocked.length}`,
          );
        }
      } catch (error) {
        ctx.err(`kanban daemon: tick failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      await sleep(Math.max(0.05, interval) * 1000, signal);
    }
  } finally {
    if (pidfile) await unlink(pidfile).catch(() => undefined);
  }
  ctx.out('(dispatcher stopped)');
  return 0;
};
