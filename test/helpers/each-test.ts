import { afterEach, beforeEach } from 'vitest';

/**
 * A fixture made fresh before each test of the calling file and disposed of after it, read through the returned
 * getter, which throws outside a test (a helper called at import time, or after the file's last test, is a bug in the
 * test). The per-file fixtures `laneEachTest`, `lifecycleEachTest` and `monitorEachTest` are built on it.
 */
export function eachTest<T>(what: string, create: () => Promise<T>, dispose: (fixture: T) => Promise<void>): () => T {
  let current: T | undefined;
  beforeEach(async () => {
    current = await create();
  });
  afterEach(async () => {
    const done = current;
    current = undefined;
    if (done !== undefined) await dispose(done);
  });
  return () => {
    if (current === undefined) throw new Error(`${what} exists only while a test runs`);
    return current;
  };
}
