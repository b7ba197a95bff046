import { spawn } from 'node:child_process';
import { open, type FileHandle } from 'node:fs/promises';
import { LockTimeoutError, MamError } from '../util/errors.js';

/**
 * An exclusive flock(2) on a sidecar lock file, interoperable with bash's `flock <file> -c …`.
 *
 * Node has no flock and the usual lock libraries use fcntl/OFD locks or mkdir, which bash's flock neither sees nor
 * respects (docs/registry.md, 'Why a sidecar lock taken with util-linux flock'). util-linux `flock` is handed our
 * open file as fd 3 and locks that open file description; the lock then belongs to us, not to the helper, and
 * lives until we close the descriptor — or until this process dies, so a killed writer never leaves it stuck.
 */
export interface HeldLock {
  readonly file: string;
  release(): Promise<void>;
}

export interface LockOptions {
  /** Upper bound on the wait for a holder to let go. */
  readonly timeoutMs?: number;
  /** The util-linux flock executable. */
  readonly flockBin?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export async function acquireLock(file: string, options: LockOptions = {}): Promise<HeldLock> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const handle = await open(file, 'a', 0o644).catch((error: NodeJS.ErrnoException) => {
    throw new MamError(`${file}: cannot open the lock file (${error.code ?? error.message}); the registry's directory must be writable`);
  });
  try {
    await lockDescriptor(handle, timeoutMs, options.flockBin ?? 'flock', file);
  } catch (error) {
    await handle.close();
    throw error;
  }
  let released = false;
  return {
    file,
    async release() {
      if (released) return;
      released = true;
      await handle.close();
    },
  };
}

/** Runs `critical` while holding the lock, and always lets go afterwards. */
export async function withLock<T>(file: string, critical: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const lock = await acquireLock(file, options);
  try {
    return await critical();
  } finally {
    await lock.release();
  }
}

function lockDescriptor(handle: FileHandle, timeoutMs: number, flockBin: string, file: string): Promise<void> {
  const seconds = Math.max(timeoutMs / 1000, 0.001).toFixed(3);
  return new Promise((resolve, reject) => {
    const child = spawn(flockBin, ['--exclusive', '--wait', seconds, '3'], {
      stdio: ['ignore', 'ignore', 'pipe', handle.fd],
    });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new MamError(`\`${flockBin}\` not found: install util-linux (it provides flock(1)), e.g. apt-get install util-linux`)
          : error,
      );
    });
    child.once('close', (code) => {
      if (code === 0) resolve();
      else if (code === 1 && stderr.trim() === '') reject(new LockTimeoutError(`${file}`, timeoutMs));
      else reject(new MamError(`${file}: flock failed (exit ${code}): ${stderr.trim() || 'no message'}`));
    });
  });
}
