import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { expandHome, monitorStateDir, registryPath } from '../config.js';
import { jobEventSource } from '../jobs/event-source.js';
import { pruneRegistry } from '../lifecycle/prune.js';
import { hostBoot } from '../proc/boot.js';
import { Controller } from '../reconcile/controller.js';
import { runPass } from '../reconcile/pass.js';
import { lostAtReboot } from '../reconcile/server-loss.js';
import { buildPassOptions } from '../reconcile/pass-options.js';
import { observedServers } from '../reconcile/subscribe.js';
import { CachedRegistryReader } from '../registry/store.js';
import { errorMessage, MamError } from '../util/errors.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { createLogger, type Logger } from '../util/log.js';
import { untilStopped } from '../util/stop.js';
import { writeLine } from '../util/write.js';
import { approvalWaits, limitedSessions } from '../watch/approvals.js';
import { PaneSampler } from '../watch/pane-sampler.js';
import { claimCard, HermesBoard, hermesRunner, outsideWorkerEnv, type HermesRunner } from './hermes-board.js';
import { exitTrailer, isMonitorLaunch, parseDispatcherArgv, REQUEUE_EXIT_CODE, runDeadline, runLimits } from './launch.js';
import { laneAgent } from './lane-launch.js';
import { LocalBoard } from './local-board.js';
import { DEFAULT_SETTINGS, settingsFromCard, type MonitorSettings } from './settings.js';
import { workspaceName } from './state-file.js';
import { isFromSomeoneElse, nextBlockKind } from './stop.js';
import type { Board, BlockKind, CardSnapshot } from './types.js';
import { runWorker, type Clock, type WorkerOutcome } from './worker.js';

/**
 * The monitor's runs, one per way it is started (docs/monitor.md): on the local board, on a card it claims
 * (`--card`, the lane), and dispatched by Hermes (as its HERMES_BIN, or inside the card's own run). Each reads its
 * settings from the card, runs the worker (./worker.ts) on the controller loop's wake-ups, and never leaves a card
 * blocked or parked without a comment that says why and what continues it.
 */
