import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runHook } from '../../src/facts/hook.js';

/**
 * `mam hook`'s time bounds and MAM_HOOK_TIMEOUT (src/config.ts `hookTimeouts`), in-process on a fake clock that
 * advances only while the hook sits idle on its silent stdin, so neither outcome depends on the machine's speed.
 */
const SID = '7d2c9f4e-3b1a-4c8e-9f00-00000000000b';
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'mam-hook-bounds-'));
  // Timers only: streams (nextTick) and the fact file's I/O stay real. The hook's whole-run deadline calls
  // process.exit when it fires; no test advances the clock that far, and the real timers come back after each.
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
});
afterEach(async () => {
  vi.useRealTimers();
  await rm(dir, { recursive: true, force: true });
});

const errorLog = (): Promise<string> => readFile(path.join(dir, 'hook-errors.log'), 'utf8').catch(() => '');

function start(env: NodeJS.ProcessEnv): { stdin: PassThrough; done: Promise<void> } {
  const stdin = new PassThrough();
  const done = runHook({ env: { MAM_WATCH: '0', ...env }, stdin, stderr: new PassThrough(), dir, agent: 'claude' });
  return { stdin, done };
}

describe('mam hook time bounds', () => {
  it('by default gives up on a stdin silent for 2 s, and says so', async () => {
    const { stdin, done } = start({});
    await vi.advanceTimersByTimeAsync(2_000);
    await done;
    expect(await errorLog()).toMatch(/hook payload is empty: nothing on stdin within \d+ ms/);
    expect(stdin.destroyed).toBe(true);
  });

  it('MAM_HOOK_TIMEOUT raises the bounds: a stdin silent 10× the default still delivers its event', async () => {
    // 60 s to record, so 24 s of silence are allowed; 20 s pass before the payload comes.
    const { stdin, done } = start({ MAM_HOOK_TIMEOUT: '60' });
    await vi.advanceTimersByTimeAsync(20_000);
    stdin.end(JSON.stringify({ session_id: SID, hook_event_name: 'UserPromptSubmit' }));
    await done;
    expect(await errorLog()).toBe('');
    expect(JSON.parse(await readFile(path.join(dir, `${SID}.agent.main.json`), 'utf8'))).toMatchObject({ status: 'working' });
  });

  it('a MAM_HOOK_TIMEOUT that is not a positive number means the default', async () => {
    const { done } = start({ MAM_HOOK_TIMEOUT: 'soon' });
    await vi.advanceTimersByTimeAsync(2_000);
    await done;
    expect(await errorLog()).toMatch(/hook payload is empty: nothing on stdin within \d+ ms/);
  });
});
