import type { JobEvent } from '../jobs/schema.js';
import { isStopRequest } from './stop.js';
import { addProgress, laneCommentSeq, type LaneState } from './lane-state.js';
import type { JudgeAnswer } from './lane-judge.js';
import type { BlockKind, CardComment, CardSnapshot } from './types.js';

/**
 * The lane's decisions as pure functions of data: which comments are for the agent and what they ask, what the
 * agent's job events mean for the card, and the words of the first prompt and the heartbeat (docs/lane.md).
 */

/** Hermes writes these echoes under the acting profile's name; they are status, not conversation. */
const ECHO = /^(?:BLOCKED|UNBLOCK|SCHEDULED):/;

/** A comment a person (or another tool) wrote: neither one of this lane's (author and marker) nor a Hermes echo. */
export function isForAgent(comment: CardComment, self: string): boolean {
  if (ECHO.test(comment.body)) return false;
  return comment.author !== self || laneCommentSeq(comment.body) === undefined;
}

export type CommentAction = { readonly kind: 'stop' } | { readonly kind: 'slash'; readonly command: string } | { readonly kind: 'message'; readonly text: string };

/** `stop` (as the monitor reads it) stops the agent; a comment starting with `/` is a slash command; anything else is typed. */
export function commentAction(comment: CardComment): CommentAction {
  const body = comment.body.trim();
  if (isStopRequest(body)) return { kind: 'stop' };
  if (body.startsWith('/')) return { kind: 'slash', command: body.split('\n', 1)[0]!.trim() };
  return { kind: 'message', text: `Comment from ${comment.author} on the Kanban card: ${oneLine(body)}` };
}

/** One line: an agent without bracketed paste takes each newline as a submit. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}

/** The lane's own settings lines (docs/lane.md, 'Settings'): for the lane, not the agent. */
const SETTING_LINE = /^\s*(?:[-*]\s+)?`?(?:interval|heartbeat|approval_alert|approval_block|progress_every)`?\s*[:=]/i;

/** What the card tells the agent first: its title, body (without the lane's settings lines), and what people already commented. */
export function firstPrompt(card: Pick<CardSnapshot, 'id' | 'title' | 'body' | 'comments'>, self: string): string {
  const earlier = card.comments.filter((comment) => isForAgent(comment, self)).map((comment) => `${comment.author}: ${oneLine(comment.body)}`);
  const body = oneLine(card.body.split('\n').filter((line) => !SETTING_LINE.test(line)).join('\n'));
  return [
    `Kanban card ${card.id}: ${card.title}.`,
    body,
    earlier.length > 0 ? `Comments so far — ${earlier.join(' | ')}` : '',
    'People may send you more through comments on the card; they arrive here as "Comment from …".',
  ]
    .filter(Boolean)
    .join(' ');
}

/** Folds new job events into the state: progress lines to coalesce, and the finish that completed/error mean. */
export function applyJobEvents(state: LaneState, events: readonly JobEvent[], blockKind: BlockKind, goal = false): LaneState {
  let next = state;
  for (const event of events) {
    if (event.seq <= next.jobSeq) continue;
    next = { ...next, jobSeq: event.seq };
    if (next.finish || next.stopping || next.judging !== null) continue;
    const detail = event.detail?.trim() || null;
    switch (event.event) {
      case 'started':
        next = addProgress(next, detail ? `started: ${detail}` : 'started');
        break;
      case 'progress':
        if (detail) next = addProgress(next, detail);
        break;
      case 'permission_required':
        next = addProgress(next, `waiting for permission${detail ? `: ${detail}` : ''}`);
        break;
      case 'completed': {
        const summary = detail ?? `${next.agent} reported the card done`;
        // A goal card's completion is the judge's to accept first.
        next = goal ? { ...next, judging: summary } : { ...next, finish: { kind: 'complete', summary } };
        break;
      }
      case 'error':
        next = { ...next, finish: { kind: 'block', reason: `${next.agent} reported an error: ${detail ?? 'no reason given'}`, blockKind } };
        break;
      case 'timeout':
        next = { ...next, finish: { kind: 'block', reason: `the agent's job timed out: ${detail ?? 'no event in time'}`, blockKind } };
        break;
      default:
        break;
    }
  }
  return next;
}

