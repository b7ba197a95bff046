import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { bundledScript } from '../helpers/bundled-script.js';
import { REPO } from '../helpers/sandbox.js';

/**
 * The process facts mam relies on (a pid with its start time, a process tree, a command line, the agent above a
 * hook's shell), read from /proc and — where there is none, as on macOS — from `ps`. The ps path is forced on
 * Linux with MAM_PROCESS_TABLE=ps; both must tell the same story about the same real processes.
 */
const run = promisify(execFile);
const FIXTURE = path.join(REPO, 'test/fixtures/process-table.mts');

async function facts(env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const { stdout } = await run(process.execPath, [await bundledScript(FIXTURE)], { cwd: REPO, env: { ...process.env, ...env } });
  return JSON.parse(stdout) as Record<string, unknown>;
}

describe('process facts', () => {
  for (const [name, env] of [['/proc', {}], ['ps', { MAM_PROCESS_TABLE: 'ps' }]] as const) {
    it(`from ${name}: start times, a child in the tree, its command, reuse and death told apart, the agent above a shell`, async () => {
      const seen = await facts(env);
      expect(seen).toMatchObject({ self: true, tree: true, alive: true, reused: false, ancestor: true, dead: false });
      expect((seen['cmd'] as string[]).join(' ')).toBe('sh -c sleep 30; true');
    });
  }
});
