import type { CardComment } from './types.js';

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

/** Comments from someone other than this worker, excluding Hermes's own status echoes. */
export function isFromSomeoneElse(comment: CardComment, self: string): boolean {
  return comment.author !== self && !ECHO.test(comment.body);
}
