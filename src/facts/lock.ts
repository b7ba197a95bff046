import { closeSync, openSync, writeSync } from 'node:fs';
import { isAlive, processId } from '../proc/tree.js';
import { olderThan, readTextOrUndefined, removeIfPresent } from '../util/files.js';

/**
 * The per-session lock of the fact files: an O_EXCL lock file holding the holder's pid and start time.
 *
 * Not the registry's flock(2): that needs a spawned util-linux `flock` (node has no flock), which costs a hook
 * ~15 ms on every agent event, and only mam ever takes this lock — no bash script has to see it. A holder that
 * died inside its critical section (a hook killed by its deadline, a SIGKILLed watcher) is recognised by its pid
 * and start time and its lock broken; a live holder is waited for, never broken, except after STALE_MS, far
 * beyond any critical section here (a read, a pure function, two small writes).
 */
const STALE_MS = 10_000;
const RETRY_MS = 3;

/** Locks this process holds, released by the exit handler if the process ends inside a critical section. */
const held = new Set<string>();
let exitHandler = false;

export async function withFactLock<T>(file: string, critical: () => Promise<T>, timeoutMs: number): Promise<T> {
  await acquire(file, timeoutMs);
  try {
    return await critical();
  } finally {
    release(file);
  }
}

async function acquire(file: string, timeoutMs: number): Promise<void> {
  const self = processId(process.pid);
  const mark = `${process.pid} ${self?.start ?? 0} ${Date.now()}\n`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, mark);
      closeSync(fd);
      held.add(file);
      if (!exitHandler) {
        exitHandler = true;
        process.once('exit', () => held.forEach(release));
      }
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    breakIfAbandoned(file);
    if (Date.now() >= deadline) throw new Error(`${file}: still locked after ${timeoutMs} ms (held by pid ${holder(file)?.pid ?? '?'})`);
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS + Math.random() * RETRY_MS));
  }
}

function release(file: string): void {
  if (!held.delete(file)) return;
  // Gone already when broken as stale; someone else's when taken after that.
  if (holder(file)?.pid === process.pid) removeIfPresent(file);
}

function holder(file: string): { pid: number; start: number; at: number; text: string } | undefined {
  const text = readTextOrUndefined(file);
  if (text === undefined) return undefined;
  const [pid, start, at] = text.trim().split(' ').map(Number);
  return { pid: pid ?? NaN, start: start ?? NaN, at: at ?? NaN, text };
}

function breakIfAbandoned(file: string): void {
  const seen = holder(file);
  if (!seen) return;
  // A lock file still being written (empty or torn) belongs to a holder alive right now — unless it stays torn:
  // a holder that died between create and write.
  if (!Number.isInteger(seen.pid) || !Number.isInteger(seen.start)) {
    if (olderThan(file, BREAK_STALE_MS)) removeIfStill(file, seen.text);
    return;
  }
  const abandoned = !isAlive({ pid: seen.pid, start: seen.start }) || Date.now() - seen.at > STALE_MS;
  if (abandoned) removeIfStill(file, seen.text);
}

/** A breaker that died holding `<file>.break` is let go after this long. */
const BREAK_STALE_MS = 2_000;

/**
 * Removes `file` only if it still holds `text`. Breakers take turns through an O_EXCL `<file>.break`: otherwise
 * two waiters could both judge the same dead holder's lock abandoned, and the slower one delete the lock the
 * faster one has just taken.
 */
export function removeIfStill(file: string, text: string): void {
  const breaker = `${file}.break`;
  let fd: number;
  try {
    fd = openSync(breaker, 'wx', 0o600);
  } catch {
    if (olderThan(breaker, BREAK_STALE_MS)) removeIfPresent(breaker);
    return;
  }
  try {
    if (readTextOrUndefined(file) === text) removeIfPresent(file);
  } finally {
    closeSync(fd);
    // Already gone if a waiter took us for dead: nothing left to do.
    removeIfPresent(breaker);
  }
}
