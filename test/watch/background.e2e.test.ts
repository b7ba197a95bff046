import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandLine, processTree, signalAll } from '../../src/proc/tree.js';
import { MAM, Sandbox } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';

/**
 * Background work as the real `mam watch` follows it (docs/status.md, 'Background work'): a stand-in agent runs
 * `mam hook` as its child, as Claude does, and keeps the live record Claude keeps (`~/.claude/sessions/<pid>.json`,
 * `status`); the watcher alone must see the background work end or start. The real CLI: test/claude/background.test.ts.
 */
let box: Sandbox;
let env: NodeJS.ProcessEnv;
let statusDir: string;
const agents: ChildProcess[] = [];
const SID = '6a1d2c3e-2222-4c8e-9f00-2a6b1c3d4e5f';

beforeEach(async () => {
  box = await Sandbox.create('mam-bg-watch-');
  env = box.env({ MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '2' });
  statusDir = path.join(box.root, 'cache', 'mam', 'status');
});

afterEach(async () => {
  for (const agent of agents.splice(0)) if (agent.pid) signalAll(processTree(agent.pid), 'SIGKILL');
  await box.dispose();
});

function startAgent(): { pid: number; hook: (payload: Record<string, unknown>) => Promise<void>; run: (argv: string[]) => Promise<void> } {
  const script = `
    const { spawn, spawnSync } = require('node:child_process');
    require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
      const message = JSON.parse(line);
      if (message.run) spawn(message.run[0], message.run.slice(1), { stdio: 'ignore' });
      else spawnSync(process.execPath, [${JSON.stringify(MAM)}, 'hook'], { input: line, stdio: ['pipe', 'ignore', 'ignore'] });
      process.stdout.write('done\\n');
    });`;
  const agent = spawn(process.execPath, ['-e', script], { env, cwd: box.root, stdio: ['pipe', 'pipe', 'inherit'] });
  agents.push(agent);
  let pending: (() => void)[] = [];
  agent.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    for (let count = chunk.split('done').length - 1; count > 0; count--) pending.shift()?.();
  });
  const send = (message: unknown): Promise<void> =>
    new Promise<void>((resolve) => {
      pending = [...pending, resolve];
      agent.stdin!.write(`${JSON.stringify(message)}\n`);
    });
  return { pid: agent.pid!, hook: (payload) => send({ session_id: SID, cwd: '/w', ...payload }), run: (argv) => send({ run: argv }) };
}

async function mainFact(): Promise<{ status?: string; background?: string[] }> {
  return JSON.parse(await readFile(path.join(statusDir, `${SID}.agent.main.json`), 'utf8').catch(() => '{}')) as { status?: string; background?: string[] };
}

/** Claude's live record, as 2.1.197 writes it (docs/agents.md, 'Claude session files'). */
async function record(pid: number, status: string | undefined): Promise<void> {
  const file = path.join(box.home, '.claude', 'sessions', `${pid}.json`);
  if (status === undefined) return rm(file, { force: true });
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, JSON.stringify({ pid, sessionId: SID, cwd: '/w', startedAt: Date.now(), kind: 'interactive', status, updatedAt: Date.now(), statusUpdatedAt: Date.now() }));
}

const detail = { detail: async () => `main: ${JSON.stringify(await mainFact())}` };

describe('mam watch follows background work', () => {
  it("from the agent's live record: working while it says a shell runs, waiting once it says idle; a shell it reports later starts it again", async () => {
    const { pid, hook } = startAgent();
    await record(pid, 'busy');
    await hook({ hook_event_name: 'SessionStart', source: 'startup' });
    await hook({ hook_event_name: 'UserPromptSubmit', prompt: 'x' });
    await hook({ hook_event_name: 'Stop', background_tasks: [{ id: 'b1', type: 'shell', status: 'running', description: 'Wait', command: 'sleep 7777' }] });
    await until(async () => (await mainFact()).status === 'working', 'working (background) after Stop', 60_000, detail);
    expect((await mainFact()).background).toEqual(['shell: sleep 7777']);
    await record(pid, 'shell');
    await record(pid, 'idle');
    await until(async () => (await mainFact()).status === 'waiting', 'waiting once the record says idle', 60_000, detail);
    expect((await mainFact()).background).toEqual([]);
    // A Stop that listed nothing (older versions): the record alone says a shell runs.
    await record(pid, 'shell');
    await until(async () => (await mainFact()).status === 'working', 'working again once the record says shell', 60_000, detail);
    expect((await mainFact()).background).toEqual(['shell: (running)']);
    await record(pid, 'idle');
    await until(async () => (await mainFact()).status === 'waiting', 'waiting again', 60_000, detail);
  });

  it('with no live record, from the process tree: working while the background command runs under the agent, waiting once it is gone', async () => {
    const { pid, hook, run } = startAgent();
    await hook({ hook_event_name: 'SessionStart', source: 'startup' });
    await hook({ hook_event_name: 'UserPromptSubmit', prompt: 'x' });
    await run(['sleep', '7777']);
    const child = await untilValue(async () => processTree(pid).slice(1).find((candidate) => commandLine(candidate.pid)?.join(' ') === 'sleep 7777'), 'the background command to start', 60_000);
    await hook({ hook_event_name: 'Stop', background_tasks: [{ id: 'b1', type: 'shell', status: 'running', description: 'Wait', command: 'sleep 7777' }] });
    await until(async () => (await mainFact()).status === 'working', 'working (background) after Stop', 60_000, detail);
    signalAll([child], 'SIGKILL');
    await until(async () => (await mainFact()).status === 'waiting', 'waiting once the command is gone', 60_000, detail);
    expect((await mainFact()).background).toEqual([]);
  });
});
