/**
 * Runs `body` with a signal that aborts on SIGINT or SIGTERM, for loops that should finish their step
 * and exit cleanly. Listeners are added with `on`, not `once`: execa's signal-exit hook re-raises a
 * signal it believes nobody handles, and a `once` listener has removed itself by the time it counts.
 */
export async function untilStopped<T>(body: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await body(stop.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