export interface MonitorIo {
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** What the command line set (already checked); unset fields come from the card, then the defaults. */
export interface MonitorFlags {
  /** Absolute. */
  readonly registry?: string | undefined;
  readonly intervalMs?: number | undefined;
  readonly heartbeatMs?: number | undefined;
  readonly approvalAlertMs?: number | undefined;
  readonly retentionMs?: number | undefined;
  /** Claim TTL for `--card` and the lane. */
  readonly ttlS: number;
  readonly tmuxServers?: readonly string[] | undefined;
  readonly verbose: boolean;
}

const NO_FLAGS: MonitorFlags = { ttlS: 86_400, verbose: false };

/** The smallest gap between two pushed wake-ups, and how long a burst of notifications is gathered. */
const PUSH_MIN_GAP_MS = 1_000;
const PUSH_DEBOUNCE_MS = 20;

/** A Hermes card from outside its run (`mam monitor --card ID`): claimed first when it is ready. */
export function monitorCard(io: MonitorIo, flags: MonitorFlags, cardId: string, self: string): Promise<number> {
  const log = createLogger(io.env, 'mam-monitor');
  return untilStopped((signal) => runClaimed(io, flags, log, cardId, self, hermesRunner(io.env), false, signal));
}

/** Inside the card's own run (an LLM worker that loaded the skill runs `mam monitor --card "$HERMES_KANBAN_TASK"`). */
export function monitorOwnRun(io: MonitorIo, flags: MonitorFlags, cardId: string, self: string): Promise<number> {
  return runDispatched(io, flags, createLogger(io.env, 'mam-monitor'), dispatchedBoard(io.env, cardId, self));
}

/** The dispatcher's HERMES_BIN entry: `mam -p <profile> … chat -q "work kanban task <id>"`. */
export async function hermesBinLaunch(io: MonitorIo, argv: readonly string[]): Promise<number | undefined> {
  const launch = parseDispatcherArgv(argv);
  if (!launch) return undefined;
  if (!isMonitorLaunch(launch, io.env)) {
    // A card assigned to an agent lane (claude-tmux, …): an interactive agent in tmux works it (docs/lane.md).
    const agent = laneAgent(launch.profile, io.env);
    if (agent) return (await import('./lane-run.js')).laneDispatched(io, launch, agent);
    return handOff(io, argv);
  }
  const cardId = io.env['HERMES_KANBAN_TASK'] ?? launch.taskId;
  const log = createLogger(io.env, 'mam-monitor');
  let code = 1;
  try {
    if (!cardId) throw new MamError('dispatched without HERMES_KANBAN_TASK or a task id in argv');
    code = await runDispatched(io, NO_FLAGS, log, dispatchedBoard(io.env, cardId, io.env['HERMES_PROFILE'] || launch.profile));
  } catch (error) {
    log.error({ err: errorMessage(error) }, 'monitor worker failed');
    writeLine(io.stderr, `mam: ${errorMessage(error)}`);
  }
  io.stderr.write(exitTrailer(code));
  return code;
}

function dispatchedBoard(env: NodeJS.ProcessEnv, cardId: string, self: string): HermesBoard {
  const runId = Number(env['HERMES_KANBAN_RUN_ID']);
  return new HermesBoard({
    cardId,
    self,
    run: hermesRunner(env),
    outsideRun: hermesRunner(outsideWorkerEnv(env)),
    runId: env['HERMES_KANBAN_TASK'] === cardId && Number.isInteger(runId) ? runId : undefined,
  });
}

/**
 * Spawned by the dispatcher: Hermes keeps the claim alive while this process lives. The run ends before the
 * goal turn budget or max runtime does, and hands over (see handOver). Whatever ends it, the card is never
 * left blocked or parked without a comment that says why and what continues it: a one-shot dispatcher (cron)
 * is gone by then, and Hermes itself writes no reason when it gives up on a card.
 */
async function runDispatched(io: MonitorIo, flags: MonitorFlags, log: Logger, board: HermesBoard): Promise<number> {
  const started = Date.now();
  // SIGTERM is Hermes reclaiming the card or enforcing its max runtime: say so on the card while we still can.
  return untilStopped(async (signal) => {
    try {
      const settings = await settingsFor(io, flags, log, board);
      if (!settings.registry) return await blockForMissingRegistry(board, log, settings.blockKind);
      const deadline = runDeadline(started, runLimits(io.env), settings.heartbeatMs);
      const outcome = await work(io, flags, log, board, settings, deadline, undefined, signal);
      if (outcome.kind === 'handover') return await handOver(board, log, outcome.reason);
      if (outcome.kind === 'interrupted') {
        await board
          .comment(`The monitor's run was ended from outside (SIGTERM: Hermes reclaimed the card or enforced its max runtime). If this card ends blocked, \`hermes kanban unblock ${board.cardId}\` continues monitoring.`)
          .catch(() => undefined);
        return 1;
      }
      // Exit 0 with the card still running is a protocol violation; a failed block is reported as a crash.
      return outcome.kind === 'stopped' && !outcome.blocked ? 1 : 0;
    } catch (error) {
      return blockForFailure(board, log, error);
    }
  });
}

/**
 * Ends a run whose budget is nearly spent so that the next one starts as soon as Hermes allows: the card
 * is parked in `scheduled` and released to `ready` at once, so the dispatcher's next tick spawns the next
 * run (the gateway ticks every 60 s by default). Exit 75 would cost the rate-limit cooldown (300 s by
 * default) under a daemon or gateway, and under a one-shot `hermes kanban dispatch` it is booked as a
 * crash and, with `--max-retries 1`, ends the card blocked. The state file carries the coalescing state
 * across, so a drift that happened in the gap is commented once, by the next run.
 */
async function handOver(board: HermesBoard, log: Logger, reason: string): Promise<number> {
  try {
    await board.schedule(`mam monitor hand-over (${reason}); the next run continues monitoring`);
  } catch (error) {
    log.warn({ err: errorMessage(error) }, 'cannot park the card for a hand-over; asking Hermes to requeue it (exit 75) instead');
    await board
      .comment(`The monitor's run ended (${reason}) and asked Hermes to requeue the card. If this card ends blocked, \`hermes kanban unblock ${board.cardId}\` continues monitoring.`)
      .catch(() => undefined);
    return REQUEUE_EXIT_CODE;
  }
  try {
    await board.release();
    log.info({ reason }, 'handed over: the card is ready again and the next run continues monitoring');
  } catch (error) {
    log.error({ err: errorMessage(error) }, 'the card is parked in scheduled but could not be released');
    await board
      .comment(`The monitor's run ended (${reason}), but the card could not be put back to ready (${errorMessage(error)}). \`hermes kanban unblock ${board.cardId}\` continues monitoring.`)
      .catch((commentError: unknown) => log.error({ err: errorMessage(commentError) }, 'could not comment either'));
  }
  return 0;
}

/** An unexpected failure: blocked with the reason and the command that continues, so nothing ends silently. */
async function blockForFailure(board: HermesBoard, log: Logger, error: unknown): Promise<number> {
  const reason = `mam monitor failed: ${errorMessage(error)}. Fix the cause, then \`hermes kanban unblock ${board.cardId}\` continues monitoring`;
  log.error({ err: errorMessage(error) }, 'monitor worker failed');
  try {
    const card = await board.read().catch(() => undefined);
    await board.block(reason, nextBlockKind(card?.comments ?? []));
    return 0;
  } catch (blockError) {
    log.error({ err: errorMessage(blockError) }, 'could not block the card');
    return 1;
  }
}

/** --card or lane: we hold a claim with a hard TTL, so we hand over by reclaiming and claiming again. */
async function runClaimed(
  io: MonitorIo,
  flags: MonitorFlags,
  log: Logger,
  cardId: string,
  self: string,
  run: HermesRunner,
  fromLane: boolean,
  signal?: AbortSignal,
): Promise<number> {
  const { ttlS } = flags;
  for (;;) {
    const claim = await claimCard(run, cardId, ttlS);
    if (claim.kind === 'not-ready') {
      if (fromLane) return 0;
      if (claim.status !== 'running') throw new MamError(`card ${cardId} is ${claim.status}; only a ready card can be claimed (${claim.detail})`);
      log.warn({ cardId }, 'card is already running (claimed elsewhere); reporting to it without a claim of our own');
    }
    const runEnv = { ...io.env, HERMES_PROFILE: self, HERMES_KANBAN_TASK: cardId, ...(claim.kind === 'claimed' && claim.runId ? { HERMES_KANBAN_RUN_ID: String(claim.runId) } : {}) };
    const board = new HermesBoard({ cardId, self, run: hermesRunner(runEnv) });
    const settings = await settingsFor(io, flags, log, board);
    if (!settings.registry) return blockForMissingRegistry(board, log, settings.blockKind);
    const deadline = claim.kind === 'claimed' ? Date.now() + ttlS * 1000 : undefined;
    const outcome = await work({ ...io, env: runEnv }, flags, log, board, settings, deadline, undefined, signal);
    if (outcome.kind === 'interrupted' && claim.kind === 'claimed') {
      // Shutting down: give the card back so the next lane worker picks it up at once.
      await run(['kanban', 'reclaim', cardId, '--reason', 'mam monitor lane shutting down']);
      return 0;
    }
    if (outcome.kind !== 'handover') return 0;
    const released = await run(['kanban', 'reclaim', cardId, '--reason', `mam monitor hand-over before the claim TTL (${outcome.reason})`]);
    if (released.exitCode !== 0) throw new MamError(`could not release card ${cardId} for hand-over: ${released.stderr.trim()}`);
    log.info({ cardId }, 'claim handed over; claiming again');
  }
}

/** Pull mode: claims ready cards assigned to `lane` (a name without a Hermes profile) and works them in turn. */
export async function monitorLane(io: MonitorIo, flags: MonitorFlags, lane: string, pollMs: number): Promise<number> {
  const log = createLogger(io.env, 'mam-monitor');
  const run = hermesRunner({ ...io.env, HERMES_PROFILE: lane });
  log.info({ lane }, 'lane worker polling for ready cards');
  await untilStopped(async (signal) => {
    while (!signal.aborted) {
      const listed = await run(['kanban', 'list', '--assignee', lane, '--status', 'ready', '--json']);
      const cards = listed.exitCode === 0 ? parseIds(listed.stdout) : [];
      if (listed.exitCode !== 0) log.warn({ err: listed.stderr.trim() }, 'cannot list ready cards');
      for (const id of cards) {
        if (signal.aborted) break;
        await runClaimed(io, flags, log, id, lane, run, true, signal);
      }
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
    }
  });
  return 0;
}

/** The local board: comments and heartbeats on this terminal; "stop" or Ctrl-C ends it. */
export async function monitorLocal(io: MonitorIo, flags: MonitorFlags): Promise<number> {
  const log = createLogger(io.env, 'mam-monitor');
  const settings = mergeFlags(DEFAULT_SETTINGS, flags);
  const registry = settings.registry ?? registryPath(undefined, io.env, io.cwd);
  const directory = monitorStateDir(io.env);
  const board = new LocalBoard({
    logFile: path.join(directory, `${workspaceName(registry)}.local.jsonl`),
    output: io.stdout,
    input: process.stdin.isTTY || io.env['MAM_MONITOR_STDIN'] === '1' ? process.stdin : undefined,
  });
  // `on`, not `once`: execa's signal-exit hook re-raises a signal it thinks nobody handles, and a `once`
  // listener has already removed itself by the time that hook counts listeners.
  const onSignal = (signal: NodeJS.Signals): void => board.stopFromSignal(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  writeLine(io.stdout, `monitoring ${registry} every ${settings.intervalMs / 1000} s — type "stop" or press Ctrl-C to stop`);
  try {
    await work(io, flags, log, board, { ...settings, registry }, undefined, board);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    board.close();
    // A terminal's stdin too: a paused TTY handle still holds the event loop open.
    process.stdin.destroy();
  }
  return 0;
}

async function work(
  io: MonitorIo,
  flags: MonitorFlags,
  log: Logger,
  board: Board,
  settings: MonitorSettings,
  deadline: number | undefined,
  local?: LocalBoard,
  signal?: AbortSignal,
): Promise<WorkerOutcome> {
  const registryFile = settings.registry!;
  const passOptions = buildPassOptions({ registryFile, tmuxServers: flags.tmuxServers, dryRun: false, env: io.env, verbose: flags.verbose });
  const stateFile = path.join(monitorStateDir(io.env), `${workspaceName(registryFile)}.state`);
  log.info({ card: board.cardId, registry: registryFile, stateFile, intervalMs: settings.intervalMs, heartbeatMs: settings.heartbeatMs, deadline }, 'monitor started');
  // Push: the controller's sources (tmux control mode on every observed server, job events) wake the sleeping
  // worker early; its own interval stays the safety net, so the controller runs no resync of its own.
  const wake = io.env['MAM_MONITOR_PUSH'] === '0' ? undefined : new Wake();
  const controller = wake
    ? new Controller({
        reconcile: async (keys) => {
          if (!(keys.size === 1 && keys.has('startup'))) wake.fire();
        },
        startup: false,
        servers: () => observedServers(passOptions).catch(() => [...passOptions.observe.extraServers]),
        sources: { tmux: { bin: passOptions.observe.tmux.bin }, jobs: jobEventSource(io.env, registryFile), jobsRetryMaxMs: settings.intervalMs },
        debounceMs: PUSH_DEBOUNCE_MS,
        minGapMs: PUSH_MIN_GAP_MS,
        log,
      })
    : undefined;
  await controller?.start();
  const pass = async () => {
    const report = await runPass(passOptions);
    // The pass may have registered sessions on servers nobody watched yet.
    await controller?.refreshServers().catch(() => undefined);
    return report;
  };
  try {
    const reader = passOptions.reader ?? new CachedRegistryReader();
    // Approval dialogs no hook reports (Codex, agy, agents started without hooks), read from their panes.
    const panes = new PaneSampler({ now: Date.now, tmux: passOptions.observe.tmux });
    const outcome = await runWorker({
      board,
      pass,
      clock: realClock(local, signal, wake),
      settings,
      stateFile,
      deadline,
      log,
      signal,
      approvalWaits: () => approvalWaits(registryFile, reader, io.env, panes),
      rebootLost: async () => lostAtReboot((await reader.read(registryFile)).entries, hostBoot()),
      limits: () => limitedSessions(registryFile, reader, io.env),
      prune: async (now, retentionMs) => {
        const report = await pruneRegistry({ registryFile, olderThanMs: retentionMs, dryRun: false, now: () => now, lock: passOptions.lock });
        return { pruned: report.pruned.length, history: report.history };
      },
    });
    log.info({ outcome }, 'monitor ended');
    return outcome;
  } finally {
    await controller?.stop();
  }
}

/**
 * Wake-ups of the worker's sleep, from the controller (src/reconcile/controller.ts: tmux notifications and job
 * events, at most one run a second). One that comes while the worker is busy is kept, so the next sleep ends at
 * once: the step in progress may have looked too early.
 */
class Wake {
  private readonly listeners = new Set<() => void>();
  private pending = false;

  fire(): void {
    this.pending = true;
    for (const listener of [...this.listeners]) listener();
  }

  /** True (once) when a wake-up came since the last take. */
  take(): boolean {
    const pending = this.pending;
    this.pending = false;
    return pending;
  }

  on(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/**
 * The card's settings (body, then comments by others), overridden by flags. Without a `registry:` the
 * run uses $MAM_REGISTRY, else the default registry (nearest `.hermes/agent-sessions.yaml`, else
 * `~/.hermes/…`) when that file exists; with none at all it has nothing to watch, and says so.
 */
async function settingsFor(io: MonitorIo, flags: MonitorFlags, log: Logger, board: Board): Promise<MonitorSettings & { blockKind: BlockKind }> {
  let card: Pick<CardSnapshot, 'body' | 'comments'> = { body: '', comments: [] };
  try {
    card = await board.read();
  } catch (error) {
    log.warn({ err: errorMessage(error) }, 'cannot read the card yet; using defaults');
  }
  const { settings, rejected } = settingsFromCard(card, (comment) => isFromSomeoneElse(comment, board.self));
  for (const bad of rejected) log.warn(`card setting ignored: ${bad}`);
  const merged = mergeFlags(settings, flags);
  const fallback = registryPath(undefined, io.env, io.cwd);
  const registry = merged.registry ?? (io.env['MAM_REGISTRY'] || existsSync(fallback) ? fallback : undefined);
  return { ...merged, registry: registry ? path.resolve(io.cwd, expandHome(registry, io.env)) : undefined, blockKind: nextBlockKind(card.comments) };
}

function mergeFlags(base: MonitorSettings, flags: MonitorFlags): MonitorSettings {
  return {
    ...base,
    ...(flags.intervalMs === undefined ? {} : { intervalMs: flags.intervalMs }),
    ...(flags.heartbeatMs === undefined ? {} : { heartbeatMs: flags.heartbeatMs }),
    ...(flags.approvalAlertMs === undefined ? {} : { approvalAlertMs: flags.approvalAlertMs }),
    ...(flags.registry === undefined ? {} : { registry: flags.registry }),
    ...(flags.retentionMs === undefined ? {} : { retentionMs: flags.retentionMs }),
  };
}

async function blockForMissingRegistry(board: Board, log: Logger, kind: BlockKind): Promise<number> {
  const reason =
    'no registry configured and none found: comment `registry: /absolute/path/.hermes/agent-sessions.yaml` on this card ' +
    '(or set MAM_REGISTRY for the dispatcher), then unblock it';
  log.error(reason);
  try {
    await board.block(reason, kind);
    return 0;
  } catch (error) {
    log.error({ err: errorMessage(error) }, 'could not block the card');
    return 1;
  }
}

function realClock(local: LocalBoard | undefined, signal: AbortSignal | undefined, push?: Wake): Clock {
  return {
    now: Date.now,
    sleep: (ms) =>
      new Promise<void>((resolve) => {
        // Either taken first, so neither is left pending to cut the following sleep short.
        const early = [push?.take(), local?.takeInput()].some(Boolean);
        if (early) return resolve();
        const done = (): void => {
          clearTimeout(timer);
          unsubscribe?.();
          unsubscribePush?.();
          signal?.removeEventListener('abort', done);
          push?.take();
          local?.takeInput();
          resolve();
        };
        const timer = setTimeout(done, ms);
        const unsubscribe = local?.onInput(done);
        const unsubscribePush = push?.on(done);
        signal?.addEventListener('abort', done, { once: true });
      }),
  };
}

/** Another profile's worker: run the real hermes with the same argv, as if we were not here. */
async function handOff(io: MonitorIo, argv: readonly string[]): Promise<number> {
  // Set on the child: if "the real hermes" turns out to be mam again, stop instead of looping.
  if (io.env['MAM_HANDING_OFF'] === '1') {
    writeLine(io.stderr, 'mam: MAM_HERMES_BIN leads back to mam; point it at the real hermes executable');
    return 1;
  }
  const real = io.env['MAM_HERMES_BIN'] || 'hermes';
  return new Promise((resolve) => {
    const child = spawn(real, [...argv], { stdio: 'inherit', env: { ...io.env, MAM_HANDING_OFF: '1' } });
    child.once('error', (error: NodeJS.ErrnoException) => {
      writeLine(io.stderr, `mam: cannot hand off to ${real}: ${error.code === 'ENOENT' ? 'not found; set MAM_HERMES_BIN to the real hermes' : error.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
  });
}

function parseIds(stdout: string): string[] {
  const rows = parseJsonOrUndefined(stdout);
  return Array.isArray(rows) ? rows.map((row: { id?: unknown }) => row.id).filter((id): id is string => typeof id === 'string') : [];
}
