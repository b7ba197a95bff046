import type { AgentStatus } from '../facts/schema.js';

/**
 * The tmux status-line segment (docs/status.md, 'The tmux status line'): how many sessions need approval, are stopped on a
 * usage limit, work and wait, as `⚠2 ⏸1 ●3 ○1` in tmux's own `#[…]` style syntax, which status-right renders. Pure: the watcher keeps it in a
 * file (segment-file.ts) and `mam status --tmux` prints it.
 */
export interface SegmentCounts {
  readonly needs_approval: number;
  readonly limited: number;
  readonly working: number;
  readonly waiting: number;
}

/**
 * Most pressing first, as a person reads it: red needs you, yellow is busy, green is free for more work. Each part
 * brings its own dark background: on tmux's default status bar (green) a green or yellow count would not be seen.
 */
const CHIP = 'bg=colour236';
const PARTS: readonly { readonly status: AgentStatus; readonly symbol: string; readonly style: string }[] = [
  { status: 'needs_approval', symbol: '⚠', style: `fg=red,bold,${CHIP}` },
  // Stopped on a usage limit: nothing to do but wait for the reset (or switch models).
  { status: 'limited', symbol: '⏸', style: `fg=magenta,${CHIP}` },
  { status: 'working', symbol: '●', style: `fg=yellow,${CHIP}` },
  { status: 'waiting', symbol: '○', style: `fg=green,${CHIP}` },
];

/** Sessions with no status yet (no agent fact) are not counted: they show nothing a person could act on. */
export function countStatuses(statuses: Iterable<AgentStatus | undefined>): SegmentCounts {
  const counts = { needs_approval: 0, limited: 0, working: 0, waiting: 0 };
  for (const status of statuses) if (status) counts[status] += 1;
  return counts;
}

/**
 * `⚠2 ●3 ○1`; a state with no session is left out, and no session at all is the empty string, so status-right
 * stays clean. `color`: each part a padded chip in tmux style syntax, reset with `#[default]` (the status line's
 * own style).
 */
export function tmuxSegment(counts: SegmentCounts, color: boolean): string {
  return PARTS.filter((part) => counts[part.status] > 0)
    .map((part) => (color ? `#[${part.style}] ${part.symbol}${counts[part.status]} #[default]` : `${part.symbol}${counts[part.status]}`))
    .join(color ? '' : ' ');
}

/** The segment without its `#[…]` styles (for NO_COLOR or --no-color), `##` back to `#`. */
export function plainSegment(text: string): string {
  return text.replace(/#\[[^\]]*\]/g, '').replace(/##/g, '#').trim().replace(/ {2,}/g, ' ');
}
