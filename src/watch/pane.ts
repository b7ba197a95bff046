import { createHash } from 'node:crypto';
import type { PanePatterns } from '../agents/types.js';
import type { AgentStatus } from '../facts/schema.js';

/**
 * Agent status read from its tmux pane, for agents and moments without hooks (issue 6 part 4; docs/status.md,
 * 'What no hook can report: the pane fallback'). Pure: the screen text, the agent's patterns and a clock in, a
 * status out. Capturing is src/watch/pane-sampler.ts's business.
 */

/** Idle is reported only once the screen has looked idle and stayed the same this long (ccmanager: 1.5 s). */
export const PANE_IDLE_DEBOUNCE_MS = 1_500;
/** At most one capture per agent this often; also the capture interval while the screen moves. */
export const PANE_MIN_CAPTURE_GAP_MS = 2_000;
/** A screen that does not change is captured less and less often: the gap doubles up to this. */
export const PANE_MAX_CAPTURE_GAP_MS = 30_000;
export const PANE_BACKOFF_FACTOR = 2;
/**
 * Dialogs, spinners and prompts sit at the bottom of the screen; only this many non-blank lines from the
 * bottom are matched, so a question quoted higher up in the conversation does not count.
 */
export const PANE_TAIL_LINES = 20;

/** ANSI escape sequences (CSI, OSC, two-byte escapes) and other control characters but tab and newline. */
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]|[\x00-\x08\x0b-\x1f\x7f]/g;

