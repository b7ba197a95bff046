import * as z from 'zod';
import type { PassReport } from '../reconcile/pass.js';
import { isoSeconds } from '../registry/schema.js';
import type { ApprovalWait, LimitedSession } from '../watch/approvals.js';

export type { ApprovalWait, LimitedSession };

/**
 * Coalescing: what the monitor says on its card, decided as a pure function of the previous state,
 * what the pass found, and the clock.
 *
 * - A finding is commented once when it appears, again only when its text changes, and — for lasting
 *   conditions (a stale id, an unreadable tmux server, a failing pass) — once when it clears. Actions
 *   the pass itself took (A, B, C) are events: they are told once and simply forgotten when gone.
 * - Lines wait in `pending` until they can be sent. Only one comment is in flight at a time
 *   (`outbox`), frozen with a sequence number that is also written into its text, so a send whose
 *   outcome was unknown can be checked on the card before it is retried: never lost, never twice.
 * - The state holds only what is active now plus what is unsent, so it stays small however long
 *   the monitor runs.
 */

const Finding = z.object({
  fingerprint: z.string(),
  line: z.string(),
  lasting: z.boolean(),
  since: z.string(),
  /** Consecutive passes it has been seen in, and whether the card has been told. */
  seen: z.number().int().positive().default(1),
  told: z.boolean().default(true),
});

const OutboxComment = z.object({
  seq: z.number().int().nonnegative(),
  text: z.string(),
  /** Set once a send was tried; from then on the card is checked before each retry. */
  tried: z.boolean(),
});

export const MonitorState = z.object({
  version: z.literal(1),
  /** The card (or `local`) this state belongs to; a different card starts afresh. */
  card: z.string(),
  active: z.record(z.string(), Finding),
  pending: z.array(z.string()),
  outbox: z.array(OutboxComment),
  nextSeq: z.number().int().nonnegative(),
  /** How many of the card's comments have been looked at for a stop request. */
  commentCursor: z.number().int().nonnegative().nullable(),
  driftsDetected: z.number().int().nonnegative(),
  lastDriftAt: z.string().nullable(),
  /** The kind of this worker's last block, so the next one can differ (Hermes's triage trap). */
  lastBlockKind: z.string().nullable(),
  /** When ended sessions were last pruned (retention): the daily prune keeps its schedule across hand-overs. */
  lastPruneAt: z.string().nullable().optional(),
  /** The boot whose lost sessions the card has been told about (`mam restore`): told once per reboot. */
  rebootTold: z.string().nullable().optional(),
});

export type MonitorState = z.infer<typeof MonitorState>;
export type OutboxComment = z.infer<typeof OutboxComment>;

/** A line's worth of news: a drift or a problem, keyed so the same thing is recognised next pass. */
export interface Observed {
  readonly key: string;
  readonly fingerprint: string;
  readonly line: string;
  readonly lasting: boolean;
  /** Counts toward "N drifts detected" in heartbeats. */
  readonly isDrift: boolean;
  /** Passes in a row it must be seen before it is told (debounces transients); default 1. */
  readonly confirmAfter?: number;
}

