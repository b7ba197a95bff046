import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage, RegistryError } from '../util/errors.js';
import { fileVersion } from '../util/file-version.js';
import { removeStaleTempFiles, writeFileAtomic } from './atomic.js';
import { parseRegistry, renderRegistry, type ParsedRegistry } from './document.js';
import { withLock, type LockOptions } from './lock.js';

/**
 * The registry file on disk. Reads need no lock (writers replace the file atomically); every write is a
 * read-modify-write under the sidecar lock `<registry>.lock`, the lock bash scripts take too.
 *
 * A registry that is a symlink is written through to the file it points to (see writeFileAtomic), while the lock
 * stays `<path as given>.lock`: that is the name a bash script holding the same path takes, and the lock file is
 * never renamed, so it works the same beside a link. Everyone must name the registry by one path for their locks
 * to meet.
 */
export function lockFileOf(registryFile: string): string {
  return `${registryFile}.lock`;
}

/** Reads and parses the registry; a missing file is an empty registry. Throws RegistryError otherwise. */
export async function readRegistry(file: string): Promise<ParsedRegistry> {
  return parseRegistry(file, await readRegistryText(file));
}

/**
 * A reader that reuses the last parse while the file is unchanged — same inode, size, mtime and ctime.
 * Writers replace the file by rename (a new inode) and editors change mtime, so a long-running monitor
 * parses the registry only when someone has written it. Read-only callers only: the returned document
 * is shared and must not be edited (writes go through updateRegistry, which always re-reads).
 */
export class CachedRegistryReader {
  private last: { key: string; registry: ParsedRegistry } | undefined;

  async read(file: string): Promise<ParsedRegistry> {
    const key = await fileVersion(file);
    if (this.last?.key === key && this.last.registry.file === file) return this.last.registry;
    const registry = await readRegistry(file);
    this.last = { key, registry };
    return registry;
  }

  /** Drops the kept parse (a writer is about to change the file and read it afresh). */
  forget(): void {
    this.last = undefined;
  }
}

export async function readRegistryText(file: string): Promise<string> {
  try {
    const bytes = await readFile(file);
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (error) {
    // No registry yet (or not even its directory): an empty one, created on the first write.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw explainReadError(file, error);
  }
}

export type RegistryMutation<T> = (registry: ParsedRegistry) => { changed: boolean; result: T } | Promise<{ changed: boolean; result: T }>;

/**
 * Re-reads the registry under the lock, lets `mutate` edit its document in place, and writes it back
 * only when `mutate` says something changed. A file that does not parse is never written: the
 * RegistryError propagates before anything is touched.
 */
export async function updateRegistry<T>(file: string, mutate: RegistryMutation<T>, options: LockOptions = {}): Promise<T> {
  await mkdir(path.dirname(file), { recursive: true }).catch((error: unknown) => {
    throw new RegistryError(file, `cannot create its directory: ${errorMessage(error)}`);
  });
  return withLock(
    lockFileOf(file),
    async () => {
      // Every locked write sweeps, whether or not it changes the file: a dead writer's temp file is as big as the
      // registry, and waiting for the next change could keep it for days.
      await removeStaleTempFiles(file);
      const registry = await readRegistry(file);
      const { changed, result } = await mutate(registry);
      if (changed) {
        // Read back before it is written (renderRegistry): guards the file against a bug in a patch.
        await writeFileAtomic(file, renderRegistry(registry));
      }
      return result;
    },
    options,
  );
}

function explainReadError(file: string, error: unknown): Error {
  if (error instanceof TypeError) return new RegistryError(file, 'is not valid UTF-8 text');
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'EISDIR':
      return new RegistryError(file, 'is a directory; --registry (or MAM_REGISTRY) must name the YAML file itself');
    case 'EACCES':
    case 'EPERM':
      return new RegistryError(file, 'cannot be read (permission denied); fix its mode or owner, or point --registry elsewhere');
    default:
      return new RegistryError(file, `cannot be read: ${errorMessage(error)}`);
  }
}
