import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockKeeper, type LockKeeper } from '../../src/registry/lock-keeper.js';
import { LockTimeoutError } from '../../src/util/errors.js';
import { bundledScript } from '../helpers/bundled-script.js';
import { REPO, Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * The resident lock (src/registry/lock-keeper.ts) against real processes: bash's util-linux flock(1) both ways, a
 * holder SIGKILLed while it holds, a wait that times out, and the fallback to lock.ts where no perl runs. Nothing is
 * mocked: a lock that did not exclude bash would show here.
 */
let box: Sandbox;
let lock: string;
const keepers: LockKeeper[] = [];
const children: ChildProcess[] = [];

beforeEach(async () => {
  box = await Sandbox.create('mam-lockkeeper-');
  lock = path.join(box.root, 'jobs.lock');
});
afterEach(async () => {
  for (const keeper of keepers.splice(0)) keeper.close();
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await box.dispose();
});

function keeper(perl?: string): LockKeeper {
  const made = lockKeeper(perl);
  keepers.push(made);
  return made;
}

/** bash -c SCRIPT, resolving its exit code; values passed in the environment. */
function bash(script: string, env: NodeJS.ProcessEnv = {}): { child: ChildProcess; exit: Promise<number | null> } {
  const child = spawn('bash', ['-c', script], { env: { PATH: process.env['PATH'], ...env }, stdio: 'ignore' });
  children.push(child);
  return { child, exit: new Promise((resolve) => child.once('close', (code) => resolve(code))) };
}
const tryLock = (): Promise<number | null> => bash('flock -xn "$LOCK" true', { LOCK: lock }).exit;

describe.each([
  ['through its perl helper', undefined],
  ['falling back to lock.ts when no perl runs', path.join('/nonexistent', 'perl')],
])('lockKeeper, %s', (_name, perl) => {
  it('excludes bash `flock` while it holds the lock, and lets go after', async () => {
    const keeps = keeper(perl);
    const during = await keeps.withLock(lock, async () => tryLock());
    expect(during).toBe(1);
    expect(await tryLock()).toBe(0);
    // Again, on the same helper: a second acquisition excludes as the first did.
    expect(await keeps.withLock(lock, async () => tryLock())).toBe(1);
    expect(await tryLock()).toBe(0);
  });

  it('waits for a bash `flock` holder to let go before it runs', async () => {
    const marker = path.join(box.root, 'held');
    const release = path.join(box.root, 'release');
    const holder = bash('flock -x "$LOCK" bash -c \'touch "$MARKER"; while [ ! -e "$RELEASE" ]; do sleep 0.02; done; echo released > "$MARKER"\'', { LOCK: lock, MARKER: marker, RELEASE: release });
    await until(() => existsSync(marker), 'bash to hold the lock', 60_000);
    let seen: string | undefined;
    const waiting = keeper(perl).withLock(lock, async () => (seen = await readFile(marker, 'utf8')));
    // It must still be waiting: the holder has not been told to let go.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(seen).toBeUndefined();
    await writeFile(release, '');
    await waiting;
    expect(seen).toBe('released\n');
    expect(await holder.exit).toBe(0);
  });

  it('gives up after timeoutMs with LockTimeoutError, and takes the lock once it is free', async () => {
    const marker = path.join(box.root, 'held');
    const release = path.join(box.root, 'release');
    const holder = bash('flock -x "$LOCK" bash -c \'touch "$MARKER"; while [ ! -e "$RELEASE" ]; do sleep 0.02; done\'', { LOCK: lock, MARKER: marker, RELEASE: release });
    await until(() => existsSync(marker), 'bash to hold the lock', 60_000);
    const keeps = keeper(perl);
    await expect(keeps.withLock(lock, async () => 'ran', { timeoutMs: 300 })).rejects.toBeInstanceOf(LockTimeoutError);
    await writeFile(release, '');
    expect(await holder.exit).toBe(0);
    expect(await keeps.withLock(lock, async () => 'ran', { timeoutMs: 60_000 })).toBe('ran');
  });
});

describe('lockKeeper, one process', () => {
  it('runs two holders of one lock one after the other, never together', async () => {
    const keeps = keeper();
    let inside = 0;
    let most = 0;
    const critical = async (): Promise<void> => {
      inside += 1;
      most = Math.max(most, inside);
      await new Promise((resolve) => setTimeout(resolve, 20));
      inside -= 1;
    };
    await Promise.all(Array.from({ length: 5 }, () => keeps.withLock(lock, critical)));
    expect(most).toBe(1);
  });

  it('a holder killed with SIGKILL leaves the lock free: its helper goes with it', async () => {
    const holder = spawn(process.execPath, [await bundledScript(path.join(REPO, 'test/helpers/lock-keeper-holder.ts')), lock], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(holder);
    let output = '';
    holder.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    holder.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await until(() => output.includes('held'), 'the holder to take the lock', 60_000, { detail: () => output });
    expect(await tryLock()).toBe(1);
    holder.kill('SIGKILL');
    // Bounded only against a hang: the helper sees its input close and exits, which lets go.
    expect(await bash('flock -x -w 60 "$LOCK" true', { LOCK: lock }).exit).toBe(0);
  });
});
