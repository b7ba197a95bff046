/**
 * The verification and retry rules of the tmux templates (docs/pane.md, 'Verification and retries'), in one place and
 * pure: every pane command asks `decide` what to do next with what it observed, so no command carries
 * its own copy of the table. The templates slept 10 s before each check; here each check is a polled
 * condition whose timeout is only an upper bound (`PANE_TIMEOUTS`).
 */

export type Operation = 'message' | 'identity' | 'spawn' | 'rebalance';

export interface RetryRule {
  /** What counts as success, for people (help text, SKILL.md, error messages). */
  readonly verifyBy: string;
  /** Attempts in all, the first one included (the templates' "max retries" for messages counts attempts). */
  readonly maxAttempts: number;
  /** What happens between attempts. */
  readonly onRetry: string;
  readonly onFailure: string;
}

export const RETRY_TABLE: Readonly<Record<Operation, RetryRule>> = {
  message: {
    verifyBy: 'the text shows in the agent\'s input (queued → sent), then leaves the input line and the token shows in the pane (submitted)',
    maxAttempts: 3,
    onRetry: 'text never shown: type it again; shown but not submitted: press Enter again (never type it twice once it showed)',
    onFailure: 'exit 1 with the stage reached and why; the pane row keeps the last receipt',
  },
  identity: {
    verifyBy: 'the agent\'s confirmation line for each command (Claude: "Session color set to: …", "Session renamed to: …"), pane alive',
    maxAttempts: 2,
    onRetry: 're-send both commands, one send each',
    onFailure: 'exit 1; the pane stays up and recorded, so it can be fixed by hand or killed',
  },
  spawn: {
    verifyBy: 'the new pane id is listed and the agent\'s prompt is visible',
    maxAttempts: 3,
    onRetry: 'kill the pane that never showed a prompt and spawn again (an agent that exits at once is not retried: it would again)',
    onFailure: 'exit 1 with the last screen',
  },
  rebalance: {
    verifyBy: 'list-panes shows the expected pane count, the master pane first and full height on the left',
    maxAttempts: 2,
    onRetry: 're-run select-layout main-vertical',
    onFailure: 'exit 1 naming what the layout looks like',
  },
};

/** Upper bounds of the polled waits, in ms; each returns as soon as its condition holds. */
export const PANE_TIMEOUTS = {
  /** From split-window to the agent's prompt (Claude: ~0.5–6 s on a cold start). */
  ready: 60_000,
  /** An agent busy with a turn is waited for this long before typing anyway (it may queue input). */
  idleBeforeSend: 15_000,
  /** From typing to the text (or its paste placeholder) showing in the input. */
  shown: 5_000,
  /** From Enter to the input being taken. */
  submitted: 10_000,
  /** From `/exit` to the agent's process ending. */
  exit: 5_000,
  /** From kill-pane to the pane being gone. */
  killed: 3_000,
} as const;

/** How far a delivery got: typed into the pane, shown in the agent's input, taken by the agent. */
export type Stage = 'queued' | 'sent' | 'submitted';

export type Decision =
  | { readonly action: 'done' }
  | { readonly action: 'retry'; readonly how: RetryHow }
  | { readonly action: 'fail'; readonly reason: string };

export type RetryHow = 'retype' | 'press-enter' | 'resend-identity' | 'respawn' | 'relayout';

/** What a check saw, per operation. */
export type Observation =
  | { readonly operation: 'message'; readonly stage: Stage; readonly paneAlive: boolean }
  | { readonly operation: 'identity'; readonly confirmed: boolean; readonly paneAlive: boolean; readonly missing?: string }
  | { readonly operation: 'spawn'; readonly outcome: 'ready' | 'exited' | 'timeout'; readonly screen?: string }
  | { readonly operation: 'rebalance'; readonly problem: string | undefined };

