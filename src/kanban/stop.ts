import { commentSeq } from './coalesce.js';
import type { BlockKind, CardComment } from './types.js';

/**
 * Is this comment a person asking the monitor to stop? Only a comment that *is* the request counts —
 * "stop", "Stop monitoring.", "please stop" — never one that merely contains the word ("don't stop",
 * "stop the build on failure?"), so the monitor is not ended by a passing remark.
 */
const STOP_REQUEST = /^(?:please\s+)?stop(?:\s+(?:monitoring|the\s+monitor|now))?(?:\s+please)?[\s.!]*$/i;

export function isStopRequest(text: string): boolean {
  return STOP_REQUEST.test(text.trim());
}

/** Hermes writes these echoes under the acting profile's name; they are status, not conversation. */
const ECHO = /^(?:BLOCKED|UNBLOCK|SCHEDULED):/;

/**
 * Comments from someone other than this worker, excluding Hermes's own status echoes. The author alone cannot tell:
 * a card assigned to `default` (the original dispatch command, docs/monitor.md) gives the worker the author
 * `default`, and that is also what a person's `hermes kanban comment` writes on the root profile. So a comment is
 * ours only when it also carries the `[mam-monitor #N]` marker every comment of ours ends with.
 */
export function isFromSomeoneElse(comment: CardComment, self: string): boolean {
  if (ECHO.test(comment.body)) return false;
  return comment.author !== self || commentSeq(comment.body) === undefined;
}

/**
 * The kind for this card's next block. Hermes sends a card to triage when it is blocked again with the same
 * kind after an unblock, and every block leaves a `BLOCKED:` echo on the card, so the kind alternates with
 * their count: whichever run blocks (a stop, a missing registry, a failure), it never repeats the last kind.
 */
export function nextBlockKind(comments: readonly CardComment[]): BlockKind {
  return comments.filter((comment) => comment.body.startsWith('BLOCKED:')).length % 2 === 0 ? 'needs_input' : 'transient';
}
