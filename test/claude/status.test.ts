import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import { mam, type Sandbox } from '../helpers/sandbox.js';
import { until, type UntilOptions } from '../helpers/until.js';
import { startClaudeSession, type ClaudeSession } from './fixture.js';
import type { MessagesRequest, ModelServer, ScriptFunction } from './model-server.js';
import { capture, isIdlePrompt, typeLine, waitForScreen } from './tmux-screen.js';

/**
 * Live status on the real Claude Code CLI: its real hooks run `mam hook`, which starts the real `mam watch`.
 * Every transition the issue names — including the ones no hook reports (Esc in a permission dialog, Esc
 * while the model streams, an approval, the process killed) — must land in the fact files on its own.
 */
let session: ClaudeSession | undefined;
let box: Sandbox;
let model: ModelServer;
let env: NodeJS.ProcessEnv;
let workspace: string;
let server: string;
let statusDir: string;
const TARGET = '=ws-creator-claude:';

/** The subagent tool's name differs between versions (Task, Agent): take it from the tool list the client sends. */
function subagentTool(request: MessagesRequest): string {
  const names = (request.body.tools ?? []).map((tool) => (tool as { name?: string }).name ?? '');
  return names.find((name) => name === 'Task' || name === 'Agent') ?? 'Task';
}

/** The model's side of every case below; the tool calls make files in `workspace`. */
function script(workspace: string): ScriptFunction {
  return (request) => {
    if (request.kind !== 'main') return undefined;
    const text = request.turnText;
    // Before the tool-result rule: after a rejected tool the next prompt arrives beside that tool's result.
    if (text.includes('write forever')) return { stall: 'STREAMING-STARTED' };
    // Long enough that Esc always lands before the first token, however loaded the machine.
    if (text.includes('answer slowly')) return { text: 'SLOW-REPLY', delayMs: 120_000 };
    if (request.toolResults.length > 0) return { text: 'TOOL-DONE' };
    if (text.includes('SUBAGENT-PROMPT')) return { text: 'SUBAGENT-FINISHED', delayMs: 3_000 };
    if (text.includes('say banana')) return { text: 'BANANA-REPLY-42' };
    if (text.includes('approve me')) return { toolUse: { name: 'Bash', input: { command: `touch ${path.join(workspace, 'approved')} && sleep 4`, description: 'Make a file slowly' } } };
    if (text.includes('reject me')) return { toolUse: { name: 'Bash', input: { command: `touch ${path.join(workspace, 'rejected')}`, description: 'Make a file' } } };
    if (text.includes('use a helper')) return { toolUse: { name: subagentTool(request), input: { description: 'Look around', prompt: 'SUBAGENT-PROMPT: say hello', subagent_type: 'general-purpose' } } };
    return undefined;
  };
}

beforeEach(async () => {
  session = await startClaudeSession({ prefix: 'mam-claude-status-', serverTag: 'status', script, env: { MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '5', MAM_LOG_LEVEL: 'debug' }, hooks: true, create: true });
  ({ box, model, env, workspace, server } = session);
  statusDir = path.join(box.root, 'cache', 'mam', 'status');
  await until(async () => (await facts()).main === 'waiting', 'SessionStart → waiting', 60_000, WATCHING);
});

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

/** Every agent's status by key (`main`, or a subagent id), from the fact files of the newest session. */
async function facts(): Promise<Record<string, string>> {
  const names = await readdir(statusDir).catch(() => [] as string[]);
  const sessions = names.filter((name) => name.endsWith('.session.json'));
  if (sessions.length === 0) return {};
  const newest = (await Promise.all(sessions.map(async (name) => ({ name, at: (await stat(path.join(statusDir, name))).mtimeMs })))).sort((a, b) => b.at - a.at)[0]!.name;
  const sid = newest.slice(0, -'.session.json'.length);
  const agents: Record<string, string> = {};
  for (const name of names.filter((candidate) => candidate.startsWith(`${sid}.agent.`) && candidate.endsWith('.json'))) {
    const fact = await readFile(path.join(statusDir, name), 'utf8').then((text) => JSON.parse(text) as { status: string }, () => undefined);
    if (fact) agents[name.slice(`${sid}.agent.`.length, -'.json'.length)] = fact.status;
  }
  return agents;
}

