import { describe, expect, it } from 'vitest';
import type { NotifyEvent } from '../../src/config.js';
import { eventOf, INITIAL_STATE, step, type Announcement, type NotifyPolicy, type PolicyState, type StatusChange } from '../../src/notify/policy.js';

/**
 * The debounce of docs/status.md, 'Notifications', driven by a fake clock: the policy is a pure function of the
 * changes and the time, so every rule is checked at the exact millisecond it turns.
 */
const POLICY: NotifyPolicy = { settleMs: 1_000, rearmMs: 30_000, minGapMs: 5_000, events: new Set<NotifyEvent>(['approval', 'done', 'died']) };

/** A clock that only moves when told, and a policy driven the way the notifier drives it (wake-ups included). */
class Driver {
  state: PolicyState = INITIAL_STATE;
  now = 0;
  wakeAt: number | undefined;
  readonly sent: { at: number; batch: readonly Announcement[] }[] = [];

  constructor(private readonly policy: NotifyPolicy = POLICY) {}

  change(session: string, status: StatusChange['status'], detail: string | null = null): void {
    this.apply({ session, status, name: `${session}-name`, detail, socket: null });
  }

  /** Moves the clock to `to`, firing every wake-up on the way at its own time. */
  advance(to: number): void {
    while (this.wakeAt !== undefined && this.wakeAt <= to) {
      this.now = this.wakeAt;
      this.apply(undefined);
    }
    this.now = to;
  }

  private apply(change: StatusChange | undefined): void {
    const result = step(this.state, change, this.now, this.policy);
    this.state = result.state;
    this.wakeAt = result.wakeAt;
    if (result.send.length > 0) this.sent.push({ at: this.now, batch: result.send });
  }

  /** What was sent, as `at: session event` strings. */
  get log(): string[] {
    return this.sent.map(({ at, batch }) => `${at}: ${batch.map((item) => `${item.session} ${item.event}`).join(', ')}`);
  }
}