/** More pending lines than this are folded, so an outage with churn cannot grow the state without bound. */
export const MAX_PENDING_LINES = 100;
const MARKER = /\[mam-monitor #(\d+)\]\s*$/;

export function initialState(card: string): MonitorState {
  return {
    version: 1,
    card,
    active: {},
    pending: [],
    outbox: [],
    nextSeq: 1,
    commentCursor: null,
    driftsDetected: 0,
    lastDriftAt: null,
    lastBlockKind: null,
  };
}

/** What a pass report (or a pass that threw) means for the card. */
export function observedFrom(outcome: { report: PassReport } | { error: string }): Observed[] {
  if ('error' in outcome) {
    return [{ key: 'pass-error', fingerprint: outcome.error, line: `reconcile pass failed, nothing written: ${outcome.error}`, lasting: true, isDrift: false }];
  }
  const drifts: Observed[] = outcome.report.drifts.map((drift) =>
    drift.class === 'D'
      ? { key: `D:${drift.session}:${drift.conversation_id}`, fingerprint: drift.message, line: `D ${drift.message}`, lasting: true, isDrift: true }
      : { key: `${drift.class}:${drift.session}`, fingerprint: drift.message, line: `${drift.class} ${drift.message}${lastLinesOf(drift)}`, lasting: false, isDrift: true },
  );
  const problems: Observed[] = outcome.report.problems.map((problem) => ({
    key: `P:${problem.kind}:${problem.session ?? problem.tmux_server ?? problem.message}`,
    fingerprint: problem.message,
    line: `problem: ${problem.message}`,
    lasting: true,
    isDrift: false,
    // A tmux server that cannot be read is usually one shutting down under the query; the next pass
    // sees it gone (class A). Only one that stays unreadable is worth a comment.
    confirmAfter: problem.kind === 'tmux-unavailable' ? 2 : 1,
  }));
  return [...drifts, ...problems];
}

/** An exited agent's last screen lines (class A, issue 13.4), quoted under its line: what it said before it died. */
function lastLinesOf(drift: PassReport['drifts'][number]): string {
  if (drift.class !== 'A' || !drift.last_lines?.length) return '';
  return drift.last_lines.map((line) => `\n  > ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`).join('');
}

/**
 * Approval waits longer than `alertMs` as findings. The fingerprint is when the wait began, so one wait is
 * told once (not every pass as its minutes grow), told as resolved when it ends, and a new wait is news again.
 */
export function observedApprovals(waits: readonly ApprovalWait[], now: number, alertMs: number): Observed[] {
  return waits
    .filter((wait) => now - Date.parse(wait.since) >= alertMs)
    .map((wait) => ({
      key: `approval:${wait.session}`,
      fingerprint: wait.since,
      line: `${wait.session}: waiting for approval since ${isoSeconds(Date.parse(wait.since))} (over ${Math.floor(alertMs / 60_000)} min)`,
      lasting: true,
      isDrift: false,
    }));
}

/**
 * Sessions stopped on a usage limit: one comment per limit, when it is first seen (an event, not a lasting
 * condition: the agent resuming is news its own status already tells, so no `resolved:` line follows).
 */
export function observedLimits(limits: readonly LimitedSession[]): Observed[] {
  return limits.map((limit) => {
    const resets = limit.until ? `; it resets at ${isoSeconds(Date.parse(limit.until))}` : '; it did not say when it resets';
    const then = limit.resumeText === null ? ' (auto_resume is off: it waits for a prompt)' : limit.until ? ` (auto_resume: \`${limit.resumeText}\` is sent then)` : ' (auto_resume is on, but with no reset time it waits for a prompt)';
    return { key: `limit:${limit.session}`, fingerprint: limit.since, line: `${limit.session}: stopped on a usage limit${resets}${then}`, lasting: false, isDrift: false };
  });
}

/** Folds one pass's findings into the state: new, changed and cleared lines join `pending`. */
export function coalesce(state: MonitorState, observed: readonly Observed[], now: number): MonitorState {
  const at = isoSeconds(now);
  const active: MonitorState['active'] = {};
  const pending = [...state.pending];
  let newDrifts = 0;
  for (const item of observed) {
    if (active[item.key]) continue;
    const previous = state.active[item.key];
    const seen = (previous?.seen ?? 0) + 1;
    let told = previous?.told ?? false;
    if (!told && seen >= (item.confirmAfter ?? 1)) {
      pending.push(item.line);
      told = true;
      if (item.isDrift) newDrifts += 1;
    } else if (told && previous && previous.fingerprint !== item.fingerprint) {
      pending.push(`changed: ${item.line}`);
    }
    active[item.key] = { fingerprint: item.fingerprint, line: item.line, lasting: item.lasting, since: previous?.since ?? at, seen, told };
  }
  for (const [key, previous] of Object.entries(state.active)) {
    if (!active[key] && previous.lasting && previous.told) pending.push(`resolved: ${previous.line}`);
  }
  return {
    ...state,
    active,
    pending: foldPending(pending),
    driftsDetected: state.driftsDetected + newDrifts,
    lastDriftAt: newDrifts > 0 ? at : state.lastDriftAt,
  };
}

/**
 * After a reboot, once: how many sessions went with it and the command that brings them back. Keyed by the boot id
 * in the state, so neither a later pass, a restart nor a hand-over says it again; the next reboot is news again.
 */
export function rebootNotice(state: MonitorState, lost: { readonly bootId: string; readonly count: number } | undefined): MonitorState {
  if (!lost || lost.count === 0 || state.rebootTold === lost.bootId) return state;
  const line = `${lost.count} session${lost.count === 1 ? ' was' : 's were'} running before the reboot; \`mam restore\` brings ${lost.count === 1 ? 'it' : 'them'} back`;
  return { ...state, rebootTold: lost.bootId, pending: foldPending([...state.pending, line]) };
}

/** When nothing is in flight, the pending lines become the next comment. */
export function freezePending(state: MonitorState, now: number): MonitorState {
  if (state.outbox.length > 0 || state.pending.length === 0) return state;
  const seq = state.nextSeq;
  const comment: OutboxComment = { seq, text: renderComment(state.pending, seq, now), tried: false };
  return { ...state, outbox: [comment], pending: [], nextSeq: seq + 1 };
}

export function renderComment(lines: readonly string[], seq: number, now: number): string {
  const header = `agent-sessions monitor: ${lines.length === 1 ? '1 change' : `${lines.length} changes`} at ${isoSeconds(now)}`;
  return [header, ...lines.map((line) => `- ${line}`), `[mam-monitor #${seq}]`].join('\n');
}

/** The sequence number a comment of ours carries, if it is one. */
export function commentSeq(body: string): number | undefined {
  const match = MARKER.exec(body);
  return match ? Number(match[1]) : undefined;
}

/** The heartbeat's progress note. */
export function progressNote(state: MonitorState): string {
  return `alive, ${state.driftsDetected} drift${state.driftsDetected === 1 ? '' : 's'} detected, last at ${state.lastDriftAt ?? 'none yet'}`;
}

function foldPending(lines: string[]): string[] {
  if (lines.length <= MAX_PENDING_LINES) return lines;
  const keep = lines.slice(lines.length - (MAX_PENDING_LINES - 1));
  const folded = lines.length - keep.length;
  const earlier = /^… and (\d+) earlier changes/.exec(lines[0] ?? '');
  const total = folded + (earlier ? Number(earlier[1]) - 1 : 0);
  return [`… and ${total} earlier changes (see the monitor's log)`, ...keep];
}