/** The statuses of the main agent's open tools. */
async function mainTools(): Promise<string[]> {
  const names = await readdir(statusDir).catch(() => [] as string[]);
  const file = names.find((name) => name.endsWith('.agent.main.json'));
  if (!file) return [];
  const fact = await readFile(path.join(statusDir, file), 'utf8').then((text) => JSON.parse(text) as { tools: Record<string, { status: string }> }, () => undefined);
  return Object.values(fact?.tools ?? {}).map((tool) => tool.status);
}

/** Status changes are timed (the log line at the end): look every 20 ms, and show the facts and screen on failure. */
const WATCHING: UntilOptions = {
  intervalMs: 20,
  detail: async () => `facts: ${JSON.stringify(await facts())}\n${await capture(box, server, TARGET).catch(() => '')}\n${await watcherState()}`,
};

/** What the watcher saw and did, for a failure's message: the status directory, the spool, and the tails of its logs. */
async function watcherState(): Promise<string> {
  const names = await readdir(statusDir).catch(() => [] as string[]);
  const spool = await readdir(path.join(statusDir, 'spool')).catch(() => [] as string[]);
  const tail = async (name: string, lines: number): Promise<string> => (await readFile(path.join(statusDir, name), 'utf8').catch(() => '')).split('\n').slice(-lines).join('\n');
  const main = names.find((name) => name.endsWith('.agent.main.json'));
  return [`status dir: ${names.join(' ')}`, `spool: ${spool.join(' ')}`, `main fact: ${main ? await tail(main, 50) : '-'}`, `watch.log:\n${await tail('watch.log', 40)}`, `hook-errors.log:\n${await tail('hook-errors.log', 20)}`].join('\n');
}

/** Records every distinct main status seen until `done` holds. */
async function trace(done: (status: string | undefined) => boolean, what: string): Promise<string[]> {
  const seen: string[] = [];
  await until(async () => {
    const status = (await facts()).main;
    if (status !== undefined && seen.at(-1) !== status) seen.push(status);
    return done(status);
  }, what, 60_000, WATCHING);
  return seen;
}

const press = (key: string): Promise<string> => box.tmux(server, 'send-keys', '-t', TARGET, key);

