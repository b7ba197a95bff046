import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.js';
import type { PassReport } from '../reconcile/pass.js';
import { isoSeconds } from '../registry/schema.js';
import { coalesce, commentSeq, freezePending, observedApprovals, observedFrom, observedLimits, progressNote, rebootNotice, type ApprovalWait, type LimitedSession, type MonitorState } from './coalesce.js';
import { formatDuration, type MonitorSettings } from './settings.js';
import { loadState, saveState } from './state-file.js';
import { isFromSomeoneElse, isStopRequest, nextBlockKind } from './stop.js';
import { BoardError, type Board, type BlockKind, type CardSnapshot } from './types.js';

/**
 * The monitor's worker loop: every interval, look at the card (a stop request? closed by someone?),
 * run a reconcile pass, fold what it found into the coalescing state, send at most one comment, save
 * the state, and heartbeat on schedule. It ends in one of three ways, and never by crashing: stopped
 * on request (after blocking the card), the card closed by someone else, or a handover because this
 * run's budget (goal turns, max runtime, claim TTL) is about to run out.
 */
export interface Clock {
  now(): number;
  /** Waits up to `ms`; may return early when something happened (typed input, a signal). */
  sleep(ms: number): Promise<void>;
}

export interface WorkerOptions {
  readonly board: Board;
  readonly pass: () => Promise<PassReport>;
  readonly clock: Clock;
  readonly settings: MonitorSettings;
  readonly stateFile: string;
  /** Epoch ms by which this run must have ended; the loop hands over one interval (+ margin) before. */
  readonly deadline?: number;
  readonly log: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** Ends the loop between passes (the process is shutting down); the card is left as it is. */
  readonly signal?: AbortSignal;
  /** Agents waiting on an approval, read each pass (from the hooks' fact files); told past `approvalAlertMs`. */
  readonly approvalWaits?: () => Promise<readonly ApprovalWait[]>;
  /** Sessions stopped on a usage limit, read each pass; each limit is told once. */
  readonly limits?: () => Promise<readonly LimitedSession[]>;
  /** Prunes ended sessions older than `retentionMs` as of `now` (`mam prune`); run once a day when retention is set. */
  readonly prune?: (now: number, retentionMs: number) => Promise<{ readonly pruned: number; readonly history: string }>;
  /** Sessions the host's last reboot took down (marked by the pass), read each pass; told once per boot. */
  readonly rebootLost?: () => Promise<{ readonly bootId: string; readonly count: number } | undefined>;
}

/** How often the monitor prunes: a registry grows by the day, so once a day keeps it small at no noticeable cost. */
export const PRUNE_EVERY_MS = 86_400_000;

export type WorkerOutcome =
  /** `blocked: false` means the card could not be blocked: a dispatched run must not exit 0 then. */
  | { readonly kind: 'stopped'; readonly reason: string; readonly blocked: boolean }
  | { readonly kind: 'card-closed'; readonly status: string }
  | { readonly kind: 'handover'; readonly reason: string }
  | { readonly kind: 'interrupted' };

const BLOCK_ATTEMPTS = 3;

/** Time kept in hand before a deadline for the last comment, heartbeat and exit. */
const HANDOVER_MARGIN_MS = 30_000;

