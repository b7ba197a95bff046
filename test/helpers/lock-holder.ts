import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { until } from './until.js';

/**
 * Holds `lockFile` from a separate `flock`, as another writer (a bash script) would, until `releaseLock`: a holder
 * that let go after a fixed time raced the command under test on a loaded machine. It runs in its own process group,
 * so the release ends flock and its `sleep` together. Resolves once the lock is held.
 */
export async function holdLock(lockFile: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  await mkdir(path.dirname(lockFile), { recursive: true });
  const holder = spawn('flock', [lockFile, '-c', 'sleep 100000'], { detached: true, stdio: 'ignore', env });
  try {
    await until(() => {
      try {
        execFileSync('flock', ['--nonblock', lockFile, 'true'], { stdio: 'ignore' });
        return false;
      } catch {
        return true; // exit 1: the holder has it
      }
    }, 'the holder to take the lock', 60_000);
  } catch (error) {
    releaseLock(holder);
    throw error;
  }
  return holder;
}

/** Ends a holder's process group (flock and its `sleep`), if it still runs. */
export function releaseLock(holder: ChildProcess): void {
  if (holder.pid === undefined || holder.exitCode !== null) return;
  try {
    process.kill(-holder.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}
