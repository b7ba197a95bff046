import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { existsSync } from 'node:fs';
import { expandHome, monitorStateDir, registryPath } from '../config.js';
import { errorMessage, MamError, UsageError } from '../util/errors.js';
import { execaRunner, HermesBoard, type HermesRunner } from '../kanban/hermes-board.js';
import {
  DEFAULT_MONITOR_PROFILE,
  exitTrailer,
  isMonitorLaunch,
  parseDispatcherArgv,
  REQUEUE_EXIT_CODE,
  runDeadline,
  runLimits,
} from '../kanban/launch.js';
import { LocalBoard } from '../kanban/local-board.js';
import { DEFAULT_SETTINGS, parseDuration, parseRetention, settingsFromCard, type MonitorSettings } from '../kanban/settings.js';
import { isFromSomeoneElse, nextBlockKind } from '../kanban/stop.js';
import { workspaceName } from '../kanban/state-file.js';
import type { Board, BlockKind, CardSnapshot } from '../kanban/types.js';
import { runWorker, type Clock, type WorkerOutcome } from '../kanban/worker.js';
import { createLogger, type Logger } from '../util/log.js';
import { pruneRegistry } from '../lifecycle/prune.js';
import { runPass } from '../reconcile/pass.js';
import { CachedRegistryReader } from '../registry/store.js';
import { approvalWaits } from '../watch/approvals.js';
import { PaneSampler } from '../watch/pane-sampler.js';
import { jobEventSource } from '../jobs/event-source.js';
import { observedServers, RetryingSource, TmuxWatcher } from '../reconcile/subscribe.js';
import { parseJsonOrUndefined } from '../util/json.js';
import { parseFlags, untilStopped, writeLine, type CliContext, type Command } from './command.js';
import { buildPassOptions } from './pass-options.js';

const HELP = `Usage: mam monitor [--card ID] [--registry PATH] [--tmux-server NAME]... [--interval S] [--heartbeat S]
       mam monitor lane --lane NAME [--ttl S] [--poll S] [--registry PATH]
       mam monitor dispatch [--run] [--assignee PROFILE] [--registry PATH] [--goal-max-turns N] [--max-runtime D]

Run the agent-sessions monitor: a reconcile pass every --interval (default 30 s), drifts coalesced through
${'${XDG_CACHE_HOME:-~/.cache}'}/agent-sessions-monitor/<workspace>.state and told once (again only when they change
or clear, at most one comment per pass), a heartbeat at start and every --heartbeat (default 5 min), and a stop
when a person comments "stop" / "stop monitoring".

Boards:
  (no card)     the local board: comments and heartbeats on this terminal and in <state dir>/<workspace>.local.jsonl;
                type "stop" (or press Ctrl-C) to stop
  --card ID     a Hermes Kanban card, driven through \`hermes kanban\` ($MAM_HERMES_BIN, default hermes); a ready card
                is claimed first (with --ttl)
  dispatched    started by the Hermes dispatcher as its HERMES_BIN (\`mam -p <profile> … chat -q "work kanban task ID"\`):
                cards with the skill agent-sessions-monitor (whatever their assignee, e.g. \`default\`) or
                assigned to one of $MAM_MONITOR_PROFILES (default ${DEFAULT_MONITOR_PROFILE}) are run here; every other card is
                handed on unchanged to the real hermes. An LLM worker that loaded the skill runs
                \`mam monitor --card "$HERMES_KANBAN_TASK"\`, which works the same way.
  lane          pull mode: claim ready cards assigned to --lane (a name without a Hermes profile) with a long --ttl

Besides every --interval, a pass also runs soon after tmux reports a session created or destroyed, or a delegated
job reports an event (at most one such early pass a second): one \`tmux -C\` control client per watched server, attached to a session of its own,
__monitor, which goes away with it. A server that is not running is never started; one that refuses control mode or
ends its clients at once is warned about once and left to the interval. MAM_MONITOR_PUSH=0 turns this off.

Once a day (the time is kept in the state file, across hand-overs) ended sessions older than --retention are moved
into <registry>.history.jsonl as \`mam prune\` does, and a comment says how many.

A card's body may set \`interval: 30s\`, \`heartbeat: 5m\`, \`retention: 7d\`, \`registry: /abs/path/agent-sessions.yaml\`, and so may a comment
by anyone but the worker (newest wins; Hermes cannot edit a body from its CLI). Read as data, never executed;
{{placeholders}} count as unset. Flags win over both.

A dispatched run ends before its goal turn budget or --max-runtime does and hands over: the card is parked in
\`scheduled\` and put back to ready at once, so the dispatcher's next tick starts the next run (no rate-limit
cooldown, no failure counted). Whenever a run leaves the card blocked or parked, a comment says why and names the
command that continues it.

Subcommands:
  dispatch      print (or with --run, run) the \`hermes kanban create --goal …\` command that starts a monitor card

Options:
  --card ID            a Hermes card to report to (default: $HERMES_KANBAN_TASK when dispatched, else the local board)
  --registry PATH      the registry (default: the card's registry:, $MAM_REGISTRY, the nearest .hermes/agent-sessions.yaml
                       up from here, ~/.hermes/agent-sessions.yaml; a card uses the last two only if the file exists)
  --tmux-server NAME   extra tmux socket to watch; repeatable
  --interval S         seconds between passes (default 30)
  --heartbeat S        seconds between heartbeats (default 300)
  --approval-alert S   comment once when an agent has waited on an approval this long (default 600; card: approval_alert:)
  --retention D        prune ended sessions older than D once a day (default 7d; 0 = never; card: retention:)
  --ttl S              claim TTL for --card/lane (default 86400); the run hands over before it expires
  --verbose            also report sessions other registries own (@mam_registry; problem kind owned-elsewhere)
  -h, --help           this text`;