describe('notification policy (fake clock)', () => {
  it('an approval is announced once, after it held for the settle time, with what it waits for', () => {
    const clock = new Driver();
    clock.change('s1', 'working');
    clock.change('s1', 'needs_approval', 'Bash: npm test');
    expect(clock.wakeAt).toBe(1_000);
    clock.advance(999);
    expect(clock.log).toEqual([]);
    clock.advance(1_000);
    expect(clock.log).toEqual(['1000: s1 approval']);
    expect(clock.sent[0]!.batch[0]).toMatchObject({ name: 's1-name', detail: 'Bash: npm test' });
    // Still waiting, another tool asks too: the same entry, nothing new.
    clock.change('s1', 'needs_approval', 'Edit');
    clock.advance(60_000);
    expect(clock.log).toEqual(['1000: s1 approval']);
  });

  it('an approval answered within the settle time is never announced', () => {
    const clock = new Driver();
    clock.change('s1', 'needs_approval');
    clock.advance(500);
    clock.change('s1', 'working');
    clock.advance(10_000);
    expect(clock.log).toEqual([]);
    expect(clock.wakeAt).toBeUndefined();
  });

  it('a state that flaps back within the re-arm window is not announced again; one that held still that long is', () => {
    const clock = new Driver();
    clock.change('s1', 'needs_approval');
    clock.advance(2_000);
    clock.change('s1', 'working'); // the announced approval left at 2 s
    clock.advance(31_999);
    clock.change('s1', 'needs_approval'); // 29.999 s later: a flap
    clock.advance(40_000);
    expect(clock.log).toEqual(['1000: s1 approval']);
    clock.change('s1', 'working'); // the flap ends at 40 s: the window starts again from here
    clock.advance(69_999);
    clock.change('s1', 'needs_approval');
    clock.advance(69_999 + 5_000);
    expect(clock.log).toEqual(['1000: s1 approval']);
    clock.change('s1', 'working'); // left at 75 s
    clock.advance(105_000);
    clock.change('s1', 'needs_approval'); // exactly 30 s later: news again
    clock.advance(110_000);
    expect(clock.log).toEqual(['1000: s1 approval', '106000: s1 approval']);
  });

  it('at most one notification per gap: what falls due meanwhile is coalesced into the next', () => {
    const clock = new Driver();
    clock.change('a', 'needs_approval');
    clock.advance(1_000);
    clock.change('b', 'needs_approval');
    clock.advance(1_500);
    clock.change('c', 'needs_approval');
    // b is due at 2 s and c at 2.5 s, but the gap after a's runs until 6 s: one notification for both then.
    expect(clock.wakeAt).toBe(6_000);
    clock.advance(20_000);
    expect(clock.log).toEqual(['1000: a approval', '6000: b approval, c approval']);
  });

  it('a turn that ends is "done" only from working or an approval; a session that starts waiting is not news', () => {
    expect(eventOf(undefined, 'waiting')).toBeUndefined();
    expect(eventOf('working', 'waiting')).toBe('done');
    expect(eventOf('needs_approval', 'waiting')).toBe('done');
    expect(eventOf('waiting', 'working')).toBeUndefined();
    const clock = new Driver();
    clock.change('s1', 'waiting');
    clock.advance(5_000);
    clock.change('s1', 'working');
    clock.advance(6_000);
    clock.change('s1', 'waiting');
    clock.advance(20_000);
    expect(clock.log).toEqual(['7000: s1 done']);
  });

  it('a death is announced without settling; a session that ended (SessionEnd, /clear) is not', () => {
    const clock = new Driver();
    clock.change('s1', 'working');
    clock.change('s2', 'working');
    clock.advance(100);
    clock.change('s1', 'died');
    expect(clock.log).toEqual(['100: s1 died']);
    clock.change('s2', 'ended');
    clock.advance(60_000);
    expect(clock.log).toEqual(['100: s1 died']);
  });

  it('a session that dies while its approval settles: the approval goes, the death is told', () => {
    const clock = new Driver();
    clock.change('s1', 'needs_approval');
    clock.advance(500);
    clock.change('s1', 'died');
    clock.advance(60_000);
    expect(clock.log).toEqual(['500: s1 died']);
  });

  it('events that are not chosen are never announced, and their state changes move nothing', () => {
    const clock = new Driver({ ...POLICY, events: new Set<NotifyEvent>(['approval']) });
    clock.change('s1', 'working');
    clock.change('s1', 'waiting');
    clock.change('s2', 'working');
    clock.change('s2', 'died');
    clock.advance(60_000);
    expect(clock.log).toEqual([]);
    clock.change('s1', 'needs_approval');
    clock.advance(61_000);
    expect(clock.log).toEqual(['61000: s1 approval']);
  });

  it('a flapping session never spams: 100 flips in two minutes make one notification, the next after it held still', () => {
    const clock = new Driver();
    for (let flip = 0; flip < 100; flip++) {
      clock.change('s1', flip % 2 === 0 ? 'needs_approval' : 'working');
      // Each state holds 1.2 s: long enough to settle, so only the re-arm window keeps it quiet.
      clock.advance(clock.now + 1_200);
    }
    expect(clock.log).toEqual(['1000: s1 approval']);
    // Working since 120 s; 30 s of that and the next approval is news again.
    clock.advance(150_000);
    clock.change('s1', 'needs_approval');
    clock.advance(160_000);
    expect(clock.log).toEqual(['1000: s1 approval', '151000: s1 approval']);
  });

  it('the state is not mutated: an old state stepped again gives the same answer', () => {
    const clock = new Driver();
    clock.change('s1', 'needs_approval');
    const before = clock.state;
    const first = step(before, undefined, 1_000, POLICY);
    const again = step(before, undefined, 1_000, POLICY);
    expect(first.send).toEqual(again.send);
    expect(before.pending).toHaveLength(1);
  });
});
