import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAlive, processId } from '../../src/proc/tree.js';
import { Sandbox } from './sandbox.js';
import { until } from './until.js';

/** What every test relies on from its sandbox: once disposed, nothing it started runs and its folder is gone. */
describe('Sandbox.dispose', () => {
  it('ends a detached process started with its environment, even one that writes into the folder on its way out', async () => {
    const box = await Sandbox.create('mam-sandbox-');
    const late = path.join(box.root, 'cache', 'mam', 'status');
    // What a late-started `mam watch` does: not a child of the test, in a session of its own, and on SIGTERM it
    // still writes its log, re-creating the folder.
    const child = spawn('sh', ['-c', 'trap \'mkdir -p "$LATE" && echo bye > "$LATE/watch.log"; exit 0\' TERM; sleep 100000 & wait'], {
      env: box.env({ LATE: late }),
      detached: true,
      stdio: 'ignore',
    });
    child.unref();
    const id = processId(child.pid!)!;
    await until(() => isAlive(id), 'the detached process to run', 60_000);
    try {
      await box.dispose();
      expect(isAlive(id)).toBe(false);
      expect(existsSync(box.root)).toBe(false);
    } finally {
      if (isAlive(id)) process.kill(-child.pid!, 'SIGKILL');
    }
  });
});