/** The next step after attempt number `attempt` (1-based) saw `seen`. */
export function decide(attempt: number, seen: Observation): Decision {
  const rule = RETRY_TABLE[seen.operation];
  const more = attempt < rule.maxAttempts;
  const retry = (how: RetryHow, reason: string): Decision => (more ? { action: 'retry', how } : { action: 'fail', reason: `${reason} (after ${attempt} attempt${attempt === 1 ? '' : 's'})` });
  switch (seen.operation) {
    case 'message':
      if (seen.stage === 'submitted') return { action: 'done' };
      // A dead pane will not take a second attempt either.
      if (!seen.paneAlive) return { action: 'fail', reason: `the agent's pane died with the message ${seen.stage}` };
      return seen.stage === 'queued'
        ? retry('retype', 'the text never showed in the agent\'s input: the agent is not reading input (a dialog, a crash, a program that does not echo?)')
        : retry('press-enter', 'the text showed in the agent\'s input but was never submitted: Enter was not taken');
    case 'identity':
      if (!seen.paneAlive) return { action: 'fail', reason: 'the agent\'s pane died while its identity was being set' };
      if (seen.confirmed) return { action: 'done' };
      return retry('resend-identity', `the agent never confirmed ${seen.missing ?? 'its identity commands'}`);
    case 'spawn':
      if (seen.outcome === 'ready') return { action: 'done' };
      if (seen.outcome === 'exited') return { action: 'fail', reason: 'the agent exited right after it started' };
      return retry('respawn', `the agent's prompt never showed within ${PANE_TIMEOUTS.ready / 1000} s`);
    case 'rebalance':
      return seen.problem === undefined ? { action: 'done' } : retry('relayout', seen.problem);
  }
}

/**
 * Text is compared with all whitespace removed: agents wrap and indent what they echo (Claude indents
 * continuation lines by two spaces), so the characters survive but the spacing does not.
 */
export function squash(text: string): string {
  return text.replace(/\s+/g, '');
}

/** Occurrences of `token` in `screen`, both squashed; an empty token is never "seen". */
export function countToken(screen: string, token: string): number {
  const needle = squash(token);
  if (needle === '') return 0;
  const haystack = squash(screen);
  let count = 0;
  for (let index = haystack.indexOf(needle); index !== -1; index = haystack.indexOf(needle, index + needle.length)) count += 1;
  return count;
}

/** The default receipt token: the start of the message's first non-blank line (what the pane shows first). */
export function defaultToken(message: string): string {
  const line = message.split('\n').find((candidate) => candidate.trim() !== '') ?? '';
  return [...line.trim()].slice(0, 32).join('');
}

/** The end of the message, where typing leaves the cursor: how "it is in the input line" is recognised. */
export function messageTail(message: string): string {
  return [...squash(message)].slice(-12).join('');
}

/**
 * Where a message stands. Before Enter: typed text shows as one more occurrence of its tail in the pane's
 * history (wherever the agent, or a plain program's interleaved output, put it), or as a paste placeholder
 * such as Claude's `[Pasted text #1 +3 lines]` on the cursor line. After Enter: the cursor line no longer
 * holds the text, the screen changed, and the token is in the pane once more than before anything was typed.
 */
export function messageStage(input: {
  readonly cursorLine: string;
  readonly tail: string;
  readonly collapsed: RegExp | undefined;
  readonly tails: number;
  readonly tailsBefore: number;
  readonly tokens: number;
  readonly tokensBefore: number;
  readonly enterPressed: boolean;
  readonly changedSinceEnter: boolean;
}): Stage {
  const placeholder = input.collapsed?.test(input.cursorLine) ?? false;
  if (!input.enterPressed) return input.tails > input.tailsBefore || placeholder ? 'sent' : 'queued';
  const stillInInput = (input.tail !== '' && squash(input.cursorLine).includes(input.tail)) || placeholder;
  if (!stillInInput && input.changedSinceEnter && input.tokens > input.tokensBefore) return 'submitted';
  return 'sent';
}
