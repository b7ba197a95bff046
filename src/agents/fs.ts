import { realpathSync, statSync, type Dirent, type Stats } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { parseJsonOrUndefined } from '../util/json.js';
import { readJsonlHead, type Head } from './jsonl.js';

/**
 * Read-only file access for artifact scanning, with two caches:
 * - per pass: directory listings and stats, so several registry entries sharing a workspace cost one
 *   readdir (call `newPass()` before each reconcile pass);
 * - across passes: JSONL heads, keyed by path and inode. Agents append whole lines, so a head that
 *   already held what we looked for never changes; a head that did not is read again next time.
 * Missing files and directories are answers (undefined / empty), not errors.
 */
export class ArtifactFs {
  private listings = new Map<string, Promise<Dirent[]>>();
  private stats = new Map<string, Promise<Stats | undefined>>();
  private canonical = new Map<string, Promise<string>>();
  private readonly heads = new Map<string, { ino: number; size: number; head: Head }>();

  newPass(): void {
    this.listings = new Map();
    this.stats = new Map();
    this.canonical = new Map();
  }

  list(directory: string): Promise<Dirent[]> {
    let listing = this.listings.get(directory);
    if (!listing) {
      listing = readdir(directory, { withFileTypes: true }).catch(() => [] as Dirent[]);
      this.listings.set(directory, listing);
    }
    return listing;
  }

  /**
   * Synchronous on purpose: a stat of a local file takes microseconds, while the promise API costs a
   * thread-pool round trip and, for every missing file, an exception with a stack trace — together most
   * of an idle pass's CPU (BENCHMARKS.md).
   */
  stat(file: string): Promise<Stats | undefined> {
    let result = this.stats.get(file);
    if (!result) {
      let stats: Stats | undefined;
      try {
        stats = statSync(file, { throwIfNoEntry: false });
      } catch {
        stats = undefined;
      }
      result = Promise.resolve(stats);
      this.stats.set(file, result);
    }
    return result;
  }

  async exists(file: string): Promise<boolean> {
    return (await this.stat(file)) !== undefined;
  }

  /**
   * The head of a JSONL file, re-read only when the file was replaced or, while `isComplete` says the
   * cached head lacks what the caller needs, when it grew. `maxBytes` bounds the read; an agent whose
   * first line can be large (Codex's session_meta carries the full system prompt) asks for more.
   */
  async jsonlHead(
    file: string,
    stats: Stats,
    isComplete: (head: Head) => boolean,
    maxBytes?: number,
  ): Promise<Head | undefined> {
    const cached = this.heads.get(file);
    if (cached && cached.ino === stats.ino && (cached.size === stats.size || isComplete(cached.head))) return cached.head;
    try {
      const head = await readJsonlHead(file, maxBytes);
      this.heads.set(file, { ino: stats.ino, size: stats.size, head });
      return head;
    } catch {
      return undefined;
    }
  }

  async readText(file: string, maxBytes = 1024 * 1024): Promise<string | undefined> {
    const stats = await this.stat(file);
    if (!stats?.isFile() || stats.size > maxBytes) return undefined;
    try {
      return new TextDecoder('utf-8', { fatal: false }).decode(await readFile(file));
    } catch {
      return undefined;
    }
  }

  async readJson(file: string, maxBytes?: number): Promise<unknown> {
    const text = await this.readText(file, maxBytes);
    return text === undefined ? undefined : parseJsonOrUndefined(text);
  }

  /** realpath + NFC, falling back to NFC alone when the path no longer exists (Claude does the same); per pass. */
  canonicalPath(file: string): Promise<string> {
    let result = this.canonical.get(file);
    if (!result) {
      let resolved = file;
      try {
        resolved = realpathSync.native(file);
      } catch {
        // Gone or unreadable: Claude falls back to the path as given, and so do we.
      }
      result = Promise.resolve(resolved.normalize('NFC'));
      this.canonical.set(file, result);
    }
    return result;
  }
}
