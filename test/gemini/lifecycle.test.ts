import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { waitFor } from '../../src/util/wait.js';
import { isAlive, waitForScreen } from '../helpers/real-agent.js';
import { emitted, mam } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';
import { geminiProblem } from './gemini-home.js';
import { APPROVAL_DIALOG, isGeminiIdle, startGeminiSession, submit, type GeminiSession } from './fixture.js';
import type { ScriptStep } from './model-server.js';

/**
 * The session lifecycle on the real Gemini CLI (scripted model, no hooks): mam create → the chat file Gemini writes →
 * reconcile records its session id (class C) → a prompt → a confirmation dialog seen on the pane → mam stop by its exit keys (Ctrl-C twice) →
 * mam resume with `gemini --resume <id>` into the same chat → stop → delete; and a purge that deletes exactly that
 * session's files — every one of them, as 0.61 leaves a second chat file behind on each resume.
 */
const problem = geminiProblem();
if (problem) console.warn(`skipping the real-Gemini tests: ${problem}`);

const script = (workspace: string): ScriptStep[] => [
  { trigger: 'say banana', reply: { text: 'BANANA-REPLY-42' } },
  { trigger: 'say cherry', reply: { text: 'CHERRY-REPLY-7' } },
  { trigger: 'make a file', reply: { call: { name: 'run_shell_command', args: { command: `touch ${path.join(workspace, 'made')}`, description: 'Make a file' } } }, then: { text: 'FILE-MADE' } },
];

let session: GeminiSession | undefined;

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

/** The project's chat files, as Gemini names them: `tmp/<slug>/chats/session-<date>T<hh-mm>-<id8>.jsonl`. */
async function chats(geminiHome: string, workspace: string): Promise<string[]> {
  const projects = JSON.parse(await readFile(path.join(geminiHome, 'projects.json'), 'utf8')) as { projects: Record<string, string> };
  const dir = path.join(geminiHome, 'tmp', projects.projects[workspace]!, 'chats');
  return (await readdir(dir).catch(() => [] as string[])).filter((file) => /^session-.*\.jsonl$/.test(file)).map((file) => path.join(dir, file)).sort();
}

const sessionIdOf = async (chat: string): Promise<string> => (JSON.parse((await readFile(chat, 'utf8')).split('\n')[0]!) as { sessionId: string }).sessionId;