export const monitorCommand: Command = {
  help: HELP,
  async run(context) {
    const [sub] = context.argv;
    if (sub === 'dispatch') return (await import('./monitor-dispatch.js')).dispatch({ ...context, argv: context.argv.slice(1) });
    if (sub === 'lane') return lane({ ...context, argv: context.argv.slice(1) });
    return monitor(context);
  },
};

const COMMON_FLAGS = {
  registry: { type: 'string' },
  'approval-alert': { type: 'string' },
  'tmux-server': { type: 'string', multiple: true },
  interval: { type: 'string' },
  heartbeat: { type: 'string' },
  retention: { type: 'string' },
  ttl: { type: 'string' },
  verbose: { type: 'boolean' },
} as const;

type CommonValues = {
  registry?: string | undefined;
  'approval-alert'?: string | undefined;
  'tmux-server'?: string[] | undefined;
  interval?: string | undefined;
  heartbeat?: string | undefined;
  retention?: string | undefined;
  ttl?: string | undefined;
  verbose?: boolean | undefined;
};

async function monitor(context: CliContext): Promise<number> {
  const { values } = parseFlags('monitor', context.argv, { ...COMMON_FLAGS, card: { type: 'string' } });
  const log = createLogger(context.env, 'mam-monitor');
  if (values.card === '') throw new UsageError('monitor: --card needs a card id (was $HERMES_KANBAN_TASK empty? it is set only inside a dispatched card\'s run)');
  const cardId = values.card ?? context.env['HERMES_KANBAN_TASK'];
  if (!cardId) return runLocal(context, values, log);
  const self = context.env['HERMES_PROFILE'] || DEFAULT_MONITOR_PROFILE;
  const run = hermesRunner(context.env);
  // Inside this card's own run (an LLM worker that loaded the skill runs `mam monitor --card "$HERMES_KANBAN_TASK"`).
  if (values.card === undefined || values.card === context.env['HERMES_KANBAN_TASK']) {
    return runDispatched(context, values, log, dispatchedBoard(context.env, cardId, self));
  }
  return untilStopped((signal) => runClaimed(context, values, log, cardId, self, run, false, signal));
}

