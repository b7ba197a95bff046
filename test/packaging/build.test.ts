import { createHash } from 'node:crypto';
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanCopy, cleanEnv, run, stopAll, type Ran } from './clean-copy.js';

/**
 * scripts/build.mjs, what `npm start`, `npm test` and `npm pack` build with, on a clean copy of the repository: it
 * does only the work a change needs (nothing when nothing changed), and never leaves a dist/ that does not match the
 * sources — a deleted source's outputs go, a hand-edited dist/ or a changed tsconfig.json means a build from scratch,
 * a type error writes nothing. Each step asserts on what is in dist/ afterwards, not on how long it took.
 *
 * One clean copy is built from scratch once (beforeAll; the second test asserts on that build). Every test that
 * starts from a built tree gets its own `cp -a` of it (mtimes, the stamp and tsc's state kept), so the tests share
 * no state, run side by side, and none pays for a from-scratch build it is not about.
 */
// A full tsc on a 2-core machine loaded to ~8 takes minutes, not seconds; these bounds only catch a hang.
const FULL = 900_000;

let root: string;
/** The clean copy, never built. */
let clean: string;
/** The clean copy after one from-scratch build; only ever copied. */
let built: string;
/** That from-scratch build. */
let scratch: Ran;
let home: string;

beforeAll(async () => {
  root = await mkdtemp(path.join(os.tmpdir(), 'mam-build-'));
  clean = path.join(root, 'clean');
  built = path.join(root, 'built');
  home = path.join(root, 'home');
  await cleanCopy(clean);
  await mkdir(home);
  await copyTree(clean, built);
  scratch = await build(built);
}, FULL);

afterAll(async () => {
  stopAll();
  if (root) await rm(root, { recursive: true, force: true });
});

async function copyTree(from: string, to: string): Promise<void> {
  const copied = await run('cp', ['-a', from, to], { cwd: root, env: cleanEnv(home) });
  if (copied.code !== 0) throw new Error(`cp -a ${from} ${to} failed: ${copied.stderr}`);
}

let copies = 0;
/** A copy of `from` (the built tree unless said) that only the calling test touches. */
async function copyOf(from = built): Promise<string> {
  const repo = path.join(root, `test-${++copies}`);
  await copyTree(from, repo);
  return repo;
}

/**
 * At most two builds at a time: the tests run side by side, and more than two tsc runs on a 2-core machine only
 * trade waiting for CPU for memory.
 */
const BUILD_SLOTS = 2;
let buildsRunning = 0;
const waitingForSlot: Array<() => void> = [];
async function build(repo: string, ...args: string[]): Promise<Ran> {
  if (buildsRunning >= BUILD_SLOTS) await new Promise<void>((resolve) => waitingForSlot.push(resolve));
  else buildsRunning += 1;
  try {
    return await run(process.execPath, ['scripts/build.mjs', ...args], { cwd: repo, env: cleanEnv(home) });
  } finally {
    const next = waitingForSlot.shift();
    if (next) next(); // the slot passes on
    else buildsRunning -= 1;
  }
}

