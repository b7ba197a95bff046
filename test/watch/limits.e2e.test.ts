import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { processTree, signalAll } from '../../src/proc/tree.js';
import { MAM, Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';

/**
 * A usage limit as the real `mam watch` handles it for an entry that did not ask for auto-resume (docs/status.md,
 * 'Usage limits'): a stand-in agent runs `mam hook` as its child with the environment `mam create` gives it; the
 * reset passes, the watcher looks, and leaves the agent limited. The send itself: test/claude/limits.test.ts.
 */
let box: Sandbox;
let env: NodeJS.ProcessEnv;
let statusDir: string;
const agents: ChildProcess[] = [];
const SID = '7b2e3d4f-3333-4c8e-9f00-2a6b1c3d4e5f';

beforeEach(async () => {
  box = await Sandbox.create('mam-limit-watch-');
  env = box.env({ MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '2', MAM_LOG_LEVEL: 'info', MAM_SESSION: 'w-creator-claude', MAM_REGISTRY: box.registry });
  statusDir = path.join(box.root, 'cache', 'mam', 'status');
});

afterEach(async () => {
  for (const agent of agents.splice(0)) if (agent.pid) signalAll(processTree(agent.pid), 'SIGKILL');
  await box.dispose();
});

function startAgent(): (payload: Record<string, unknown>) => Promise<void> {
  const script = `
    const { spawnSync } = require('node:child_process');
    require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
      spawnSync(process.execPath, [${JSON.stringify(MAM)}, 'hook'], { input: line, stdio: ['pipe', 'ignore', 'ignore'] });
      process.stdout.write('done\\n');
    });`;
  const agent = spawn(process.execPath, ['-e', script], { env, cwd: box.root, stdio: ['pipe', 'pipe', 'inherit'] });
  agents.push(agent);
  let pending: (() => void)[] = [];
  agent.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    for (let count = chunk.split('done').length - 1; count > 0; count--) pending.shift()?.();
  });
  return (payload) =>
    new Promise<void>((resolve) => {
      pending = [...pending, resolve];
      agent.stdin!.write(`${JSON.stringify({ session_id: SID, cwd: '/w', ...payload })}\n`);
    });
}

const mainFact = async (): Promise<{ status?: string; limit?: { until: string | null; resume_sent_at: string | null } | null }> =>
  JSON.parse(await readFile(path.join(statusDir, `${SID}.agent.main.json`), 'utf8').catch(() => '{}')) as { status?: string };

describe('mam watch at a usage limit reset', () => {
  it('records the registry with the session, and leaves an agent whose entry has no auto_resume limited past the reset', async () => {
    await box.writeRegistry(`tmux_sessions:\n  - {name: w-creator-claude, agent: claude, workspace: ${box.root}, status: running, claude_session_id_own: ${SID}}\n`);
    const hook = startAgent();
    await hook({ hook_event_name: 'SessionStart', source: 'startup' });
    await hook({ hook_event_name: 'UserPromptSubmit', prompt: 'x' });
    const reset = Math.ceil(Date.now() / 1000) + 2;
    await hook({ hook_event_name: 'StopFailure', error: 'rate_limit', last_assistant_message: `API Error: Request rejected (429) · Claude AI usage limit reached|${reset}` });
    expect(await mainFact()).toMatchObject({ status: 'limited', limit: { until: new Date(reset * 1000).toISOString(), resume_sent_at: null } });
    const session = JSON.parse(await readFile(path.join(statusDir, `${SID}.session.json`), 'utf8')) as { mam_session: string; mam_registry: string };
    expect(session).toMatchObject({ mam_session: 'w-creator-claude', mam_registry: box.registry });

    const log = (): Promise<string> => readFile(path.join(statusDir, 'watch.log'), 'utf8').catch(() => '');
    await until(async () => (await log()).includes('its entry does not ask for auto_resume'), 'the watcher to look at the reset', 60_000, { detail: log });
    expect(Date.now()).toBeGreaterThanOrEqual(reset * 1000);
    expect(await mainFact()).toMatchObject({ status: 'limited', limit: { resume_sent_at: null } });
    expect(await log()).not.toMatch(/sent \\"/);
  });
});
