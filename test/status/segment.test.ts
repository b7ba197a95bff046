import { describe, expect, it } from 'vitest';
import { countStatuses, plainSegment, tmuxSegment } from '../../src/status/segment.js';

describe('the tmux status-line segment', () => {
  it('counts sessions per status, most pressing first, in tmux style syntax', () => {
    const counts = countStatuses(['working', 'needs_approval', 'waiting', 'working', undefined, 'needs_approval', 'working']);
    expect(counts).toEqual({ needs_approval: 2, limited: 0, working: 3, waiting: 1 });
    expect(tmuxSegment(counts, false)).toBe('⚠2 ●3 ○1');
    expect(tmuxSegment(counts, true)).toBe('#[fg=red,bold,bg=colour236] ⚠2 #[default]#[fg=yellow,bg=colour236] ●3 #[default]#[fg=green,bg=colour236] ○1 #[default]');
    expect(plainSegment(tmuxSegment(counts, true))).toBe('⚠2 ●3 ○1');
  });

  it('a session stopped on a usage limit has its own part, after the approvals', () => {
    expect(tmuxSegment(countStatuses(['limited', 'working', 'needs_approval']), false)).toBe('⚠1 ⏸1 ●1');
    expect(tmuxSegment(countStatuses(['limited']), true)).toBe('#[fg=magenta,bg=colour236] ⏸1 #[default]');
  });

  it('a state with no session is left out, and no session at all is nothing', () => {
    expect(tmuxSegment(countStatuses(['waiting', 'waiting']), true)).toBe('#[fg=green,bg=colour236] ○2 #[default]');
    expect(tmuxSegment(countStatuses([]), true)).toBe('');
    expect(tmuxSegment(countStatuses([undefined]), false)).toBe('');
  });
});
