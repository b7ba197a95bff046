import { spawn, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processId } from '../../src/proc/tree.js';
import { removeIfStill } from '../../src/facts/lock.js';
import { updateFacts } from '../../src/facts/store.js';
import { MAM } from '../helpers/sandbox.js';

/**
 * The fact files' lock (O_EXCL lock file, no spawned flock): hooks racing in separate processes lose no
 * update, a lock left by a dead holder is broken, a live holder is waited for and never broken.
 */
let dir: string;
const SID = 'lock-7d2c9f4e-3b1a';

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mam-fact-lock-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('fact file lock', () => {
  it('twelve hook processes adding tools at once: every tool is there', async () => {
    // MAM_HOOK_TIMEOUT: twelve hooks starting at once on a busy machine may wait on each other past the default 2 s.
    const env = { ...process.env, MAM_STATUS_DIR: dir, MAM_WATCH: '0', MAM_HOOK_TIMEOUT: '60' };
    const hook = (payload: Record<string, unknown>): Promise<void> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [MAM, 'hook'], { env, stdio: ['pipe', 'ignore', 'inherit'] });
        child.once('exit', () => resolve());
        child.stdin.end(JSON.stringify({ session_id: SID, ...payload }));
      });
    await hook({ hook_event_name: 'UserPromptSubmit' });
    await Promise.all(Array.from({ length: 12 }, (_, index) => hook({ hook_event_name: 'PreToolUse', tool_name: 'Read', tool_input: { file_path: `/w/${index}` }, tool_use_id: `toolu_${index}` })));
    const fact = JSON.parse(await readFile(path.join(dir, `${SID}.agent.main.json`), 'utf8')) as { tools: Record<string, unknown> };
    expect(Object.keys(fact.tools).sort()).toEqual(Array.from({ length: 12 }, (_, index) => `toolu_${index}`).sort());
    await expect(readFile(path.join(dir, `${SID}.lock`))).rejects.toThrow(/ENOENT/);
  });

  it('a lock whose holder died is broken at once', async () => {
    const dead = spawnSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' });
    const pid = Number(dead.stdout.trim());
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `${SID}.lock`), `${pid} 12345 ${Date.now()}\n`);
    const facts = await updateFacts(dir, SID, (current) => ({ facts: current, ended: false }), 2_000);
    expect(facts.session).toBeUndefined();
    await expect(readFile(path.join(dir, `${SID}.lock`))).rejects.toThrow(/ENOENT/);
  });

  it('a lock left empty by a holder that died between create and write is broken once it is old', async () => {
    const file = path.join(dir, `${SID}.lock`);
    await writeFile(file, '');
    const old = new Date(Date.now() - 5_000);
    await utimes(file, old, old);
    await expect(updateFacts(dir, SID, (current) => ({ facts: current, ended: false }), 2_000)).resolves.toBeDefined();
  });

  it('breaking removes only the very lock judged abandoned, never one taken meanwhile', async () => {
    const file = path.join(dir, `${SID}.lock`);
    await writeFile(file, 'taken by someone else just now\n');
    removeIfStill(file, '123 456 789\n');
    expect(await readFile(file, 'utf8')).toBe('taken by someone else just now\n');
    // Another breaker at work (its .break file is fresh): this one leaves the lock alone.
    await writeFile(`${file}.break`, '');
    removeIfStill(file, 'taken by someone else just now\n');
    expect(await readFile(file, 'utf8')).toBe('taken by someone else just now\n');
    await rm(`${file}.break`);
    removeIfStill(file, 'taken by someone else just now\n');
    await expect(readFile(file)).rejects.toThrow(/ENOENT/);
  });

  it('a live holder is waited for, and the wait is bounded with a reason', async () => {
    const self = processId(process.pid)!;
    await writeFile(path.join(dir, `${SID}.lock`), `${self.pid} ${self.start} ${Date.now()}\n`);
    await expect(updateFacts(dir, SID, (current) => ({ facts: current, ended: false }), 150)).rejects.toThrow(`still locked after 150 ms (held by pid ${self.pid})`);
    // Let go while a writer waits: it gets in.
    const waiting = updateFacts(dir, SID, (current) => ({ facts: current, ended: false }), 5_000);
    setTimeout(() => void rm(path.join(dir, `${SID}.lock`)), 100);
    await expect(waiting).resolves.toBeDefined();
  });
});
