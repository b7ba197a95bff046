import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { commandLine, processTree, signalAll } from '../../src/proc/tree.js';
import type { HookAgent } from '../helpers/hook-agent.js';
import { until, untilValue } from '../helpers/until.js';
import { WatchWorld } from '../helpers/watch-world.js';

/**
 * Background work as the real `mam watch` follows it (docs/status.md, 'Background work'): a stand-in agent runs
 * `mam hook` as its child, as Claude does, and keeps the live record Claude keeps (`~/.claude/sessions/<pid>.json`,
 * `status`); the watcher alone must see the background work end or start. The real CLI: test/claude/background.test.ts.
 */
let world: WatchWorld;
const SID = '6a1d2c3e-2222-4c8e-9f00-2a6b1c3d4e5f';

beforeEach(async () => {
  world = await WatchWorld.create('mam-bg-watch-');
});

afterEach(() => world.dispose());

function startAgent(): { pid: number; hook: HookAgent['hook']; run: HookAgent['run'] } {
  const agent = world.startAgent({ session_id: SID, cwd: '/w' });
  return { pid: agent.process.pid!, hook: agent.hook, run: agent.run };
}

const mainFact = (): Promise<{ status?: string; background?: string[] } | undefined> => world.mainFact(SID);

const record = (pid: number, status: string | undefined): Promise<void> => world.liveRecord(pid, SID, status);

const detail = { detail: async () => `main: ${JSON.stringify(await mainFact())}` };

describe('mam watch follows background work', () => {
  it("from the agent's live record: working while it says a shell runs, waiting once it says idle; a shell it reports later starts it again", async () => {
    const { pid, hook } = startAgent();
    await record(pid, 'busy');
    await hook({ hook_event_name: 'SessionStart', source: 'startup' });
    await hook({ hook_event_name: 'UserPromptSubmit', prompt: 'x' });
    await hook({ hook_event_name: 'Stop', background_tasks: [{ id: 'b1', type: 'shell', status: 'running', description: 'Wait', command: 'sleep 7777' }] });
    await until(async () => (await mainFact())?.status === 'working', 'working (background) after Stop', 60_000, detail);
    expect((await mainFact())?.background).toEqual(['shell: sleep 7777']);
    await record(pid, 'shell');
    await record(pid, 'idle');
    await until(async () => (await mainFact())?.status === 'waiting', 'waiting once the record says idle', 60_000, detail);
    expect((await mainFact())?.background).toEqual([]);
    // A Stop that listed nothing (older versions): the record alone says a shell runs.
    await record(pid, 'shell');
    await until(async () => (await mainFact())?.status === 'working', 'working again once the record says shell', 60_000, detail);
    expect((await mainFact())?.background).toEqual(['shell: (running)']);
    await record(pid, 'idle');
    await until(async () => (await mainFact())?.status === 'waiting', 'waiting again', 60_000, detail);
  });

  it('with no live record, from the process tree: working while the background command runs under the agent, waiting once it is gone', async () => {
    const { pid, hook, run } = startAgent();
    await hook({ hook_event_name: 'SessionStart', source: 'startup' });
    await hook({ hook_event_name: 'UserPromptSubmit', prompt: 'x' });
    await run(['sleep', '7777']);
    const child = await untilValue(async () => processTree(pid).slice(1).find((candidate) => commandLine(candidate.pid)?.join(' ') === 'sleep 7777'), 'the background command to start', 60_000);
    await hook({ hook_event_name: 'Stop', background_tasks: [{ id: 'b1', type: 'shell', status: 'running', description: 'Wait', command: 'sleep 7777' }] });
    await until(async () => (await mainFact())?.status === 'working', 'working (background) after Stop', 60_000, detail);
    signalAll([child], 'SIGKILL');
    await until(async () => (await mainFact())?.status === 'waiting', 'waiting once the command is gone', 60_000, detail);
    expect((await mainFact())?.background).toEqual([]);
  });
});