/** Every file under dist/ (the build's own bookkeeping included) → its content hash and modification time. */
async function snapshot(repo: string): Promise<Record<string, string>> {
  const walk = async (dir: string): Promise<string[]> =>
    (await Promise.all((await readdir(dir, { withFileTypes: true })).map((entry) => (entry.isDirectory() ? walk(path.join(dir, entry.name)) : [path.join(dir, entry.name)])))).flat();
  const entries = await Promise.all(
    (await walk(path.join(repo, 'dist'))).map(async (file) => {
      const [content, info] = await Promise.all([readFile(file), stat(file)]);
      return [path.relative(repo, file), `${createHash('sha256').update(content).digest('hex')} ${info.mtimeMs}`] as const;
    }),
  );
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

/** The helpers of one test, bound to its own copy. */
function inCopy(repo: string) {
  return {
    build: (...args: string[]): Promise<Ran> => build(repo, ...args),
    snapshot: (): Promise<Record<string, string>> => snapshot(repo),
    exists: (relative: string): Promise<boolean> => stat(path.join(repo, relative)).then(() => true, () => false),
    text: (relative: string): Promise<string> => readFile(path.join(repo, relative), 'utf8'),
  };
}
const said = (ran: Ran): string => `exit ${ran.code}\n${ran.stdout}${ran.stderr}`;

describe.concurrent('scripts/build.mjs on a clean copy', () => {
  it('refuses an unknown argument with its usage, building nothing', async () => {
    const { build, exists } = inCopy(await copyOf(clean));
    const ran = await build('--fast');
    expect(ran.code).toBe(2);
    expect(ran.stderr).toMatch(/unknown argument "--fast"\. Usage: node scripts\/build\.mjs \[--clean\]/);
    expect(await exists('dist')).toBe(false);
  });

  it('builds a clean clone from scratch: both entry points, the hook bundle with the agents\' aliases, a stamp', async () => {
    const { exists, text } = inCopy(built);
    const ran = scratch; // built from scratch in beforeAll, the tree every other test copies
    expect(ran.code, said(ran)).toBe(0);
    expect(ran.stdout).toMatch(/building dist\/ from scratch: there is no dist\/ yet/);
    expect(ran.stdout).toMatch(/bundled dist\/cli\/hook\.cjs/);
    const version = (JSON.parse(await text('package.json')) as { version: string }).version;
    const printed = await run(process.execPath, ['dist/cli/main.js', '--version'], { cwd: built, env: cleanEnv(home) });
    expect(printed.stdout.trim()).toBe(version);
    expect(await text('dist/cli/hook.cjs')).toMatch(/BeforeAgent/); // Gemini's alias, built in
    expect(await exists('dist/.build-stamp.json')).toBe(true);
    expect(await exists('dist/.tsbuildinfo')).toBe(true);
  }, FULL);

  it('with nothing changed, runs neither tsc nor esbuild and leaves every file in dist/ as it was', async () => {
    const repo = await copyOf();
    const { build, snapshot } = inCopy(repo);
    const before = await snapshot();
    const ran = await build();
    expect(ran.code, said(ran)).toBe(0);
    expect(ran.stdout).toMatch(/dist\/ is up to date \(\d+ source files unchanged\)/);
    expect(ran.stdout).not.toMatch(/tsc compiled|bundled/);
    expect(await snapshot()).toEqual(before);
  }, FULL);

  it('compiles a new source without rebundling the hook, which does not read it; deleting it deletes its outputs and folder', async () => {
    const repo = await copyOf();
    const { build, snapshot, exists, text } = inCopy(repo);
    const hookBefore = (await snapshot())['dist/cli/hook.cjs'];
    await mkdir(path.join(repo, 'src/zzprobe'));
    await writeFile(path.join(repo, 'src/zzprobe/probe.ts'), "export const probe = 'zz';\n");
    const added = await build();
    expect(added.code, said(added)).toBe(0);
    expect(added.stdout).toMatch(/compiling what changed since the last build: src\/zzprobe\/probe\.ts is new/);
    expect(added.stdout).toMatch(/dist\/cli\/hook\.cjs is up to date/);
    expect(await text('dist/zzprobe/probe.js')).toMatch(/'zz'/);
    expect((await snapshot())['dist/cli/hook.cjs']).toBe(hookBefore);

    await rm(path.join(repo, 'src/zzprobe'), { recursive: true });
    const removed = await build();
    expect(removed.code, said(removed)).toBe(0);
    expect(removed.stdout).toMatch(/deleted dist\/zzprobe\/probe\.js: its source is gone/);
    expect(await exists('dist/zzprobe')).toBe(false);
    expect(Object.keys(await snapshot()).filter((file) => file.includes('zzprobe'))).toEqual([]);
  }, FULL);

  it('rebundles the hook when a file it bundles changes, and when an agent\'s event aliases (loaded, not bundled) change', async () => {
    const repo = await copyOf();
    const { build, text } = inCopy(repo);
    const hookSource = path.join(repo, 'src/cli/hook.ts');
    await writeFile(hookSource, (await readFile(hookSource, 'utf8')).replace('Usage: mam hook [--agent <agent>]', 'Usage: mam hook [--agent <agent>] PROBE-HELP'));
    const bundled = await build();
    expect(bundled.code, said(bundled)).toBe(0);
    expect(bundled.stdout).toMatch(/bundled dist\/cli\/hook\.cjs/);
    expect(await text('dist/cli/hook.cjs')).toMatch(/PROBE-HELP/);

    const gemini = path.join(repo, 'src/agents/gemini.ts');
    const original = await readFile(gemini, 'utf8');
    expect(original).toMatch(/event: 'AfterTool'/);
    await writeFile(gemini, original.replace("event: 'AfterTool'", "event: 'AfterToolProbe'"));
    const aliases = await build();
    expect(aliases.code, said(aliases)).toBe(0);
    expect(aliases.stdout).toMatch(/bundled dist\/cli\/hook\.cjs/);
    expect(await text('dist/cli/hook.cjs')).toMatch(/AfterToolProbe/);
  }, FULL);

  it('a type error fails the build with a clear message and writes nothing; once fixed, the build goes through', async () => {
    const repo = await copyOf();
    const { build, snapshot, text } = inCopy(repo);
    const before = await snapshot();
    await writeFile(path.join(repo, 'src/util/zz-broken.ts'), "export const count: number = 'three';\n");
    const failed = await build();
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/zz-broken\.ts.*TS2322/);
    expect(failed.stderr).toMatch(/tsc reported errors \(above\); dist\/ was not updated\. Fix them and build again\./);
    const after = await snapshot();
    delete after['dist/.tsbuildinfo']; // tsc's own state of the failed run; not an output
    delete before['dist/.tsbuildinfo'];
    expect(after).toEqual(before);

    await writeFile(path.join(repo, 'src/util/zz-broken.ts'), 'export const count: number = 3;\n');
    const fixed = await build();
    expect(fixed.code, said(fixed)).toBe(0);
    expect(await text('dist/util/zz-broken.js')).toMatch(/count = 3/);
  }, FULL);

  it('a file in dist/ edited or added by hand means a build from scratch, which puts dist/ right', async () => {
    const repo = await copyOf();
    const { build, exists, text } = inCopy(repo);
    const config = await text('dist/config.js');
    await appendFile(path.join(repo, 'dist/config.js'), '\nconsole.log("edited by hand");\n');
    await writeFile(path.join(repo, 'dist/stray.js'), 'export {};\n');
    const ran = await build();
    expect(ran.code, said(ran)).toBe(0);
    expect(ran.stdout).toMatch(/building dist\/ from scratch: dist\/ is not what the last build wrote: dist\/config\.js changed and 1 more/);
    expect(await text('dist/config.js')).toBe(config);
    expect(await exists('dist/stray.js')).toBe(false);
  }, FULL);

  it('a changed tsconfig.json means a build from scratch with it', async () => {
    const repo = await copyOf();
    const { build, snapshot } = inCopy(repo);
    const tsconfig = path.join(repo, 'tsconfig.json');
    const parsed = JSON.parse(await readFile(tsconfig, 'utf8')) as { compilerOptions: Record<string, unknown> };
    expect(parsed.compilerOptions['sourceMap']).toBe(true);
    await writeFile(tsconfig, JSON.stringify({ ...parsed, compilerOptions: { ...parsed.compilerOptions, sourceMap: false } }, null, 2));
    const ran = await build();
    expect(ran.code, said(ran)).toBe(0);
    expect(ran.stdout).toMatch(/building dist\/ from scratch: the build configuration changed: tsconfig\.json changed/);
    const files = Object.keys(await snapshot());
    expect(files).toContain('dist/cli/main.js');
    expect(files.filter((file) => file.endsWith('.map'))).toEqual([]);
  }, FULL);
});
