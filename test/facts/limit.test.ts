import { describe, expect, it } from 'vitest';
import { limitReset } from '../../src/facts/limit.js';

/** The reset times of docs/status.md, 'Usage limits', against a fixed clock and zone. */
const NOW = Date.parse('2026-12-03T08:10:00Z');

describe('limitReset: when a usage limit resets, from what the agent said', () => {
  it('the API message with the reset as epoch seconds after a bar', () => {
    expect(limitReset('API Error: Request rejected (429) · Claude AI usage limit reached|1796292000', NOW, 'UTC')).toBe(1796292000_000);
  });

  it("Claude's `resets <time>`: the next occurrence of that time, in the zone it names, else the local one", () => {
    expect(limitReset("You've hit your session limit · resets 3pm (UTC)", NOW, 'Europe/Berlin')).toBe(Date.parse('2026-12-03T15:00:00Z'));
    expect(limitReset("You've hit your session limit · resets 3:30pm (Europe/Berlin)", NOW, 'UTC')).toBe(Date.parse('2026-12-03T14:30:00Z'));
    expect(limitReset("You've hit your usage limit · resets 3pm", NOW, 'America/New_York')).toBe(Date.parse('2026-12-03T20:00:00Z'));
    // Already past today: tomorrow's.
    expect(limitReset('resets 7am (UTC)', NOW, 'UTC')).toBe(Date.parse('2026-12-04T07:00:00Z'));
    expect(limitReset('Your limit will reset at 12am (UTC)', NOW, 'UTC')).toBe(Date.parse('2026-12-04T00:00:00Z'));
    expect(limitReset('resets 12pm (UTC)', NOW, 'UTC')).toBe(Date.parse('2026-12-03T12:00:00Z'));
    expect(limitReset('resets 14:45', NOW, 'UTC')).toBe(Date.parse('2026-12-03T14:45:00Z'));
  });

  it('a date too (limits more than a day away), with or without the year', () => {
    expect(limitReset("You've hit your weekly limit · resets Dec 8, 5pm (UTC)", NOW, 'UTC')).toBe(Date.parse('2026-12-08T17:00:00Z'));
    expect(limitReset('resets Jan 2, 2027, 9:15am (Europe/Berlin)', NOW, 'UTC')).toBe(Date.parse('2027-01-02T08:15:00Z'));
    // Early January seen in December: next year's.
    expect(limitReset('resets Jan 2, 9am (UTC)', NOW, 'UTC')).toBe(Date.parse('2027-01-02T09:00:00Z'));
  });

  it('a duration from now', () => {
    expect(limitReset('You have hit your fast limit · resets in 2h 5m', NOW, 'UTC')).toBe(NOW + (2 * 60 + 5) * 60_000);
    expect(limitReset('Rate limited, try again in 30 seconds', NOW, 'UTC')).toBe(NOW + 30_000);
  });

  it('no time, or none that is one: undefined', () => {
    expect(limitReset('API Error: Request rejected (429) · Number of request tokens has exceeded your per-minute rate limit', NOW, 'UTC')).toBeUndefined();
    expect(limitReset('the counter resets 3 times', NOW, 'UTC')).toBeUndefined();
    expect(limitReset('resets 13pm', NOW, 'UTC')).toBeUndefined();
    expect(limitReset('resets 25:00', NOW, 'UTC')).toBeUndefined();
    // An unknown zone name falls back to the local zone rather than failing.
    expect(limitReset('resets 3pm (Mars/Olympus)', NOW, 'UTC')).toBe(Date.parse('2026-12-03T15:00:00Z'));
  });
});
