import { mkdirSync, openSync, readFileSync, unlinkSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';
import { isAlive, processId, type ProcessId } from '../proc/tree.js';

/**
 * At most one `mam watch` per status directory, started on demand by the hooks. `watch.pid` holds the
 * watcher's pid and start time: a hook checks it with two small reads (no lock, no spawn) and starts a
 * watcher only when none is alive; the watcher claims the file with O_EXCL, so two hooks racing to start
 * one end with one.
 */
const PID_FILE = 'watch.pid';

export function runningWatcher(dir: string): ProcessId | undefined {
  try {
    const [pid, start] = readFileSync(path.join(dir, PID_FILE), 'utf8').trim().split(/\s+/).map(Number);
    const id = { pid: pid ?? NaN, start: start ?? NaN };
    return Number.isInteger(id.pid) && Number.isInteger(id.start) && isAlive(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** Makes this process the directory's watcher; false when a live one already is. */
export function claimWatcher(dir: string): boolean {
  mkdirSync(dir, { recursive: true });
  const self = processId(process.pid);
  if (!self) return false;
  const file = path.join(dir, PID_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(file, 'wx', 0o600);
      writeSync(fd, `${self.pid} ${self.start}\n`);
      closeSync(fd);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      if (runningWatcher(dir)) return false;
      // A dead watcher's file (killed, or the machine rebooted): take its place.
      try {
        unlinkSync(file);
      } catch {
        // Another starter removed it first; the next open decides.
      }
    }
  }
  return false;
}

/** Gives the pid file up, if it is still ours. */
export function releaseWatcher(dir: string): void {
  const mine = runningWatcher(dir);
  if (mine?.pid === process.pid) {
    try {
      unlinkSync(path.join(dir, PID_FILE));
    } catch {
      // Already gone.
    }
  }
}

/**
 * Starts `mam watch` detached unless one is alive. `argv` is how to run mam (node + script); the child
 * outlives the hook, in its own session, with no stdio tied to the agent.
 */
export async function ensureWatcher(dir: string, argv: readonly string[], env: NodeJS.ProcessEnv): Promise<boolean> {
  if (env['MAM_WATCH'] === '0' || runningWatcher(dir)) return false;
  const [command, ...args] = argv;
  if (!command) return false;
  // Loaded only here: a hook that finds its watcher alive (nearly every call) does not pay for child_process.
  const { spawn } = await import('node:child_process');
  const child = spawn(command, [...args, 'watch'], { detached: true, stdio: 'ignore', env });
  child.on('error', () => undefined);
  child.unref();
  return true;
}
