import type { NotifyEvent } from '../config.js';
import type { AgentStatus } from '../facts/schema.js';

/**
 * When to notify (docs/status.md, 'Notifications'), as a pure function of status changes and the clock, so a
 * flapping state never spams:
 *
 * - **once per entry**: a session entering a state is announced at most once while it stays there;
 * - **settle**: a state is announced only after it held for `settleMs` (an approval answered at once, a turn that
 *   ends and goes on, never reach anyone); a death is announced without waiting;
 * - **re-arm**: a state the session entered again less than `rearmMs` after it left it announced is not announced
 *   again (the person was there moments ago), and such a flap restarts the window when it ends;
 * - **gap**: at most one notification per `minGapMs`; what becomes due meanwhile is coalesced into the next one.
 *
 * The caller feeds every change and every wake-up through {@link step}, sends what it returns, and wakes it again
 * at `wakeAt`.
 */
export interface NotifyPolicy {
  readonly settleMs: number;
  readonly rearmMs: number;
  readonly minGapMs: number;
  readonly events: ReadonlySet<NotifyEvent>;
}

export const DEFAULT_TIMING = { settleMs: 1_000, rearmMs: 30_000, minGapMs: 5_000 } as const;

/** A session's status changed: its new status, or that it ended (SessionEnd, /clear) or died (its process gone). */
export interface StatusChange {
  readonly session: string;
  readonly status: AgentStatus | 'ended' | 'died';
  /** How a person knows the session: its registry name, else its folder, else the conversation id. */
  readonly name: string;
  /** What it waits for (`Bash: npm test`), when it needs approval. */
  readonly detail: string | null;
  /** The tmux server socket its agent runs in, when known: where the tmux channel reaches its person. */
  readonly socket: string | null;
}

export interface Announcement {
  readonly session: string;
  readonly event: NotifyEvent;
  readonly name: string;
  readonly detail: string | null;
  readonly socket: string | null;
}

interface Track {
  readonly status: AgentStatus | undefined;
  /**
   * The current state was announced, or kept quiet as a flap of one that was: leaving it starts the re-arm
   * window again, so a session that keeps flapping stays quiet until it has held still for `rearmMs`.
   */
  readonly announced: boolean;
  /** Per event, when the session last left a state that had been announced (or kept quiet as its flap). */
  readonly leftAt: Readonly<Partial<Record<NotifyEvent, number>>>;
}

interface Pending extends Announcement {
  readonly dueAt: number;
}

export interface PolicyState {
  readonly sessions: ReadonlyMap<string, Track>;
  readonly pending: readonly Pending[];
  readonly lastSentAt: number | undefined;
}

export const INITIAL_STATE: PolicyState = { sessions: new Map(), pending: [], lastSentAt: undefined };

export interface StepResult {
  readonly state: PolicyState;
  /** One notification's worth (possibly several sessions), or empty. */
  readonly send: readonly Announcement[];
  /** When to call {@link step} again with no change; undefined: nothing is waiting. */
  readonly wakeAt: number | undefined;
}

/** The event entering `next` from `previous` would announce, if any. */
export function eventOf(previous: AgentStatus | undefined, next: StatusChange['status']): NotifyEvent | undefined {
  if (next === 'needs_approval') return 'approval';
  if (next === 'died') return 'died';
  // A turn that ended: waiting after working (or after an approval). A session that starts waiting is not news.
  if (next === 'waiting' && (previous === 'working' || previous === 'needs_approval')) return 'done';
  return undefined;
}

/** Applies one change (or none: a wake-up) at `now`, and says what to send now and when to look again. */
export function step(state: PolicyState, change: StatusChange | undefined, now: number, policy: NotifyPolicy): StepResult {
  const observed = change ? observe(state, change, now, policy) : state;
  return due(observed, now, policy);
}

function observe(state: PolicyState, change: StatusChange, now: number, policy: NotifyPolicy): PolicyState {
  const sessions = new Map(state.sessions);
  const track = sessions.get(change.session) ?? { status: undefined, announced: false, leftAt: {} };
  const ending = change.status === 'ended' || change.status === 'died';
  const next = ending ? undefined : (change.status as AgentStatus);
  let pending = state.pending;
  if (next === track.status && !ending) {
    // Same state (another tool waiting, say): a pending announcement keeps its time but takes the newer words.
    pending = pending.map((item) => (item.session === change.session ? { ...item, name: change.name, detail: change.detail ?? item.detail, socket: change.socket ?? item.socket } : item));
    return { ...state, pending };
  }
  // Leaving: what had not settled is dropped; what was announced starts its re-arm window.
  pending = pending.filter((item) => item.session !== change.session);
  const leaving: NotifyEvent | undefined = track.status === 'needs_approval' ? 'approval' : track.status === 'waiting' ? 'done' : undefined;
  const leftAt = track.announced && leaving ? { ...track.leftAt, [leaving]: now } : track.leftAt;
  const event = eventOf(track.status, change.status);
  const rearmed = event === undefined || leftAt[event] === undefined || now - leftAt[event]! >= policy.rearmMs;
  if (event && policy.events.has(event) && rearmed) {
    pending = [...pending, { session: change.session, event, name: change.name, detail: change.detail, socket: change.socket, dueAt: event === 'died' ? now : now + policy.settleMs }];
  }
  if (ending) sessions.delete(change.session);
  else sessions.set(change.session, { status: next, announced: event !== undefined && !rearmed, leftAt });
  return { ...state, sessions, pending };
}

function due(state: PolicyState, now: number, policy: NotifyPolicy): StepResult {
  if (state.pending.length === 0) return { state, send: [], wakeAt: undefined };
  const firstDue = Math.min(...state.pending.map((item) => item.dueAt));
  const gapEnds = state.lastSentAt === undefined ? -Infinity : state.lastSentAt + policy.minGapMs;
  const at = Math.max(firstDue, gapEnds);
  if (now < at) return { state, send: [], wakeAt: at };
  const send = state.pending.filter((item) => item.dueAt <= now);
  const pending = state.pending.filter((item) => item.dueAt > now);
  const sessions = new Map(state.sessions);
  for (const item of send) {
    const track = sessions.get(item.session);
    if (track) sessions.set(item.session, { ...track, announced: true });
  }
  const wakeAt = pending.length === 0 ? undefined : Math.max(Math.min(...pending.map((item) => item.dueAt)), now + policy.minGapMs);
  return { state: { sessions, pending, lastSentAt: now }, send: send.map(({ dueAt: _dueAt, ...announcement }) => announcement), wakeAt };
}