/** The screen as plain lines: escapes stripped, trailing spaces and trailing blank lines dropped. */
export function screenLines(text: string): string[] {
  const lines = text.replace(/\r\n?/g, '\n').replace(ANSI, '').split('\n').map((line) => line.trimEnd());
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

/** The bottom of the screen: from the PANE_TAIL_LINES-th non-blank line from the end, blank lines kept. */
function tail(lines: readonly string[]): string[] {
  let seen = 0;
  for (let index = lines.length - 1; index >= 0; index -= 1) {
    if (lines[index] !== '' && (seen += 1) === PANE_TAIL_LINES) return lines.slice(index);
  }
  return [...lines];
}

/**
 * The lines the agent draws around its input box — above it, and the footer below it — when the screen shows
 * one (its last two border lines), else all of them: what a person types into the box is never read as status.
 */
function outsideInputBox(lines: readonly string[], rule: RegExp | undefined): readonly string[] {
  if (!rule) return lines;
  const borders = lines.flatMap((line, index) => (rule.test(line) ? [index] : []));
  return borders.length >= 2 ? [...lines.slice(0, borders[borders.length - 2]), ...lines.slice(borders[borders.length - 1]! + 1)] : lines;
}

/** How many non-blank lines above the input box a limit's error is looked for in (the error, the turn's footer). */
const LIMIT_LINES = 4;

/** The last `count` non-blank lines above the input box (its second-to-last border), or of the screen without one. */
function aboveInputBox(lines: readonly string[], rule: RegExp | undefined, count: number): string[] {
  const borders = rule ? lines.flatMap((line, index) => (rule.test(line) ? [index] : [])) : [];
  const above = borders.length >= 2 ? lines.slice(0, borders[borders.length - 2]) : lines;
  return above.filter((line) => line.trim() !== '').slice(-count);
}

const anyMatch = (patterns: readonly RegExp[], text: string): boolean => patterns.some((pattern) => pattern.test(text));

/**
 * What one screen shows: an approval dialog beats a busy indicator beats a usage limit's error beats an idle prompt; undefined when
 * none of the agent's patterns match (a screen mam cannot read: a shell, an unknown dialog, agy).
 */
export function classifyPane(patterns: PanePatterns, text: string): AgentStatus | undefined {
  const bottom = tail(screenLines(text));
  const joined = bottom.join('\n');
  if (anyMatch(patterns.approval, joined)) return 'needs_approval';
  if (anyMatch(patterns.busy, outsideInputBox(bottom, patterns.inputBoxRule).join('\n'))) return 'working';
  if (patterns.limit && anyMatch(patterns.limit, aboveInputBox(bottom, patterns.inputBoxRule, LIMIT_LINES).join('\n'))) return 'limited';
  if (anyMatch(patterns.idle, joined)) return 'waiting';
  return undefined;
}

/** One agent's pane over time. Start from NEW_PANE_TRACK. */
export interface PaneTrack {
  /** Digest of the last screen seen; undefined before the first capture and after the pane vanished. */
  readonly digest: string | undefined;
  /** When that screen first appeared. */
  readonly changedAt: number;
  /** The current gap between captures (grows while the screen stands still). */
  readonly gapMs: number;
  readonly nextCaptureAt: number;
  /** The status reported; undefined while unknown (nothing captured yet, idle not yet confirmed, pane gone). */
  readonly status: AgentStatus | undefined;
  /** When `status` began (for "waiting on an approval since"). */
  readonly since: number | undefined;
}

export const NEW_PANE_TRACK: PaneTrack = { digest: undefined, changedAt: 0, gapMs: PANE_MIN_CAPTURE_GAP_MS, nextCaptureAt: 0, status: undefined, since: undefined };

/** A capture's result: the screen, or `gone` (the pane vanished between listing and capture). */
export type PaneSample = { readonly screen: string } | 'gone';

export interface PaneStep {
  readonly track: PaneTrack;
  readonly status: AgentStatus | undefined;
  readonly nextCaptureAt: number;
}

/** Whether the tracker wants a capture now (the rate limit and back-off live in `nextCaptureAt`). */
export const paneDue = (track: PaneTrack, now: number): boolean => now >= track.nextCaptureAt;

/**
 * Folds one capture (or none, when it was not due) into the track. The screen decides approval and busy at
 * once; an idle-looking screen, and for an agent without patterns any screen, counts as waiting only after
 * PANE_IDLE_DEBOUNCE_MS unchanged. A screen that moves is captured every PANE_MIN_CAPTURE_GAP_MS; one that
 * stands still (and is neither busy nor asking for approval) every time twice as late, up to
 * PANE_MAX_CAPTURE_GAP_MS; any change resets.
 */
export function stepPane(track: PaneTrack, patterns: PanePatterns, sample: PaneSample | undefined, now: number): PaneStep {
  if (sample === undefined) return { track, status: track.status, nextCaptureAt: track.nextCaptureAt };
  if (sample === 'gone') {
    const gapMs = Math.min(PANE_MAX_CAPTURE_GAP_MS, track.gapMs * PANE_BACKOFF_FACTOR);
    const gone: PaneTrack = { ...NEW_PANE_TRACK, gapMs, nextCaptureAt: now + gapMs };
    return { track: gone, status: undefined, nextCaptureAt: gone.nextCaptureAt };
  }
  const lines = screenLines(sample.screen);
  const digest = createHash('sha1').update(lines.join('\n')).digest('hex');
  const first = track.digest === undefined;
  const changed = digest !== track.digest;
  const changedAt = changed ? now : track.changedAt;
  const looks = classifyPane(patterns, sample.screen);

  let status: AgentStatus | undefined;
  if (looks === 'needs_approval' || looks === 'working' || looks === 'limited') status = looks;
  else if (!first && now - changedAt >= PANE_IDLE_DEBOUNCE_MS) status = 'waiting';
  // Idle-looking (or unreadable) but not yet still for long enough. On a first look nothing can be said; an
  // unchanged screen keeps what it was; a screen that moves is an agent at work, except one already waiting
  // whose prompt is being typed into.
  else if (first) status = undefined;
  else if (!changed) status = track.status;
  else if (looks === 'waiting' && track.status === 'waiting') status = 'waiting';
  else status = 'working';

  // An open dialog is not backed off: its answer must show within a capture or two, not after 30 s.
  const still = !changed && status !== 'working' && status !== 'needs_approval';
  const gapMs = still ? Math.min(PANE_MAX_CAPTURE_GAP_MS, track.gapMs * PANE_BACKOFF_FACTOR) : PANE_MIN_CAPTURE_GAP_MS;
  const next: PaneTrack = {
    digest,
    changedAt,
    gapMs,
    nextCaptureAt: now + gapMs,
    status,
    since: status === track.status && track.since !== undefined ? track.since : status === undefined ? undefined : now,
  };
  return { track: next, status, nextCaptureAt: next.nextCaptureAt };
}

/** Where a session's activity came from: its hooks' fact files, its pane, or nowhere. */
export type ActivitySource = 'hooks' | 'pane' | null;

/**
 * One answer from hooks and pane: the hooks when they report, except that an approval dialog on screen wins
 * (Codex shows ones its hooks never report); the pane when no hook reports.
 */
export function combineActivity(hooks: AgentStatus | undefined, pane: AgentStatus | undefined): { activity: AgentStatus | null; source: ActivitySource } {
  if (pane === 'needs_approval' && hooks !== 'needs_approval') return { activity: pane, source: 'pane' };
  if (hooks !== undefined) return { activity: hooks, source: 'hooks' };
  if (pane !== undefined) return { activity: pane, source: 'pane' };
  return { activity: null, source: null };
}

/** Whether a session's pane is worth a look: no hook reports for it, or its agent hides approvals from hooks. */
export function wantsPane(patterns: PanePatterns, hooks: AgentStatus | undefined): boolean {
  return hooks === undefined || (patterns.approvalOnlyOnScreen === true && hooks !== 'needs_approval');
}
