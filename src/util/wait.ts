import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `condition` until it holds or `timeoutMs` passes; resolves true as soon as it holds. Waits in
 * `mam` are upper bounds on an outcome, never fixed sleeps: an agent that exits in 200 ms costs 200 ms.
 */
export async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(Math.min(intervalMs, Math.max(1, deadline - Date.now())));
  }
}