export async function runWorker(options: WorkerOptions): Promise<WorkerOutcome> {
  const { board, clock, settings, log } = options;
  const loaded = await loadState(options.stateFile, board.cardId);
  if (loaded.discarded) log.warn(loaded.discarded);
  let state = loaded.state;
  let saved = JSON.stringify(state);
  const startedAt = clock.now();
  const warnOnce = onceEach(log);

  const save = async (): Promise<void> => {
    const text = JSON.stringify(state);
    if (text === saved) return;
    await saveState(options.stateFile, state);
    saved = text;
  };
  const heartbeat = async (note: string): Promise<void> => {
    try {
      await board.heartbeat(note);
      warnOnce.clear('heartbeat');
    } catch (error) {
      warnOnce('heartbeat', `heartbeat failed: ${errorMessage(error)}`);
    }
  };

  // Hermes does not reset last_heartbeat_at on a new claim (#119155): say we are alive at once.
  await heartbeat(`started; ${progressNote(state)}`);
  let nextHeartbeat = startedAt + settings.heartbeatMs;

  for (;;) {
    if (options.signal?.aborted) {
      await save();
      return { kind: 'interrupted' };
    }
    const now = clock.now();
    const card = await readCard(board, warnOnce);
    if (card) {
      if (card.status !== 'running') {
        log.info({ status: card.status }, 'card is no longer running; ending without touching it');
        await save();
        return { kind: 'card-closed', status: card.status };
      }
      state = settleInFlight(state, card, board.self);
      const cursor = state.commentCursor ?? card.comments.filter((comment) => comment.createdAt < Math.floor(startedAt / 1000)).length;
      const fresh = card.comments.slice(cursor);
      state = { ...state, commentCursor: card.comments.length };
      const request = fresh.find((comment) => isFromSomeoneElse(comment, board.self) && isStopRequest(comment.body));
      if (request) return stop(request.author, card);
    }

    const outcome = await options.pass().then(
      (report) => ({ report }),
      (error: unknown) => ({ error: errorMessage(error) }),
    );
    if ('error' in outcome) warnOnce('pass', `reconcile pass failed: ${outcome.error}`);
    else warnOnce.clear('pass');
    const waits = (await options.approvalWaits?.().catch(() => [])) ?? [];
    const limits = (await options.limits?.().catch(() => [])) ?? [];
    const findings = [...observedFrom(outcome), ...observedApprovals(waits, now, settings.approvalAlertMs), ...observedLimits(limits)];
    state = coalesce(state, findings, now);
    state = rebootNotice(state, await options.rebootLost?.().catch(() => undefined));
    state = await pruneWhenDue(state, now);
    state = freezePending(state, now);
    state = await deliver(state, card !== undefined);
    await save();

    if (clock.now() >= nextHeartbeat) {
      await heartbeat(progressNote(state));
      while (nextHeartbeat <= clock.now()) nextHeartbeat += settings.heartbeatMs;
    }
    if (options.deadline !== undefined && clock.now() + settings.intervalMs + HANDOVER_MARGIN_MS >= options.deadline) {
      const reason = `run budget ends at ${isoSeconds(options.deadline)}`;
      await heartbeat(`handing over (${reason}); ${progressNote(state)}`);
      return { kind: 'handover', reason };
    }
    // Wake for the next heartbeat exactly on schedule, and otherwise every interval.
    await clock.sleep(Math.max(0, Math.min(settings.intervalMs, nextHeartbeat - clock.now())));
  }

  async function stop(author: string, card: CardSnapshot): Promise<WorkerOutcome> {
    const reason = `stop-requested by user at ${isoSeconds(clock.now())}`;
    const kind: BlockKind = nextBlockKind(card.comments);
    state = { ...state, lastBlockKind: kind };
    await save();
    // Exiting with the card still running would be a protocol violation, so try hard; a repeated
    // attempt may leave a second `BLOCKED:` echo, which is the lesser harm.
    for (let attempt = 1; attempt <= BLOCK_ATTEMPTS; attempt += 1) {
      try {
        await board.block(reason, kind);
        log.info({ author }, reason);
        return { kind: 'stopped', reason, blocked: true };
      } catch (error) {
        log.error({ err: errorMessage(error), attempt }, 'could not block the card after a stop request');
        if (attempt < BLOCK_ATTEMPTS) await clock.sleep(2_000 * attempt);
      }
    }
    return { kind: 'stopped', reason, blocked: false };
  }

  /**
   * The daily prune. Its time is kept in the state file, so hand-overs and restarts neither skip nor repeat it;
   * a failed prune is tried again next pass. Pruning something is told once on the card.
   */
  async function pruneWhenDue(current: MonitorState, now: number): Promise<MonitorState> {
    const last = current.lastPruneAt ? Date.parse(current.lastPruneAt) : Number.NaN;
    if (!options.prune || settings.retentionMs <= 0 || now - last < PRUNE_EVERY_MS) return current;
    try {
      const { pruned, history } = await options.prune(now, settings.retentionMs);
      warnOnce.clear('prune');
      const next = { ...current, lastPruneAt: isoSeconds(now) };
      if (pruned === 0) return next;
      const line = `pruned ${pruned} ended session${pruned === 1 ? '' : 's'} older than ${formatDuration(settings.retentionMs)} into ${history}`;
      return { ...next, pending: [...next.pending, line] };
    } catch (error) {
      warnOnce('prune', `pruning ended sessions failed (tried again next pass): ${errorMessage(error)}`);
      return current;
    }
  }

  /** Sends the comment in flight, unless its earlier try may have landed and the card could not be checked. */
  async function deliver(current: MonitorState, cardChecked: boolean): Promise<MonitorState> {
    const [inFlight, ...rest] = current.outbox;
    if (!inFlight || (inFlight.tried && !cardChecked)) return current;
    try {
      await board.comment(inFlight.text);
      warnOnce.clear('comment');
      return { ...current, outbox: rest };
    } catch (error) {
      const ambiguous = error instanceof BoardError ? error.ambiguous : true;
      warnOnce('comment', `comment #${inFlight.seq} not delivered yet (kept, will retry): ${errorMessage(error)}`);
      return { ...current, outbox: [{ ...inFlight, tried: inFlight.tried || ambiguous }, ...rest] };
    }
  }
}

/** A comment whose send had an unknown outcome is done if the card shows it. */
function settleInFlight(state: MonitorState, card: CardSnapshot, self: string): MonitorState {
  const [inFlight, ...rest] = state.outbox;
  if (!inFlight?.tried) return state;
  const landed = card.comments.some((comment) => comment.author === self && commentSeq(comment.body) === inFlight.seq);
  return landed ? { ...state, outbox: rest } : state;
}

async function readCard(board: Board, warnOnce: WarnOnce): Promise<CardSnapshot | undefined> {
  try {
    const card = await board.read();
    warnOnce.clear('read');
    return card;
  } catch (error) {
    warnOnce('read', `cannot read card ${board.cardId} (monitoring goes on; comments are kept): ${errorMessage(error)}`);
    return undefined;
  }
}

interface WarnOnce {
  (topic: string, message: string): void;
  clear(topic: string): void;
}

/** Logs a failure once until it clears, so an outage is one log line, not one per pass. */
function onceEach(log: Pick<Logger, 'warn' | 'info'>): WarnOnce {
  const active = new Map<string, string>();
  const warn = ((topic: string, message: string) => {
    if (active.get(topic) === message) return;
    active.set(topic, message);
    log.warn(message);
  }) as WarnOnce;
  warn.clear = (topic: string) => {
    if (active.delete(topic)) log.info(`${topic}: working again`);
  };
  return warn;
}
