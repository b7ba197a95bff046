import { randomBytes } from 'node:crypto';
import { open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Replaces `file` so that a reader — or a crash at any instant — sees the old content or the new, never
 * a mix: write a sibling temp file, fsync it, rename it over, then fsync the directory so the rename
 * itself survives a power loss (write-file-atomic and atomically skip that last step; reference §4.1).
 * The caller holds the registry lock, which is what makes the read-modify-write safe.
 */
export async function writeFileAtomic(file: string, content: string, newFileMode = 0o644): Promise<void> {
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
  await syncDirectory(directory);
}

/**
 * Temp files left by a writer killed between create and rename. Only lock holders write temp files, so
 * any that exist while we hold the lock belong to a writer that died.
 */
export async function removeStaleTempFiles(file: string): Promise<void> {
  const directory = path.dirname(file);
  const prefix = tempPrefix(file);
  const names = await readdir(directory).catch(() => [] as string[]);
  await Promise.all(
    names.filter((name) => name.startsWith(prefix)).map((name) => unlink(path.join(directory, name)).catch(() => undefined)),
  );
}

function tempPrefix(file: string): string {
  return `.${path.basename(file)}.tmp-`;
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
