import { randomBytes } from 'node:crypto';
import { open, readdir, readlink, realpath, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Replaces `file` so that a reader — or a crash at any instant — sees the old content or the new, never
 * a mix: write a sibling temp file, fsync it, rename it over, then fsync the directory so the rename
 * itself survives a power loss (write-file-atomic and atomically skip that last step; docs/registry.md, 'Why a
 * sidecar lock taken with util-linux flock'). The caller holds the registry lock, which is what makes the
 * read-modify-write safe.
 *
 * A symlink at `file` is written through, not replaced: the temp file goes beside the file it points to and is
 * renamed over that (a rename over the link itself would turn it into a plain file and leave the target stale).
 * The temp file's name carries our pid, so a later writer can tell a dead writer's leftover from a live one's.
 */
export async function writeFileAtomic(given: string, content: string, newFileMode = 0o644, options: { readonly deferDirectorySync?: boolean } = {}): Promise<string> {
  const file = await writeTarget(given);
  const directory = path.dirname(file);
  const temp = path.join(directory, `${tempPrefix(file)}${process.pid}-${randomBytes(6).toString('hex')}`);
  // An existing file keeps its mode (a registry a user made 600 stays 600); a new one gets `newFileMode`.
  const mode = await stat(file).then(
    (stats) => stats.mode & 0o777,
    () => newFileMode,
  );
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(content, 'utf8');
    await handle.sync();
  } catch (error) {
    await handle.close();
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  await handle.close();
  try {
    await rename(temp, file);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
  // Deferred by a caller that writes many files in one directory and syncs it once afterwards (src/jobs/batch.ts).
  if (!options.deferDirectorySync) await syncDirectory(directory);
  return directory;
}

/**
 * The file a write to `file` replaces: `file` itself, or the file a symlink there finally points to — also when
 * that file does not exist yet (a dangling link is created through, as `echo > link` would).
 */
export async function writeTarget(file: string): Promise<string> {
  try {
    return await realpath(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return file; // the write reports what is wrong
  }
  let current = file;
  // 40 hops, as the kernel's own limit for symlink chains (ELOOP); a loop ends here and fails in the write.
  for (let hops = 0; hops < 40; hops++) {
    const link = await readlink(current).catch(() => undefined);
    if (link === undefined) return current;
    current = path.resolve(path.dirname(current), link);
  }
  return current;
}

/**
 * Removes temp files that writers of `file` left when they were killed between create and rename (each can be as
 * big as the file). Only those whose writer's pid is gone: a live writer's temp file is about to be renamed, and
 * that writer may not hold the lock we hold (it named the registry by another path, so took another lock file).
 * Safe without the lock for the same reason, so a pass that writes nothing can sweep too. Best effort: a file we
 * cannot remove is left for the next sweep.
 */
export async function removeStaleTempFiles(given: string): Promise<void> {
  const file = await writeTarget(given);
  const directory = path.dirname(file);
  const prefix = tempPrefix(file);
  const names = await readdir(directory).catch(() => [] as string[]);
  await Promise.all(
    names
      .filter((name) => name.startsWith(prefix) && writerIsGone(name.slice(prefix.length)))
      .map((name) => unlink(path.join(directory, name)).catch(() => undefined)),
  );
}

/** `rest` is what follows the prefix: `<pid>-<random>`. A name not in that shape is not ours and stays. */
function writerIsGone(rest: string): boolean {
  const match = /^(\d+)-/.exec(rest);
  if (!match) return false;
  const pid = Number(match[1]);
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: alive, only not ours to signal.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function tempPrefix(file: string): string {
  return `.${path.basename(file)}.tmp-`;
}

/** fsync of a directory, so the renames in it survive a power loss. */
export async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
