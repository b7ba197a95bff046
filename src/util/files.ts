import { readFileSync, statSync, unlinkSync } from 'node:fs';

/**
 * Small synchronous file reads for the status files, lock files and pid files: a few hundred bytes each, on
 * `mam hook`'s path, where a missing file is an answer, not an error.
 */

/** The file's text, or undefined when it cannot be read (missing, a directory, no permission). */
export function readTextOrUndefined(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Whether the file was last written more than `ms` ago; false when it is gone. */
export function olderThan(file: string, ms: number): boolean {
  try {
    return Date.now() - statSync(file).mtimeMs > ms;
  } catch {
    return false;
  }
}

/** Removes the file if it is there; a file already gone is what was wanted. */
export function removeIfPresent(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}
