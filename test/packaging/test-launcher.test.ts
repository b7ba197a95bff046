import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processId, signalAll } from '../../src/proc/tree.js';
import { readTextOrUndefined } from '../../src/util/files.js';
import { until } from '../helpers/until.js';

/**
 * `npm test` (scripts/test.mjs) with a stand-in vitest (MAM_TEST_VITEST): it writes `<pid>.json` with its arguments
 * when it starts, `<pid>.end` with the signal when one ends it, and exits with the code its project is told to
 * (STAND_IN_EXIT_<project>, `-` as `_`).
 */
const LAUNCHER = path.resolve('scripts/test.mjs');
const STAND_IN = `
import { readdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
const dir = process.env.STAND_IN_DIR;
const args = process.argv.slice(2);
// Written whole, then renamed: a reader must never see the file empty.
writeFileSync(path.join(dir, process.pid + '.tmp'), JSON.stringify(args));
renameSync(path.join(dir, process.pid + '.tmp'), path.join(dir, process.pid + '.json'));
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => { writeFileSync(path.join(dir, process.pid + '.end'), signal); process.exit(130); });
console.log('line one of ' + args.join(' '));
const project = args.includes('--project') ? args[args.indexOf('--project') + 1] : 'none';
const code = Number(process.env['STAND_IN_EXIT_' + project.replace('-', '_')] ?? 0);
// STAND_IN_TOGETHER=n: exit 9 unless n stand-ins (itself included) are seen running within a minute.
const deadline = Date.now() + 60_000;
const together = () => readdirSync(dir).filter((name) => name.endsWith('.json')).length >= Number(process.env.STAND_IN_TOGETHER);
const wait = () => (!process.env.STAND_IN_TOGETHER || together() ? setTimeout(() => process.exit(code), Number(process.env.STAND_IN_MS ?? 0)) : Date.now() > deadline ? process.exit(9) : setTimeout(wait, 20));
wait();
`;

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mam-test-launcher-'));
  await writeFile(path.join(dir, 'vitest.mjs'), STAND_IN);
});
afterEach(async () => {
  // A test that failed midway leaves its stand-ins running (one waits ten minutes): end those still running from
  // this folder, by the pids they wrote.
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(name.split('.')[0]);
    const id = /^\d+\.(json|tmp|end)$/.test(name) ? processId(pid) : undefined;
    if (id && (readTextOrUndefined(`/proc/${pid}/cmdline`) ?? '').includes(dir)) signalAll([id], 'SIGKILL');
  }
  await rm(dir, { recursive: true, force: true });
});

function launch(args: string[], env: Record<string, string> = {}): { exited: Promise<number | null>; output: () => string; pid: number } {
  const child = spawn(process.execPath, [LAUNCHER, ...args], { env: { ...process.env, MAM_TEST_VITEST: path.join(dir, 'vitest.mjs'), STAND_IN_DIR: dir, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { exited, output: () => output, pid: child.pid! };
}

const started = async (): Promise<string[][]> => {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.json'));
  return Promise.all(names.map(async (name) => JSON.parse(await readFile(path.join(dir, name), 'utf8')) as string[]));
};

describe('npm test (scripts/test.mjs)', () => {
  it('runs the unit project and each real-agent project as three vitest processes at once, the real-agent ones prefixed; packaging after codex-gemini', async () => {
    // Each stand-in fails unless it sees the other two running: only a launcher that starts them side by side passes.
    const run = launch([], { STAND_IN_TOGETHER: '3' });
    expect(await run.exited).toBe(0);
    expect((await started()).map((args) => args.join(' ')).sort()).toEqual(['run --project claude', 'run --project codex-gemini --project packaging', 'run --project unit']);
    expect(run.output()).toContain('[claude] line one of run --project claude');
    expect(run.output()).toContain('[codex-gemini+packaging] line one of run --project codex-gemini --project packaging');
    expect(run.output()).toMatch(/^line one of run --project unit$/m);
    expect(run.output()).toContain('npm test: unit passed; claude passed; codex-gemini+packaging passed');
  });

  it('fails when any fails, with that one named', async () => {
    const agents = launch([], { STAND_IN_EXIT_codex_gemini: '3' });
    expect(await agents.exited).toBe(3);
    expect(agents.output()).toContain('npm test: unit passed; claude passed; codex-gemini+packaging failed (exit 3)');
    const unit = launch([], { STAND_IN_EXIT_unit: '1' });
    expect(await unit.exited).toBe(1);
    expect(unit.output()).toContain('npm test: unit failed (exit 1); claude passed; codex-gemini+packaging passed');
  });

  it('with arguments, one vitest run with exactly them', async () => {
    const run = launch(['test/facts', '-t', 'spool']);
    expect(await run.exited).toBe(0);
    expect(await started()).toEqual([['run', 'test/facts', '-t', 'spool']]);
  });

  it('SIGTERM reaches every vitest process and none outlives the launcher', async () => {
    const run = launch([], { STAND_IN_MS: '600000', STAND_IN_TOGETHER: '3' });
    await until(async () => (await started()).length === 3, 'all three vitest processes started', 30_000);
    process.kill(run.pid, 'SIGTERM');
    expect(await run.exited).not.toBe(0);
    const pids = (await readdir(dir)).filter((name) => name.endsWith('.json')).map((name) => Number(name.slice(0, -'.json'.length)));
    expect((await readdir(dir)).filter((name) => name.endsWith('.end')).sort()).toEqual(pids.map((pid) => `${pid}.end`).sort());
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
  });

  it('says to run npm ci when vitest is not installed', async () => {
    const run = launch([], { MAM_TEST_VITEST: path.join(dir, 'missing.mjs') });
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/vitest is not installed .*run `npm ci` first/);
  });
});