describe.skipIf(problem !== undefined)('session lifecycle on the real Gemini CLI', () => {
  const entry = async (name: string): Promise<RegistryEntry | undefined> => {
    const { box } = session!;
    return parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries.find((item) => item.name === name);
  };
  const run = (...args: string[]) => mam([...args, '--registry', session!.box.registry], session!.env);

  it('create → id from the chat file (class C) → prompt → approval on the pane → stop by Ctrl-C twice → resume the same session → stop → delete', async () => {
    session = await startGeminiSession({ prefix: 'mam-gemini-life-', serverTag: 'gmlife', workspace: 'landing-page', script });
    const { box, server, workspace, name, target, geminiHome } = session;

    const created = await run('create', '--agent', 'gemini', '--workspace', workspace, '--tmux-server', server);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.trim()).toBe(name);
    const fresh = await entry(name);
    // Gemini CLI is a Node script that re-runs itself in a child Node with a larger heap: tmux sees `node`.
    expect(fresh).toMatchObject({ agent: 'gemini', workspace, status: 'running', start_command: 'gemini', gemini_session_id_own: null, pane: { cmd: 'node', cwd: workspace } });
    await waitForScreen(box, server, target, isGeminiIdle, 120_000, 'the idle prompt');

    // Unlike Codex, Gemini writes its chat file at start-up (just after the prompt shows): the session id is on disk
    // before the first prompt.
    const [chat, ...more] = await untilValue(async () => {
      const found = await chats(geminiHome, workspace).catch(() => []);
      return found.length > 0 && found;
    }, 'the chat file Gemini starts with', 60_000);
    expect(more).toEqual([]);
    const id = await sessionIdOf(chat!);
    expect(path.basename(chat!)).toMatch(new RegExp(`^session-\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-${id.slice(0, 8)}\\.jsonl$`));
    const reconciled = emitted(await run('reconcile', '--once', '--emit-diff', '--tmux-server', server));
    expect(reconciled.drifts).toEqual([expect.objectContaining({ class: 'C', session: name, conversation_id: id })]);
    expect(await entry(name)).toMatchObject({ gemini_session_id_own: id });

    await submit(box, server, target, 'please say banana');
    await waitForScreen(box, server, target, (text) => text.includes('BANANA-REPLY-42') && isGeminiIdle(text), 120_000, 'the scripted reply');

    // A confirmation dialog, and no hooks installed: the pane says it.
    await submit(box, server, target, 'please make a file');
    await waitForScreen(box, server, target, (text) => text.includes(APPROVAL_DIALOG), 120_000, 'the confirmation dialog');
    const activity = async (): Promise<{ activity?: string; activity_source?: string }> =>
      (JSON.parse((await run('status', '--json')).stdout) as { sessions: { activity?: string; activity_source?: string }[] }).sessions[0] ?? {};
    expect(await activity()).toMatchObject({ activity: 'needs_approval', activity_source: 'pane' });
    // "1. Allow once" is selected: Enter allows it.
    await box.tmux(server, 'send-keys', '-t', target, 'Enter');
    await waitForScreen(box, server, target, (text) => text.includes('FILE-MADE') && isGeminiIdle(text), 120_000, 'the allowed turn to end');
    expect((await stat(path.join(workspace, 'made'))).isFile()).toBe(true);
    await until(async () => (await activity()).activity !== 'needs_approval', 'the dialog to leave the status', 60_000);

    // Graceful stop: Ctrl-C twice ends gemini (both of its Node processes) within the exit-keys rung.
    const pid = fresh!.pane!.pid!;
    const stopped = await run('stop', '--session', name, '--reason', 'end of day');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout.trim()).toBe(`stopped ${name} (exit-keys)`);
    expect(isAlive(pid)).toBe(false);
    expect(await entry(name)).toMatchObject({ status: 'stopped', termination_mode: 'graceful', stop_rung: 'exit-keys', gemini_session_id_own: id, resumable: true });

    // Resume: `gemini --resume <id>` shows the old conversation and goes on writing to the same chat file. It also
    // starts a chat file for the same session as a fresh start would: a second file when the UTC minute in the name
    // has changed since, else more lines appended to the first (the purge test below makes the second file).
    const resumed = await run('resume', '--session', name, '--json');
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ tier: 'recorded-id', conversationId: id, argv: ['gemini', '--resume', id] });
    await waitForScreen(box, server, target, (text) => text.includes('BANANA-REPLY-42') && isGeminiIdle(text), 120_000, 'the old conversation on screen after resume');
    await submit(box, server, target, 'now say cherry');
    await waitForScreen(box, server, target, (text) => text.includes('CHERRY-REPLY-7') && isGeminiIdle(text), 120_000, 'the reply after resume');
    await waitFor(async () => (await readFile(chat!, 'utf8')).includes('CHERRY-REPLY-7'), 30_000, 100);
    const text = await readFile(chat!, 'utf8');
    expect(text).toContain('BANANA-REPLY-42');
    const after = await chats(geminiHome, workspace);
    expect(after).toContain(chat);
    expect(new Set(await Promise.all(after.map(sessionIdOf)))).toEqual(new Set([id]));
    // One session, however many files: reconcile keeps the id and finds nothing to repair.
    expect(emitted(await run('reconcile', '--once', '--emit-diff', '--tmux-server', server)).drifts).toEqual([]);
    expect(await entry(name)).toMatchObject({ status: 'running', gemini_session_id_own: id, resumed_at: expect.any(String) });

    expect((await run('stop', '--session', name)).stdout.trim()).toBe(`stopped ${name} (exit-keys)`);
    const deleted = await run('delete', '--session', name);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(await entry(name)).toBeUndefined();
  });

  it('stop --purge-conversation --yes deletes every chat file of that session and nothing else', async () => {
    session = await startGeminiSession({ prefix: 'mam-gemini-purge-', serverTag: 'gmpurge', script, create: true });
    const { box, server, workspace, name, target, geminiHome } = session;
    await submit(box, server, target, 'please say banana');
    await waitForScreen(box, server, target, (text) => text.includes('BANANA-REPLY-42') && isGeminiIdle(text), 120_000, 'the reply');
    expect((await run('reconcile', '--once', '--tmux-server', server)).code).toBe(0);
    const [first] = await chats(geminiHome, workspace);
    const id = await sessionIdOf(first!);
    expect(await entry(name)).toMatchObject({ gemini_session_id_own: id });
    // A resume in a later minute (UTC, as the file names) leaves a second chat file of the same session behind.
    expect((await run('stop', '--session', name)).code).toBe(0);
    const minute = /session-(\d{4}-\d\d-\d\dT\d\d-\d\d)-/.exec(path.basename(first!))![1]!;
    await until(() => new Date().toISOString().slice(0, 16).replace(':', '-') !== minute, 'the next minute', 70_000);
    expect((await run('resume', '--session', name)).code).toBe(0);
    await waitForScreen(box, server, target, (text) => text.includes('BANANA-REPLY-42') && isGeminiIdle(text), 120_000, 'the resumed conversation');
    await until(async () => (await chats(geminiHome, workspace)).length === 2, 'the second chat file of the session', 60_000);
    const own = await chats(geminiHome, workspace);

    // Another session of the same project, which must survive, and the files every session shares.
    const otherId = `00000000${id.slice(8)}`;
    const bystander = path.join(path.dirname(first!), `session-2026-01-01T00-00-${otherId.slice(0, 8)}.jsonl`);
    await writeFile(bystander, (await readFile(first!, 'utf8')).replaceAll(id, otherId));
    const shared = [path.join(geminiHome, 'projects.json'), path.join(path.dirname(path.dirname(first!)), 'logs.json'), path.join(geminiHome, 'settings.json')];
    for (const file of shared) expect((await stat(file)).isFile(), file).toBe(true);

    const refused = await run('stop', '--session', name, '--purge-conversation');
    expect(refused.code).toBe(64);
    expect(await chats(geminiHome, workspace)).toEqual([...own, bystander].sort());

    const purged = await run('stop', '--session', name, '--purge-conversation', '--yes');
    expect(purged.code, purged.stderr).toBe(0);
    expect(await chats(geminiHome, workspace)).toEqual([bystander]);
    for (const file of shared) expect((await stat(file)).isFile(), file).toBe(true);
    expect(await entry(name)).toMatchObject({ status: 'terminated', termination_mode: 'purge', resumable: false });
  });
});
