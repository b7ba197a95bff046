import { setTimeout as sleep } from 'node:timers/promises';

/** How long to sleep between two looks: a fixed interval, or one that depends on how long the wait has lasted. */
export type PollInterval = number | ((elapsedMs: number) => number);

/**
 * Polls `condition` until it holds or `timeoutMs` passes; resolves true as soon as it holds. Waits in
 * `mam` are upper bounds on an outcome, never fixed sleeps: an agent that exits in 200 ms costs 200 ms.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs: PollInterval = 50): Promise<boolean> {
  const started = Date.now();
  const deadline = started + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    const now = Date.now();
    if (now >= deadline) return false;
    const interval = typeof intervalMs === 'number' ? intervalMs : intervalMs(now - started);
    await sleep(Math.min(interval, Math.max(1, deadline - now)));
  }
}
