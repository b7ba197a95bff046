import { stat } from 'node:fs/promises';

/**
 * One version of a file, as a string that changes whenever it is written: writers that replace it by rename give
 * it a new inode, editors change its size or times. `absent` when there is no file.
 */
export async function fileVersion(file: string): Promise<string> {
  const stats = await stat(file).catch(() => undefined);
  return stats ? `${stats.ino}:${stats.size}:${stats.mtimeMs}:${stats.ctimeMs}` : 'absent';
}
