import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { monitorStateDir } from '../config.js';
import { errorMessage, MamError } from '../util/errors.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { createLogger, type Logger } from '../util/log.js';
import { untilStopped } from '../util/stop.js';
import { writeLine } from '../util/write.js';
import { claimCard, HermesBoard, hermesRunner, outsideWorkerEnv } from './hermes-board.js';
import { exitTrailer, REQUEUE_EXIT_CODE, runDeadline, runLimits, type DispatcherArgv } from './launch.js';
import { laneAgent, type LaneProfile } from './lane-launch.js';
import { runLaneCard, type LaneFlags, type LaneOutcome } from './lane.js';
import { nextBlockKind } from './stop.js';

/**
 * How a lane run is started (docs/lane.md): by the Hermes dispatcher as its HERMES_BIN, on one card from the
 * command line (`mam lane --card ID`), or pulling ready cards (`mam lane`). Each ends its run so that nothing is left
 * without a word on the card: a hand-over puts the card back to ready for the next run, which re-attaches to the
 * same live agent.
 */
export interface LaneIo {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export interface LaneCommandFlags extends LaneFlags {
  /** Claim TTL for `--card` and pull mode; the run hands over before it expires. */
  readonly ttlS: number;
  readonly agentArgs?: readonly string[];
}

/** The dispatcher's HERMES_BIN entry for a card assigned to a lane profile. */
export async function laneDispatched(io: LaneIo, launch: DispatcherArgv, agent: string): Promise<number> {
  const log = createLogger(io.env, 'mam-lane');
  const cardId = io.env['HERMES_KANBAN_TASK'] ?? launch.taskId;
  let code = 1;
  try {
    if (!cardId) throw new MamError('dispatched without HERMES_KANBAN_TASK or a task id in argv');
    const runId = Number(io.env['HERMES_KANBAN_RUN_ID']);
    const board = new HermesBoard({
      cardId,
      self: io.env['HERMES_PROFILE'] || launch.profile,
      run: hermesRunner(io.env),
      outsideRun: hermesRunner(outsideWorkerEnv(io.env)),
      runId: io.env['HERMES_KANBAN_TASK'] === cardId && Number.isInteger(runId) ? runId : undefined,
    });
    const started = Date.now();
    // One "turn" of a goal card is one heartbeat period, as for the monitor (docs/monitor.md, 'Goal mode').
    const deadline = runDeadline(started, runLimits(io.env), 5 * 60_000);
    const workspace = io.env['HERMES_KANBAN_WORKSPACE'] || io.cwd;
    code = await untilStopped(async (signal) => {
      const outcome = await guarded(board, log, () => runLaneCard({ io, flags: {}, log, board, agent, workspace, deadline, signal }));
      return endDispatched(board, log, outcome);
    });
  } catch (error) {
    log.error({ err: errorMessage(error) }, 'lane worker failed');
    writeLine(io.stderr, `mam: ${errorMessage(error)}`);
  }
  io.stderr.write(exitTrailer(code));
  return code;
}

/** `mam lane --card ID`: claims the card (a ready one) and works it until it ends. */
export async function laneCard(io: LaneIo, flags: LaneCommandFlags, cardId: string, lane: LaneProfile): Promise<number> {
  const log = createLogger(io.env, 'mam-lane');
  return untilStopped(async (signal) => {
    const outcome = await runClaimed(io, flags, log, cardId, lane, signal, false);
    return outcome === 'not-ready' ? 1 : 0;
  });
}

/** Pull mode: claims ready cards assigned to the lane profiles and works each, side by side, until SIGTERM/SIGINT. */
export async function lanePull(io: LaneIo, flags: LaneCommandFlags, lanes: readonly LaneProfile[], pollMs: number): Promise<number> {
  const log = createLogger(io.env, 'mam-lane');
  log.info({ lanes: lanes.map((lane) => lane.profile) }, 'lane worker polling for ready cards');
  const active = new Map<string, Promise<unknown>>();
  await untilStopped(async (signal) => {
    while (!signal.aborted) {
      for (const lane of lanes) {
        const listed = await hermesRunner({ ...io.env, HERMES_PROFILE: lane.profile })(['kanban', 'list', '--assignee', lane.profile, '--status', 'ready', '--json']);
        if (listed.exitCode !== 0) log.warn({ err: listed.stderr.trim() }, 'cannot list ready cards');
        for (const id of listed.exitCode === 0 ? parseIds(listed.stdout) : []) {
          if (active.has(id) || signal.aborted) continue;
          const work = runClaimed(io, flags, log, id, lane, signal, true)
            .catch((error: unknown) => log.error({ card: id, err: errorMessage(error) }, 'lane run failed'))
            .finally(() => active.delete(id));
          active.set(id, work);
        }
      }
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
    }
    await Promise.all(active.values());
  });
  return 0;
}

/** A claimed card: the claim has a hard TTL, so the run hands over by reclaiming and claiming again. */
async function runClaimed(io: LaneIo, flags: LaneCommandFlags, log: Logger, cardId: string, lane: LaneProfile, signal: AbortSignal, fromPull: boolean): Promise<'not-ready' | LaneOutcome['kind']> {
  const run = hermesRunner({ ...io.env, HERMES_PROFILE: lane.profile });
  for (;;) {
    const claim = await claimCard(run, cardId, flags.ttlS);
    if (claim.kind === 'not-ready') {
      if (!fromPull) writeLine(io.stderr, `mam: card ${cardId} is ${claim.status}; only a ready card can be claimed (${claim.detail})`);
      return 'not-ready';
    }
    const runEnv = { ...io.env, HERMES_PROFILE: lane.profile, HERMES_KANBAN_TASK: cardId, ...(claim.runId ? { HERMES_KANBAN_RUN_ID: String(claim.runId) } : {}) };
    const board = new HermesBoard({ cardId, self: lane.profile, run: hermesRunner(runEnv), outsideRun: run, runId: claim.runId });
    const workspace = claim.workspace ?? path.join(monitorStateDir(io.env), 'lane-workspaces', cardId);
    const deadline = Date.now() + flags.ttlS * 1000;
    const outcome = await guarded(board, log, () => runLaneCard({ io, flags, log, board, agent: lane.agent, workspace, deadline, signal, agentArgs: flags.agentArgs }));
    if (outcome.kind === 'interrupted') {
      // Shutting down: the card goes back to ready so the next lane worker picks it up, and re-attaches to the agent.
      await run(['kanban', 'reclaim', cardId, '--reason', 'mam lane shutting down; the agent keeps running and the next run re-attaches']);
      return outcome.kind;
    }
    if (outcome.kind !== 'handover') return outcome.kind;
    const released = await run(['kanban', 'reclaim', cardId, '--reason', `mam lane hand-over before the claim TTL (${outcome.reason})`]);
    if (released.exitCode !== 0) throw new MamError(`could not release card ${cardId} for hand-over: ${released.stderr.trim()}`);
    log.info({ cardId }, 'claim handed over; claiming again');
  }
}

/** Any failure blocks the card with the reason, so a run never ends silently. */
async function guarded(board: HermesBoard, log: Logger, body: () => Promise<LaneOutcome>): Promise<LaneOutcome> {
  try {
    return await body();
  } catch (error) {
    const reason = `mam lane failed: ${errorMessage(error)}. Fix the cause, then \`hermes kanban unblock ${board.cardId}\` runs the card again`;
    log.error({ err: errorMessage(error) }, 'lane run failed');
    const card = await board.read().catch(() => undefined);
    await board.block(reason, nextBlockKind(card?.comments ?? [])).catch((blockError: unknown) => log.error({ err: errorMessage(blockError) }, 'could not block the card'));
    return { kind: 'finished', how: 'block' };
  }
}

/** How a dispatched run exits: 0 once the card is ended or handed over; never 0 with the card still running. */
async function endDispatched(board: HermesBoard, log: Logger, outcome: LaneOutcome): Promise<number> {
  if (outcome.kind === 'finished' || outcome.kind === 'card-closed') return 0;
  if (outcome.kind === 'interrupted') {
    await board
      .comment(`The lane's run was ended from outside (SIGTERM: Hermes reclaimed the card or enforced its max runtime); the agent keeps running. If this card ends blocked, \`hermes kanban unblock ${board.cardId}\` re-attaches to it.`)
      .catch(() => undefined);
    return 1;
  }
  // The hand-over: parked in `scheduled`, put back to ready at once; the dispatcher's next tick re-attaches.
  try {
    await board.schedule(`mam lane hand-over (${outcome.reason}); the next run re-attaches to the live agent`);
  } catch (error) {
    log.warn({ err: errorMessage(error) }, 'cannot park the card for a hand-over; asking Hermes to requeue it (exit 75) instead');
    return REQUEUE_EXIT_CODE;
  }
  try {
    await board.release();
  } catch (error) {
    await board.comment(`The lane's run ended (${outcome.reason}) but the card could not be put back to ready (${errorMessage(error)}). \`hermes kanban unblock ${board.cardId}\` continues it.`).catch(() => undefined);
  }
  return 0;
}

/** The lane profile a `--lane` names, or the agent given with it. */
export function laneFor(profile: string, agent: string | undefined, env: NodeJS.ProcessEnv): LaneProfile {
  const resolved = agent ?? laneAgent(profile, env);
  if (!resolved) throw new MamError(`lane ${JSON.stringify(profile)} is not one of MAM_LANE_PROFILES; pass --agent AGENT, or name it NAME-tmux`, { exitCode: 64 });
  return { profile, agent: resolved };
}

function parseIds(stdout: string): string[] {
  const rows = parseJsonOrUndefined(stdout);
  return Array.isArray(rows) ? rows.map((row: { id?: unknown }) => row.id).filter((id): id is string => typeof id === 'string') : [];
}