export interface LiveStatus {
  readonly activity: string | null;
  /** Since when (epoch ms) it has waited on an approval, and for what. */
  readonly approval?: { readonly sinceMs: number; readonly what: string } | undefined;
  /** When the usage limit the agent stopped on resets (ISO time), where it said so. */
  readonly limitedUntil?: string | null | undefined;
  readonly job: string | null;
}

/** How long something has waited, as a person reads it: `45 s`, `12 min`, `3 h 5 min`. */
export function waitedFor(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  return minutes < 60 ? `${minutes} min` : `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}

/** The heartbeat's note: the agent's live status as a person reads it. */
export function heartbeatNote(agent: string, session: string, live: LiveStatus, now: number): string {
  const status = live.approval
    ? `needs approval for ${waitedFor(now - live.approval.sinceMs)} (${live.approval.what})`
    : live.activity === 'working'
      ? 'working'
      : live.activity === 'waiting'
        ? 'waiting for input'
        : live.activity === 'limited'
          ? `stopped on a usage limit${live.limitedUntil ? `, resets at ${live.limitedUntil}` : ''}`
          : live.activity ?? 'status unknown';
  return `${agent} in ${session}: ${status}${live.job ? `; job ${live.job}` : ''}`;
}

/** The last `count` non-empty lines of a screen, for a comment (each cut to 200 characters). */
export function lastScreenLines(screen: string, count: number): string[] {
  return screen
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line) => line.trim() !== '')
    .slice(-count)
    .map((line) => (line.length > 200 ? `${line.slice(0, 200)}…` : line));
}

/** A goal card's budget: completions the judge may reject before the card is blocked (Hermes' goal turns). */
export interface GoalBudget {
  readonly maxTurns: number;
}

/** What the lane does with the judge's answer to a goal card's completion. */
export type GoalStep =
  | { readonly kind: 'complete'; readonly note?: string }
  | { readonly kind: 'retry'; readonly turn: number; readonly prompt: string; readonly comment: string }
  | { readonly kind: 'block'; readonly reason: string };

/**
 * The judge's answer applied as Hermes' goal loop does: `done` completes; `continue` sends the agent back with the
 * reason until the turn budget is spent, then blocks for review; a judge that could not answer fails open (the
 * completion stands), as Hermes' own completion gate does.
 */
export function goalStep(state: Pick<LaneState, 'card' | 'agent' | 'goalTurns'>, budget: GoalBudget, answer: JudgeAnswer, label: string): GoalStep {
  if (answer.kind === 'done') return { kind: 'complete' };
  if (answer.kind === 'unavailable') return { kind: 'complete', note: `${label}: the goal judge could not be asked (${answer.reason}); the completion stands.` };
  const turn = state.goalTurns + 1;
  if (turn >= budget.maxTurns) {
    return { kind: 'block', reason: `Goal-mode worker exhausted its turn budget (${turn}/${budget.maxTurns}) without completing the task. Last judge verdict: ${clip(answer.reason, 300)}` };
  }
  return {
    kind: 'retry',
    turn,
    prompt:
      `[Continuing Kanban card ${state.card}: the judge says it is not done yet] Reason: ${oneLine(clip(answer.reason, 400))}. ` +
      'Take the next concrete step toward completing the card. When the work is genuinely finished, report completed again with a summary; if you are blocked and need a person, report error with the reason.',
    comment: `${label} reported the card done; the goal judge disagreed (turn ${turn}/${budget.maxTurns}): ${oneLine(clip(answer.reason, 400))}. Sent back to ${state.agent} to go on.`,
  };
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
