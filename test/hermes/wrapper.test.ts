import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, realpath, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HERMES_STANDIN_BIN } from './standin.js';

/**
 * The `hermes` wrapper's choice between the suite's bundle (bundle.ts) and tsx, on a copy of the wrapper in a tree of
 * its own: the repository's files and their times are never touched. HERMES_STANDIN_NODE is a stand-in `node` that
 * prints the arguments it was given, which say which one the wrapper chose.
 */

const run = promisify(execFile);
let root: string;
let wrapper: string;
let bundle: string;
let source: string;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  root = await realpath(await mkdtemp(path.join(os.tmpdir(), 'mam-hermes-wrapper-')));
  const here = path.join(root, 'test', 'hermes');
  wrapper = path.join(here, 'hermes');
  bundle = path.join(root, 'node_modules', '.cache', 'mam-test', 'hermes-standin.mjs');
  source = path.join(root, 'src', 'registry', 'lock.ts');
  for (const dir of [here, path.dirname(bundle), path.dirname(source), path.join(root, 'node_modules', 'tsx', 'dist')]) await mkdir(dir, { recursive: true });
  await copyFile(HERMES_STANDIN_BIN, wrapper);
  await writeFile(path.join(here, 'cli.ts'), '');
  await writeFile(path.join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs'), '');
  await writeFile(source, '');
  const node = path.join(root, 'node');
  await writeFile(node, '#!/bin/sh\necho "$@"\n', { mode: 0o755 });
  env = { PATH: process.env['PATH'], HERMES_STANDIN_NODE: node };
});

afterEach(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

async function chosen(): Promise<string> {
  const said = (await run(wrapper, ['kanban', 'list'], { env })).stdout.trim();
  return said.split(' ').map((word) => (word.startsWith(root) ? `<root>/${path.relative(root, word)}` : word)).join(' ');
}

/** Sets a file's modification time to `secondsAgo` before now. */
async function age(file: string, secondsAgo: number): Promise<void> {
  const at = Date.now() / 1000 - secondsAgo;
  await utimes(file, at, at);
}

describe('the hermes wrapper', () => {
  it('runs the bundle while it is newer than every source, and tsx once a source is newer or the bundle is gone', async () => {
    await writeFile(bundle, '');
    for (const file of [source, path.join(root, 'test', 'hermes', 'cli.ts')]) await age(file, 60);
    expect(await chosen()).toBe('<root>/node_modules/.cache/mam-test/hermes-standin.mjs kanban list');

    // An edit after the last build (here: a file of src/ the stand-in imports) is never run stale.
    await age(source, 0);
    await age(bundle, 30);
    expect(await chosen()).toBe('--import <root>/node_modules/tsx/dist/loader.mjs <root>/test/hermes/cli.ts kanban list');

    await rm(bundle);
    expect(await chosen()).toBe('--import <root>/node_modules/tsx/dist/loader.mjs <root>/test/hermes/cli.ts kanban list');
  });

  it('runs tsx when `find` is not on PATH, so a minimal PATH still works', async () => {
    await writeFile(bundle, '');
    for (const file of [source, path.join(root, 'test', 'hermes', 'cli.ts')]) await age(file, 60);
    env = { ...env, PATH: '/nonexistent' };
    expect(await chosen()).toBe('--import <root>/node_modules/tsx/dist/loader.mjs <root>/test/hermes/cli.ts kanban list');
  });
});