describe('live status on the real Claude Code CLI', () => {
  it('reply, approve with Enter, reject with Esc, Esc while streaming: each ends in the right status with no stuck state', async () => {
    await typeLine(box, server, TARGET, 'please say banana');
    await waitForScreen(box, server, TARGET, (text) => text.includes('BANANA-REPLY-42') && isIdlePrompt(text), 30_000, 'the reply');
    await until(async () => (await facts()).main === 'waiting', 'Stop → waiting', 60_000, WATCHING);

    // Approve: needs_approval, then working while the command runs (no hook says so before it ends), then waiting.
    await typeLine(box, server, TARGET, 'please approve me');
    await waitForScreen(box, server, TARGET, (text) => text.includes('Do you want to proceed?'), 30_000, 'the permission dialog');
    await until(async () => (await facts()).main === 'needs_approval', 'PermissionRequest → needs_approval', 60_000, WATCHING);
    await press('Enter');
    // Working while the command runs: the approved tool is still open (PostToolUse would have closed it).
    let openTools: string[] = [];
    const approved = await until(async () => {
      openTools = await mainTools();
      return (await facts()).main === 'working' && openTools.includes('working');
    }, 'the approval to be seen while the command runs', 60_000, WATCHING);
    expect(openTools).toEqual(['working']);
    expect(await trace((status) => status === 'waiting', 'the approved turn to end')).toEqual(['working', 'waiting']);

    // Reject: Esc in the dialog fires no hook at all; the watcher reads the rejection from the transcript.
    await typeLine(box, server, TARGET, 'please reject me');
    await waitForScreen(box, server, TARGET, (text) => text.includes('Do you want to proceed?'), 30_000, 'the second dialog');
    await until(async () => (await facts()).main === 'needs_approval', 'needs_approval again', 60_000, WATCHING);
    await press('Escape');
    const rejected = await until(async () => (await facts()).main === 'waiting', 'the rejection to be resolved', 60_000, WATCHING);
    await waitForScreen(box, server, TARGET, (text) => /Interrupted/.test(text), 30_000, 'the interrupted notice');
    await expect(stat(path.join(workspace, 'rejected'))).rejects.toThrow();

    // Esc while the model streams: no Stop hook fires on an interrupt.
    await typeLine(box, server, TARGET, 'please write forever');
    // Tokens have arrived (Claude counts them before it draws a line without a newline); Esc before any (the next
    // case) takes another path through Claude.
    await waitForScreen(box, server, TARGET, (text) => text.includes('STREAMING-STARTED') || /↓\s*\d+\s*tokens/.test(text), 60_000, 'the streaming reply');
    await until(async () => (await facts()).main === 'working', 'UserPromptSubmit → working', 60_000, WATCHING);
    await press('Escape');
    const interrupted = await until(async () => (await facts()).main === 'waiting', 'the interrupt to be resolved', 60_000, WATCHING);

    // Esc before the model's first token: Claude puts the prompt back in the box and writes no interrupt line,
    // and no hook fires. Only the screen tells, and the watcher reads it once the turn has been silent a while.
    await waitForScreen(box, server, TARGET, isIdlePrompt, 30_000, 'the prompt after the interrupt');
    await typeLine(box, server, TARGET, 'please answer slowly');
    await until(async () => (await facts()).main === 'working', 'UserPromptSubmit → working again', 60_000, WATCHING);
    await waitForScreen(box, server, TARGET, (text) => /esc to interrupt/i.test(text), 30_000, 'the busy footer');
    await press('Escape');
    await waitForScreen(box, server, TARGET, (text) => !/esc to interrupt/i.test(text) && /❯\s*please answer slowly/.test(text), 30_000, 'the prompt put back');
    const putBack = await until(async () => (await facts()).main === 'waiting', 'Esc before the reply to be resolved', 60_000, WATCHING);
    expect(model.requests.some((request) => request.reply !== undefined && 'text' in request.reply && request.reply.text === 'SLOW-REPLY' && request.status === 200)).toBe(false);
    console.log(`resolution after the key press: approve ${approved} ms, reject ${rejected} ms, interrupt ${interrupted} ms, before the reply ${putBack} ms`);

    const status = JSON.parse((await mam(['status', '--json', '--registry', box.registry], env)).stdout) as { sessions: { activity?: string }[] };
    expect(status.sessions[0]?.activity).toBe('waiting');
  });

  it('a subagent shows as its own agent; /clear records the new id; the process killed is cleaned up', async () => {
    await typeLine(box, server, TARGET, 'please use a helper');
    await until(async () => Object.keys(await facts()).some((key) => key !== 'main'), 'a subagent fact while it works', 60_000, WATCHING);
    expect(Object.entries(await facts()).filter(([key]) => key !== 'main').map(([, status]) => status)).toEqual(['working']);
    await waitForScreen(box, server, TARGET, (text) => text.includes('TOOL-DONE') && isIdlePrompt(text), 30_000, 'the turn to end');
    await until(async () => JSON.stringify(await facts()) === JSON.stringify({ main: 'waiting' }), 'SubagentStop + Stop', 60_000, WATCHING);

    const registry = async (): Promise<string | null | undefined> => parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries[0]?.claude_session_id_own;
    const before = await registry();
    expect(before).toBeTruthy();
    await typeLine(box, server, TARGET, '/clear');
    await until(async () => Boolean((await registry()) && (await registry()) !== before), 'the new id after /clear in the registry', 60_000, WATCHING);
    expect(await readdir(statusDir).then((names) => names.some((name) => name.startsWith(`${before}.`)))).toBe(false);

    const session = (await readdir(statusDir)).find((name) => name.endsWith('.session.json'))!;
    const { pid } = JSON.parse(await readFile(path.join(statusDir, session), 'utf8')) as { pid: number };
    // The pid the hooks recorded is the claude process itself (not the shell the hook ran in): the pane's.
    expect(String(pid)).toBe((await box.tmux(server, 'display-message', '-p', '-t', TARGET, '#{pane_pid}')).trim());
    process.kill(pid, 'SIGKILL');
    await until(async () => (await readdir(statusDir)).every((name) => !name.endsWith('.json') || name.startsWith('hook')), 'the killed agent to be cleaned up', 60_000, WATCHING);
  });
});
