import { describe, expect, it } from 'vitest';
import { waitFor } from '../../src/util/wait.js';

describe('waitFor', () => {
  it('resolves true at once when the condition holds, without asking for an interval', async () => {
    const asked: number[] = [];
    expect(await waitFor(() => true, 10_000, (elapsed) => (asked.push(elapsed), 1_000))).toBe(true);
    expect(asked).toEqual([]);
  });

  it('asks an interval function before each sleep, with the time the wait has lasted so far', async () => {
    const asked: number[] = [];
    let looks = 0;
    const held = await waitFor(() => ++looks === 4, 60_000, (elapsed) => {
      asked.push(elapsed);
      return 5;
    });
    expect(held).toBe(true);
    expect(looks).toBe(4);
    expect(asked).toHaveLength(3);
    expect([...asked].sort((a, b) => a - b)).toEqual(asked);
    expect(asked[0]).toBeGreaterThanOrEqual(0);
  });

  it('resolves false once the bound has passed, whatever the interval', async () => {
    const started = Date.now();
    expect(await waitFor(() => false, 50, () => 60_000)).toBe(false);
    // The last sleep is cut to what is left of the bound: no 60 s sleep past it.
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
