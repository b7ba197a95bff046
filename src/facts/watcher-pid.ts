import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import { isAlive, processId, type ProcessId } from '../proc/tree.js';
import { olderThan, readTextOrUndefined, removeIfPresent } from '../util/files.js';
import { removeIfStill } from './lock.js';

/**
 * At most one `mam watch` per status directory, started on demand by the hooks. `watch.pid` holds the
 * watcher's pid and start time: a hook checks it with two small reads (no lock, no spawn) and starts a
 * watcher only when none is alive; the watcher claims the file with O_EXCL, so two hooks racing to start
 * one end with one.
 */
const PID_FILE = 'watch.pid';
const TORN_STALE_MS = 2_000;

export function runningWatcher(dir: string): ProcessId | undefined {
  const id = parsePidFile(readTextOrUndefined(path.join(dir, PID_FILE)));
  return id && isAlive(id) ? id : undefined;
}

function parsePidFile(text: string | undefined): ProcessId | undefined {
  const [pid, start] = (text ?? '').trim().split(/\s+/).map(Number);
  return Number.isInteger(pid) && Number.isInteger(start) ? { pid: pid!, start: start! } : undefined;
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
      // A dead watcher's file (killed, or the machine rebooted): take its place. Judge and remove the very same
      // content, so two starters racing here cannot remove each other's fresh claim.
      const seen = readTextOrUndefined(file);
      const holder = parsePidFile(seen);
      if (holder && isAlive(holder)) return false;
      // Torn: a claim being written right now — or one whose writer died mid-write, which only age tells.
      if (seen !== undefined && (holder || olderThan(file, TORN_STALE_MS))) removeIfStill(file, seen);
    }
  }
  return false;
}

/** Gives the pid file up, if it is still ours. */
export function releaseWatcher(dir: string): void {
  const mine = runningWatcher(dir);
  if (mine?.pid === process.pid) removeIfPresent(path.join(dir, PID_FILE));
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
