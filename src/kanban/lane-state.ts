import { mkdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import * as z from 'zod';
import { writeFileAtomic } from '../registry/atomic.js';
import { parseJsonOrUndefined } from '../util/json.js';
import type { CardSnapshot } from './types.js';

/**
 * What a lane run owes its card, kept in `<state dir>/lane-<card>.state` and written after every step, so a
 * restarted run (a crash, a hand-over, Hermes restarting us) neither loses nor repeats anything. The outbox is the
 * monitor's (./coalesce.ts): comments are frozen with a sequence number written into their text (`[mam-lane #N]`),
 * sent in order, and one whose send had an unknown outcome is looked for on the card before it is sent again.
 */
const OutboxComment = z.object({
  seq: z.number().int().nonnegative(),
  text: z.string(),
  /** Set once a send was tried; from then on the card is checked before each retry. */
  tried: z.boolean(),
});

/** How the run ends the card, decided (and saved) before it is done on the board, so a restart finishes it. */
const Finish = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('complete'), summary: z.string() }),
  z.object({ kind: z.literal('block'), reason: z.string(), blockKind: z.enum(['needs_input', 'transient', 'capability', 'dependency']) }),
]);

export const LaneState = z.object({
  version: z.literal(1),
  card: z.string(),
  agent: z.string(),
  /** The registry entry and tmux session running the card. */
  session: z.string(),
  server: z.string(),
  /** The delegated job whose events are the agent's reports, and its job directory. */
  jobId: z.string().nullable(),
  jobDir: z.string().nullable(),
  /** Job events (by seq) already acted on. */
  jobSeq: z.number().int().nonnegative(),
  /** Progress lines not yet in a comment: coalesced into one at most every `progressEveryMs`. */
  pending: z.array(z.string()),
  outbox: z.array(OutboxComment),
  nextSeq: z.number().int().positive(),
  /** Epoch ms of the last progress comment frozen. */
  lastProgressAt: z.number().nullable(),
  /** How many of the card's comments have been looked at (typed into the agent, or recognised as not for it). */
  commentCursor: z.number().int().nonnegative().nullable(),
  /** The start (ISO) of the approval wait that was commented, so one wait is told once. */
  approvalTold: z.string().nullable(),
  /** The approval wait that blocked the card, so it is not blocked twice for it. */
  approvalBlocked: z.string().nullable(),
  /** Times the dead agent was resumed into its conversation by this card's runs. */
  resumed: z.number().int().nonnegative(),
  /** A person's `stop` is being carried out: the job's `completed` from the stop is not the agent's. */
  stopping: z.boolean(),
  finish: Finish.nullable(),
  /** Goal cards: the summary of a `completed` the judge has not answered yet (docs/lane.md, 'Goal cards'). */
  judging: z.string().nullable().default(null),
  /** Goal cards: completions the judge rejected so far, each one turn of the card's goal budget. */
  goalTurns: z.number().int().nonnegative().default(0),
  /** Goal cards: the rejection's prompt (with its new job's report commands) still to be delivered to the agent. */
  goalPrompt: z.string().nullable().default(null),
});
export type LaneState = z.infer<typeof LaneState>;
export type LaneFinish = z.infer<typeof Finish>;

export function initialLaneState(fields: { card: string; agent: string; session: string; server: string }): LaneState {
  return {
    version: 1,
    ...fields,
    jobId: null,
    jobDir: null,
    jobSeq: 0,
    pending: [],
    outbox: [],
    nextSeq: 1,
    lastProgressAt: null,
    commentCursor: null,
    approvalTold: null,
    approvalBlocked: null,
    resumed: 0,
    stopping: false,
    finish: null,
    judging: null,
    goalTurns: 0,
    goalPrompt: null,
  };
}

export function laneStateFile(directory: string, cardId: string): string {
  return path.join(directory, `lane-${cardId.replace(/[^A-Za-z0-9_.-]/g, '_')}.state`);
}

/** The stored state of this card, or undefined; an unreadable file is set aside as `<file>.corrupt`. */
export async function loadLaneState(file: string, card: string): Promise<{ state: LaneState | undefined; discarded?: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { state: undefined };
    throw error;
  }
  const parsed = LaneState.safeParse(parseJsonOrUndefined(text));
  if (!parsed.success || parsed.data.card !== card) {
    await rename(file, `${file}.corrupt`).catch(() => undefined);
    return { state: undefined, discarded: `${file} was unreadable and was moved to ${file}.corrupt` };
  }
  return { state: parsed.data };
}

export async function saveLaneState(file: string, state: LaneState): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFileAtomic(file, `${JSON.stringify(state)}\n`);
}

const MARKER = /\[mam-lane #(\d+)\]\s*$/;

/** The sequence number a lane comment carries, if it is one. */
export function laneCommentSeq(body: string): number | undefined {
  const match = MARKER.exec(body);
  return match ? Number(match[1]) : undefined;
}

/** Queues one comment (its marker appended); comments are sent in order. */
export function enqueue(state: LaneState, text: string): LaneState {
  const seq = state.nextSeq;
  return { ...state, outbox: [...state.outbox, { seq, text: `${text}\n[mam-lane #${seq}]`, tried: false }], nextSeq: seq + 1 };
}

/** Pending progress lines become one comment, at most once every `everyMs`. */
export function freezeProgress(state: LaneState, now: number, everyMs: number, label: string): LaneState {
  if (state.pending.length === 0) return state;
  if (state.lastProgressAt !== null && now - state.lastProgressAt < everyMs) return state;
  const text = state.pending.length === 1 ? `${label} progress: ${state.pending[0]}` : [`${label} progress:`, ...state.pending.map((line) => `- ${line}`)].join('\n');
  return { ...enqueue(state, text), pending: [], lastProgressAt: now };
}

/**
 * Comments whose send had an unknown outcome, against a fresh read of the card: done when it shows them, else free to
 * send again (a run killed mid-send leaves its try marked, and the next run must neither drop nor double it).
 */
export function settleSent(state: LaneState, card: CardSnapshot, self: string): LaneState {
  if (!state.outbox.some((comment) => comment.tried)) return state;
  const landed = new Set(card.comments.filter((comment) => comment.author === self).map((comment) => laneCommentSeq(comment.body)));
  const outbox = state.outbox.filter((comment) => !(comment.tried && landed.has(comment.seq))).map((comment) => (comment.tried ? { ...comment, tried: false } : comment));
  return { ...state, outbox };
}

/** More pending progress lines than this are folded: an agent reporting in a loop cannot grow the state. */
export const MAX_PENDING = 50;

export function addProgress(state: LaneState, line: string): LaneState {
  const pending = [...state.pending, line];
  if (pending.length <= MAX_PENDING) return { ...state, pending };
  const keep = pending.slice(pending.length - (MAX_PENDING - 1));
  const earlier = /^… and (\d+) earlier/.exec(pending[0] ?? '');
  const folded = pending.length - keep.length + (earlier ? Number(earlier[1]) - 1 : 0);
  return { ...state, pending: [`… and ${folded} earlier progress reports (see the job's audit log)`, ...keep] };
}
