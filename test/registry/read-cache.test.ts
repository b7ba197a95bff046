import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appendEntry } from '../../src/registry/document.js';
import { readRegistryEntries } from '../../src/registry/read-cache.js';
import { readRegistry, updateRegistry } from '../../src/registry/store.js';
import { fileVersion } from '../../src/util/file-version.js';
import { RegistryError } from '../../src/util/errors.js';
import { Sandbox } from '../helpers/sandbox.js';

/** The cached parse `mam status` reads the registry through: real files in a temp directory. */
let box: Sandbox;
let cacheDir: string;

const entry = (name: string) => `  - {name: ${name}, agent: claude, workspace: /w/${name}, status: running, tmux_server: s1, created_at: "2026-01-01T00:00:00Z"}\n`;

beforeEach(async () => {
  box = await Sandbox.create('mam-read-cache-');
  cacheDir = path.join(box.root, 'cache', 'mam', 'registry');
});
afterEach(async () => {
  await box.dispose();
});

async function cacheFiles(): Promise<string[]> {
  return readdir(cacheDir).catch(() => []);
}

describe('readRegistryEntries', () => {
  it('gives what readRegistry gives, invalid entries with their lines included, and keeps it in one cache file', async () => {
    await box.writeRegistry(`tmux_sessions:\n${entry('a')}  - {name: b, agent: claude}\n${entry('c')}`);
    const parsed = await readRegistry(box.registry);
    const first = await readRegistryEntries(box.registry, cacheDir);
    expect(first).toEqual({ entries: parsed.entries, invalid: parsed.invalid });
    expect(first.invalid).toEqual([expect.objectContaining({ name: 'b', line: 3 })]);
    expect(await cacheFiles()).toHaveLength(1);
    expect(await readRegistryEntries(box.registry, cacheDir)).toEqual(first);
  });

  it('answers from the cache while the file is unchanged: a cache for this version is believed', async () => {
    await box.writeRegistry(`tmux_sessions:\n${entry('a')}`);
    await readRegistryEntries(box.registry, cacheDir);
    const [name] = await cacheFiles();
    const cacheFile = path.join(cacheDir, name!);
    const cached = JSON.parse(await readFile(cacheFile, 'utf8')) as { entries: { name: string }[] };
    cached.entries[0]!.name = 'from-the-cache';
    await writeFile(cacheFile, JSON.stringify(cached));
    expect((await readRegistryEntries(box.registry, cacheDir)).entries.map((row) => row.name)).toEqual(['from-the-cache']);
  });

  it('reads the file again after a locked write (a rename) and after an edit in place', async () => {
    await box.writeRegistry(`tmux_sessions:\n${entry('a')}`);
    expect((await readRegistryEntries(box.registry, cacheDir)).entries.map((row) => row.name)).toEqual(['a']);
    const before = await fileVersion(box.registry);
    await updateRegistry(box.registry, (registry) => {
      appendEntry(registry.document, { name: 'b', agent: 'claude', workspace: '/w/b', status: 'running', tmux_server: 's1', created_at: '2026-01-01T00:00:00Z' });
      return { changed: true, result: undefined };
    });
    expect(await fileVersion(box.registry)).not.toBe(before);
    expect((await readRegistryEntries(box.registry, cacheDir)).entries.map((row) => row.name)).toEqual(['a', 'b']);
    // An editor writing the same file (same inode): its size and mtime change.
    await writeFile(box.registry, `tmux_sessions:\n${entry('z')}`);
    expect((await readRegistryEntries(box.registry, cacheDir)).entries.map((row) => row.name)).toEqual(['z']);
  });

  it('ignores a cache it cannot read, and one written for another registry, and rewrites it', async () => {
    await box.writeRegistry(`tmux_sessions:\n${entry('a')}`);
    await readRegistryEntries(box.registry, cacheDir);
    const cacheFile = path.join(cacheDir, (await cacheFiles())[0]!);
    for (const broken of ['{not json', 'null', JSON.stringify({ format: 1, file: '/elsewhere.yaml', version: await fileVersion(box.registry), entries: [], invalid: [] })]) {
      await writeFile(cacheFile, broken);
      expect((await readRegistryEntries(box.registry, cacheDir)).entries.map((row) => row.name)).toEqual(['a']);
      expect(JSON.parse(await readFile(cacheFile, 'utf8'))).toMatchObject({ format: 1, file: box.registry });
    }
  });

  it('a missing registry is empty and caches nothing; a broken one throws as readRegistry does and caches nothing', async () => {
    expect(await readRegistryEntries(box.registry, cacheDir)).toEqual({ entries: [], invalid: [] });
    expect(await cacheFiles()).toEqual([]);
    await box.writeRegistry('tmux_sessions: [\n');
    await expect(readRegistryEntries(box.registry, cacheDir)).rejects.toBeInstanceOf(RegistryError);
    expect(await cacheFiles()).toEqual([]);
  });

  it('a cache directory that cannot be made costs nothing but the cache', async () => {
    await box.writeRegistry(`tmux_sessions:\n${entry('a')}`);
    const blocker = path.join(box.root, 'a-file');
    await writeFile(blocker, '');
    expect((await readRegistryEntries(box.registry, path.join(blocker, 'cache'))).entries.map((row) => row.name)).toEqual(['a']);
  });
});
