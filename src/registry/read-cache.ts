import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileVersion } from '../util/file-version.js';
import type { InvalidEntry } from './document.js';
import type { RegistryEntry } from './schema.js';

/** What a read-only caller needs of the registry: its valid entries and what was wrong with the others. */
export interface RegistryEntries {
  readonly entries: readonly RegistryEntry[];
  readonly invalid: readonly InvalidEntry[];
}

interface CacheFile extends RegistryEntries {
  readonly format: 1;
  readonly file: string;
  readonly version: string;
}

/**
 * The registry's entries for callers that only read them (`mam status`), from a cached parse while the file is
 * unchanged — same inode, size, mtime and ctime (util/file-version.ts), which every writer's rename and every editor
 * changes. Parsing the YAML and validating each entry was most of a one-shot `mam status` at 100 sessions after Node's
 * own start (bench/oneshot.bench.ts); the cache is one JSON file per registry path under `cacheDir`. The parser is
 * loaded only on a miss. A cache that is missing, unreadable, for another file or version is ignored and rewritten;
 * one that cannot be written costs only the next call's parse. Errors of the registry itself (RegistryError) are
 * thrown as readRegistry throws them, and never cached.
 */
export async function readRegistryEntries(file: string, cacheDir: string): Promise<RegistryEntries> {
  const cacheFile = path.join(cacheDir, `${createHash('sha256').update(file).digest('hex').slice(0, 32)}.json`);
  // Taken before the read: a write racing it changes the version, so a stale parse is never kept under the new one.
  const version = await fileVersion(file);
  const cached = await readCache(cacheFile);
  if (cached && cached.file === file && cached.version === version) return { entries: cached.entries, invalid: cached.invalid };
  const { readRegistry } = await import('./store.js');
  const { entries, invalid } = await readRegistry(file);
  if (version !== 'absent') await writeCache(cacheFile, { format: 1, file, version, entries, invalid });
  return { entries, invalid };
}

async function readCache(cacheFile: string): Promise<CacheFile | undefined> {
  try {
    const parsed = JSON.parse(await readFile(cacheFile, 'utf8')) as Partial<CacheFile> | null;
    return parsed?.format === 1 && Array.isArray(parsed.entries) && Array.isArray(parsed.invalid) ? (parsed as CacheFile) : undefined;
  } catch {
    return undefined;
  }
}

async function writeCache(cacheFile: string, content: CacheFile): Promise<void> {
  let faithful = true;
  // A timestamp YAML gave as a Date would come back from JSON a string: such a registry is parsed every time.
  const text = JSON.stringify(content, function (this: Record<string, unknown>, key, value: unknown) {
    if (this[key] instanceof Date) faithful = false;
    return value;
  });
  if (!faithful) return;
  try {
    await mkdir(path.dirname(cacheFile), { recursive: true, mode: 0o700 });
    const temp = `${cacheFile}.${process.pid}.tmp`;
    await writeFile(temp, text, { mode: 0o600 });
    await rename(temp, cacheFile);
  } catch {
    // A cache that cannot be written is only a slower next call.
  }
}