/** The dispatcher's HERMES_BIN entry: `mam -p <profile> … chat -q "work kanban task <id>"`. */
export async function hermesBinEntry(context: CliContext): Promise<number | undefined> {
  const launch = parseDispatcherArgv(context.argv);
  if (!launch) return undefined;
  if (!isMonitorLaunch(launch, context.env)) return handOff(context);
  const cardId = context.env['HERMES_KANBAN_TASK'] ?? launch.taskId;
  const log = createLogger(context.env, 'mam-monitor');
  let code = 1;
  try {
    if (!cardId) throw new MamError('dispatched without HERMES_KANBAN_TASK or a task id in argv');
    code = await runDispatched(context, {}, log, dispatchedBoard(context.env, cardId, context.env['HERMES_PROFILE'] || launch.profile));
  } catch (error) {
    log.error({ err: errorMessage(error) }, 'monitor worker failed');
    writeLine(context.stderr, `mam: ${errorMessage(error)}`);
  }
  context.stderr.write(exitTrailer(code));
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
async function runDispatched(context: CliContext, values: CommonValues, log: Logger, board: HermesBoard): Promise<number> {
  const started = Date.now();
  // SIGTERM is Hermes reclaiming the card or enforcing its max runtime: say so on the card while we still can.
  return untilStopped(async (signal) => {
    try {
      const settings = await settingsFor(context, values, log, board);
      if (!settings.registry) return await blockForMissingRegistry(board, log, settings.blockKind);
      const deadline = runDeadline(started, runLimits(context.env), settings.heartbeatMs);
      const outcome = await work(context, values, log, board, settings, deadline, undefined, signal);
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
  context: CliContext,
  values: CommonValues,
  log: Logger,
  cardId: string,
  self: string,
  run: HermesRunner,
  fromLane: boolean,
  signal?: AbortSignal,
): Promise<number> {
  const ttlS = positive(values.ttl, 86_400, 'ttl');
  for (;;) {
    const claim = await claimCard(run, cardId, ttlS);
    if (claim.kind === 'not-ready') {
      if (fromLane) return 0;
      if (claim.status !== 'running') throw new MamError(`card ${cardId} is ${claim.status}; only a ready card can be claimed (${claim.detail})`);
      log.warn({ cardId }, 'card is already running (claimed elsewhere); reporting to it without a claim of our own');
    }
    const runEnv = { ...context.env, HERMES_PROFILE: self, HERMES_KANBAN_TASK: cardId, ...(claim.kind === 'claimed' && claim.runId ? { HERMES_KANBAN_RUN_ID: String(claim.runId) } : {}) };
    const board = new HermesBoard({ cardId, self, run: hermesRunner(runEnv) });
    const settings = await settingsFor(context, values, log, board);
    if (!settings.registry) return blockForMissingRegistry(board, log, settings.blockKind);
    const deadline = claim.kind === 'claimed' ? Date.now() + ttlS * 1000 : undefined;
    const outcome = await work({ ...context, env: runEnv }, values, log, board, settings, deadline, undefined, signal);
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

async function lane(context: CliContext): Promise<number> {
  const { values } = parseFlags('monitor lane', context.argv, { ...COMMON_FLAGS, lane: { type: 'string' }, poll: { type: 'string' } });
  if (!values.lane) throw new UsageError('monitor lane: --lane NAME is required (the assignee of the cards to claim)');
  const log = createLogger(context.env, 'mam-monitor');
  const run = hermesRunner({ ...context.env, HERMES_PROFILE: values.lane });
  const pollMs = positive(values.poll, 30, 'poll') * 1000;
  log.info({ lane: values.lane }, 'lane worker polling for ready cards');
  await untilStopped(async (signal) => {
    while (!signal.aborted) {
      const listed = await run(['kanban', 'list', '--assignee', values.lane!, '--status', 'ready', '--json']);
      const cards = listed.exitCode === 0 ? parseIds(listed.stdout) : [];
      if (listed.exitCode !== 0) log.warn({ err: listed.stderr.trim() }, 'cannot list ready cards');
      for (const id of cards) {
        if (signal.aborted) break;
        await runClaimed(context, values, log, id, values.lane!, run, true, signal);
      }
      await sleep(pollMs, undefined, { signal }).catch(() => undefined);
    }
  });
  return 0;
}

async function runLocal(context: CliContext, values: CommonValues, log: Logger): Promise<number> {
  const settings = mergeFlags(DEFAULT_SETTINGS, values, context);
  const registry = settings.registry ?? registryPath(undefined, context.env, context.cwd);
  const directory = monitorStateDir(context.env);
  const board = new LocalBoard({
    logFile: path.join(directory, `${workspaceName(registry)}.local.jsonl`),
    output: context.stdout,
    input: process.stdin.isTTY || context.env['MAM_MONITOR_STDIN'] === '1' ? process.stdin : undefined,
  });
  // `on`, not `once`: execa's signal-exit hook re-raises a signal it thinks nobody handles, and a `once`
  // listener has already removed itself by the time that hook counts listeners.
  const onSignal = (signal: NodeJS.Signals): void => board.stopFromSignal(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  writeLine(context.stdout, `monitoring ${registry} every ${settings.intervalMs / 1000} s — type "stop" or press Ctrl-C to stop`);
  try {
    await work(context, values, log, board, { ...settings, registry }, undefined, board);
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
  context: CliContext,
  values: CommonValues,
  log: Logger,
  board: Board,
  settings: MonitorSettings,
  deadline: number | undefined,
  local?: LocalBoard,
  signal?: AbortSignal,
): Promise<WorkerOutcome> {
  const registryFile = settings.registry!;
  const passOptions = buildPassOptions({ registryFile, tmuxServers: values['tmux-server'], dryRun: false, env: context.env, verbose: values.verbose ?? false });
  const stateFile = path.join(monitorStateDir(context.env), `${workspaceName(registryFile)}.state`);
  log.info({ card: board.cardId, registry: registryFile, stateFile, intervalMs: settings.intervalMs, heartbeatMs: settings.heartbeatMs, deadline }, 'monitor started');
  // Push: tmux control-mode notifications wake the sleeping worker early; the interval stays the safety net.
  const push = context.env['MAM_MONITOR_PUSH'] === '0' ? undefined : new PushWake();
  const watcher = push ? new TmuxWatcher(() => push.fire(), { bin: passOptions.observe.tmux.bin }, log) : undefined;
  // Job events wake it too (a job's agent reporting is news about its session); retried while no broker runs.
  const jobs = push ? new RetryingSource(jobEventSource(context.env, registryFile), () => push.fire(), settings.intervalMs, log) : undefined;
  jobs?.start();
  const watchServers = async (): Promise<void> => {
    watcher?.setServers(await observedServers(passOptions).catch(() => [...passOptions.observe.extraServers]));
  };
  await watchServers();
  const pass = async () => {
    const report = await runPass(passOptions);
    await watchServers();
    return report;
  };
  try {
    const reader = passOptions.reader ?? new CachedRegistryReader();
    // Approval dialogs no hook reports (Codex, agy, agents started without hooks), read from their panes.
    const panes = new PaneSampler({ now: Date.now, tmux: passOptions.observe.tmux });
    const outcome = await runWorker({
      board,
      pass,
      clock: realClock(local, signal, push),
      settings,
      stateFile,
      deadline,
      log,
      signal,
      approvalWaits: () => approvalWaits(registryFile, reader, context.env, panes),
      prune: async (now, retentionMs) => {
        const report = await pruneRegistry({ registryFile, olderThanMs: retentionMs, dryRun: false, now: () => now, lock: passOptions.lock });
        return { pruned: report.pruned.length, history: report.history };
      },
    });
    log.info({ outcome }, 'monitor ended');
    return outcome;
  } finally {
    push?.stop();
    await watcher?.stop();
    await jobs?.stop();
  }
}

/** The smallest gap between two pushed wake-ups, and how long a burst of tmux notifications is gathered. */
const PUSH_MIN_GAP_MS = 1_000;
const PUSH_DEBOUNCE_MS = 20;

/**
 * Turns tmux notifications into wake-ups of the worker's sleep: a burst becomes one wake-up, at most one a
 * second (each wake-up is a whole worker step, card read included). One that comes while the worker is
 * busy is kept, so the next sleep ends at once: the step in progress may have looked too early.
 */
class PushWake {
  private readonly listeners = new Set<() => void>();
  private pending = false;
  private lastWake = 0;
  private timer: NodeJS.Timeout | undefined;

  fire(): void {
    if (this.timer) return;
    const delay = Math.max(PUSH_DEBOUNCE_MS, this.lastWake + PUSH_MIN_GAP_MS - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.lastWake = Date.now();
      this.pending = true;
      for (const listener of [...this.listeners]) listener();
    }, delay);
    this.timer.unref();
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

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }
}

/**
 * The card's settings (body, then comments by others), overridden by flags. Without a `registry:` the
 * run uses $MAM_REGISTRY, else the default registry (nearest `.hermes/agent-sessions.yaml`, else
 * `~/.hermes/…`) when that file exists; with none at all it has nothing to watch, and says so.
 */
async function settingsFor(context: CliContext, values: CommonValues, log: Logger, board: Board): Promise<MonitorSettings & { blockKind: BlockKind }> {
  let card: Pick<CardSnapshot, 'body' | 'comments'> = { body: '', comments: [] };
  try {
    card = await board.read();
  } catch (error) {
    log.warn({ err: errorMessage(error) }, 'cannot read the card yet; using defaults');
  }
  const { settings, rejected } = settingsFromCard(card, (comment) => isFromSomeoneElse(comment, board.self));
  for (const bad of rejected) log.warn(`card setting ignored: ${bad}`);
  const merged = mergeFlags(settings, values, context);
  const fallback = registryPath(undefined, context.env, context.cwd);
  const registry = merged.registry ?? (context.env['MAM_REGISTRY'] || existsSync(fallback) ? fallback : undefined);
  return { ...merged, registry: registry ? path.resolve(context.cwd, expandHome(registry, context.env)) : undefined, blockKind: nextBlockKind(card.comments) };
}

function mergeFlags(base: MonitorSettings, values: CommonValues, context: CliContext): MonitorSettings {
  return {
    ...base,
    ...(values.interval === undefined ? {} : { intervalMs: positive(values.interval, 30, 'interval') * 1000 }),
    ...(values.heartbeat === undefined ? {} : { heartbeatMs: positive(values.heartbeat, 300, 'heartbeat') * 1000 }),
    ...(values['approval-alert'] === undefined ? {} : { approvalAlertMs: positive(values['approval-alert'], 600, 'approval-alert') * 1000 }),
    ...(values.registry === undefined ? {} : { registry: path.resolve(context.cwd, values.registry) }),
    ...(values.retention === undefined ? {} : { retentionMs: retention(values.retention) }),
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

type Claim = { kind: 'claimed'; runId: number | undefined } | { kind: 'not-ready'; status: string; detail: string };

async function claimCard(run: HermesRunner, cardId: string, ttlS: number): Promise<Claim> {
  const claimed = await run(['kanban', 'claim', cardId, '--ttl', String(ttlS)]);
  const shown = await run(['kanban', 'show', cardId, '--json']);
  const card = shown.exitCode === 0 ? (parseJsonOrUndefined(shown.stdout) as { task?: { status?: string }; events?: { kind?: string; payload?: { run_id?: number } }[] } | undefined) ?? {} : {};
  if (claimed.exitCode !== 0) return { kind: 'not-ready', status: card.task?.status ?? 'unknown', detail: claimed.stderr.trim() };
  const lastClaim = [...(card.events ?? [])].reverse().find((event) => event.kind === 'claimed');
  return { kind: 'claimed', runId: lastClaim?.payload?.run_id };
}

function realClock(local: LocalBoard | undefined, signal: AbortSignal | undefined, push?: PushWake): Clock {
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

function hermesRunner(env: NodeJS.ProcessEnv): HermesRunner {
  return execaRunner(env['MAM_HERMES_BIN'] || 'hermes', env, Number(env['MAM_HERMES_TIMEOUT_MS']) || 30_000);
}

/** The environment without this run's worker variables: Hermes then takes a call as an outside automation's. */
function outsideWorkerEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const outside = { ...env };
  for (const key of ['HERMES_KANBAN_TASK', 'HERMES_KANBAN_RUN_ID', 'HERMES_KANBAN_CLAIM_LOCK']) delete outside[key];
  return outside;
}

/** Another profile's worker: run the real hermes with the same argv, as if we were not here. */
async function handOff(context: CliContext): Promise<number> {
  // Set on the child: if "the real hermes" turns out to be mam again, stop instead of looping.
  if (context.env['MAM_HANDING_OFF'] === '1') {
    writeLine(context.stderr, 'mam: MAM_HERMES_BIN leads back to mam; point it at the real hermes executable');
    return 1;
  }
  const real = context.env['MAM_HERMES_BIN'] || 'hermes';
  return new Promise((resolve) => {
    const child = spawn(real, [...context.argv], { stdio: 'inherit', env: { ...context.env, MAM_HANDING_OFF: '1' } });
    child.once('error', (error: NodeJS.ErrnoException) => {
      writeLine(context.stderr, `mam: cannot hand off to ${real}: ${error.code === 'ENOENT' ? 'not found; set MAM_HERMES_BIN to the real hermes' : error.message}`);
      resolve(127);
    });
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : 1)));
  });
}

function parseIds(stdout: string): string[] {
  const rows = parseJsonOrUndefined(stdout);
  return Array.isArray(rows) ? rows.map((row: { id?: unknown }) => row.id).filter((id): id is string => typeof id === 'string') : [];
}

function retention(value: string): number {
  const ms = parseRetention(value);
  if (ms === undefined) throw new UsageError(`monitor: --retention takes a duration (7d, 12h) or 0 for never, not ${JSON.stringify(value)}`);
  return ms;
}

function positive(value: string | undefined, fallback: number, flag: string): number {
  if (value === undefined) return fallback;
  const ms = parseDuration(value);
  if (ms === undefined || ms <= 0) throw new UsageError(`monitor: --${flag} takes a duration (30, 30s, 5m), not ${JSON.stringify(value)}`);
  return ms / 1000;
}
