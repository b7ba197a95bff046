import { waitFor } from '../../src/util/wait.js';

export interface UntilOptions {
  /** Appended to the failure message, e.g. the output so far or the last screen: usually all it takes to see why. */
  readonly detail?: () => string | Promise<string>;
  /**
   * How often to look. By default every 50 ms for the first 2 s (as src/util/wait.ts), then every 250 ms: a look often
   * starts a process (`tmux capture-pane`, `mam status`), and a long wait on a loaded machine looking 20 times a second
   * took CPU from the very thing it waited for. A test that must catch a short-lived state says how often to look.
   */
  readonly intervalMs?: number;
}

const BACKING_OFF = (elapsedMs: number): number => (elapsedMs < 2_000 ? 50 : 250);

/**
 * Waits until `condition` holds and resolves how many ms that took; after `timeoutMs` fails the test with an Error
 * naming `what`. The bound is an upper limit for a hang, never an expectation of speed: a loaded machine may take
 * many times longer than a quiet one, and a condition that holds at once costs nothing. Built on src/util/wait.ts.
 */
export async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs: number, options: UntilOptions = {}): Promise<number> {
  const started = Date.now();
  if (await waitFor(condition, timeoutMs, options.intervalMs ?? BACKING_OFF)) return Date.now() - started;
  const detail = options.detail === undefined ? '' : await options.detail();
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail === '' ? '' : `\n${detail}`}`);
}

/** {@link until} for a probe that yields what it found: resolves its first truthy answer. */
export async function untilValue<T>(
  probe: () => T | undefined | null | false | '' | 0 | Promise<T | undefined | null | false | '' | 0>,
  what: string,
  timeoutMs: number,
  options: UntilOptions = {},
): Promise<T> {
  let found: T | undefined;
  await until(
    async () => {
      const value = await probe();
      if (!value) return false;
      found = value;
      return true;
    },
    what,
    timeoutMs,
    options,
  );
  return found as T;
}
