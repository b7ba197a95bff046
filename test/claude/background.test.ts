import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { mam } from '../helpers/sandbox.js';
import { until, type UntilOptions } from '../helpers/until.js';
import { startClaudeSession, type ClaudeSession } from './fixture.js';
import type { ScriptFunction } from './model-server.js';
import { capture, isIdlePrompt, typeLine, waitForScreen } from './tmux-screen.js';

/**
 * Background work on the real Claude Code CLI (docs/status.md, 'Background work'): a turn that ends with a
 * `run_in_background` Bash call still running shows `working (background)` and turns `waiting` only once that shell
 * ends. The shell waits for a file the test makes, so the test, not the machine's speed, decides when it ends.
 */
let session: ClaudeSession | undefined;

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

function script(workspace: string): ScriptFunction {
  const release = path.join(workspace, 'release');
  return (request) => {
    if (request.kind !== 'main') return undefined;
    if (request.turnText.includes('<task-notification>')) return { text: 'BACKGROUND-NOTED' };
    if (request.toolResults.length > 0) return { text: 'STARTED-IN-BACKGROUND' };
    if (request.turnText.includes('work in the background')) {
      return { toolUse: { name: 'Bash', input: { command: `while [ ! -e ${release} ]; do sleep 0.2; done; echo BGDONE`, description: 'Wait for the release file', run_in_background: true } } };
    }
    return undefined;
  };
}

describe('background work on the real Claude Code CLI', () => {
  it('a turn that leaves a background shell running is working (background) until the shell ends, then waiting', async () => {
    session = await startClaudeSession({ prefix: 'mam-claude-bg-', serverTag: 'bg', script, env: { MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '5' }, hooks: true, create: true });
    const { box, env, model, workspace, server, target } = session;
    const statusDir = path.join(box.root, 'cache', 'mam', 'status');
    const main = async (): Promise<{ status?: string; background?: string[] }> => {
      const file = (await readdir(statusDir).catch(() => [] as string[])).find((name) => name.endsWith('.agent.main.json'));
      return file ? (JSON.parse(await readFile(path.join(statusDir, file), 'utf8').catch(() => '{}')) as { status?: string; background?: string[] }) : {};
    };
    const record = async (): Promise<{ status?: string }> => {
      const dir = path.join(box.home, '.claude', 'sessions');
      const file = (await readdir(dir).catch(() => [] as string[])).find((name) => name.endsWith('.json'));
      return file ? (JSON.parse(await readFile(path.join(dir, file), 'utf8').catch(() => '{}')) as { status?: string }) : {};
    };
    const watching: UntilOptions = { intervalMs: 50, detail: async () => `main: ${JSON.stringify(await main())}, record: ${JSON.stringify(await record())}\n${await capture(box, server, target).catch(() => '')}` };
    await until(async () => (await main()).status === 'waiting', 'SessionStart → waiting', 60_000, watching);

    await typeLine(box, server, target, 'please work in the background');
    // The turn is over (its reply is on screen, the prompt is back) while the shell runs: Claude's record says `shell`.
    await waitForScreen(box, server, target, (text) => text.includes('STARTED-IN-BACKGROUND') && isIdlePrompt(text), 60_000, 'the turn to end');
    await until(async () => (await record()).status === 'shell', "Claude's record to say a shell runs", 60_000, watching);
    await until(async () => (await main()).status === 'working' && ((await main()).background ?? []).length > 0, 'working (background)', 60_000, watching);
    expect((await main()).background).toEqual([`shell: while [ ! -e ${path.join(workspace, 'release')} ]; do sleep 0.2; done; echo BGDONE`]);

    // It stays so: the idle prompt on screen (which ends a silent turn after 3 s) does not end it.
    const seen = new Set<string>();
    const since = Date.now();
    await until(async () => {
      seen.add((await main()).status ?? '-');
      return Date.now() - since > 5_000;
    }, 'five seconds of watching', 60_000, watching);
    expect([...seen]).toEqual(['working']);
    const json = JSON.parse((await mam(['status', '--json', '--registry', box.registry], env)).stdout) as { sessions: { activity: string; background: string[] }[] };
    expect(json.sessions[0]).toMatchObject({ activity: 'working', background: [expect.stringContaining('shell: while')] });
    expect((await mam(['status', '--registry', box.registry], { ...env, NO_COLOR: '1' })).stdout).toContain('working (background)');

    // The shell ends: Claude's record goes idle (the watcher ends the background work), then it wakes the model.
    await writeFile(path.join(workspace, 'release'), '');
    await waitForScreen(box, server, target, (text) => text.includes('BACKGROUND-NOTED') && isIdlePrompt(text), 60_000, 'the wake-up turn');
    await until(async () => (await main()).status === 'waiting' && ((await main()).background ?? []).length === 0, 'waiting once the shell ended', 60_000, watching);
    // Claude 2.1.197 ends it itself: its record goes idle, then it wakes the model with a <task-notification> prompt.
    expect(model.messages().some((request) => JSON.stringify(request.body).includes('task-notification'))).toBe(true);
  });
});
