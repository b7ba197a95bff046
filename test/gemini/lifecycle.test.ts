import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { agentSteps } from '../helpers/agent-lifecycle.js';
import { waitForScreen } from '../helpers/real-agent.js';
import { emitted } from '../helpers/sandbox.js';
import { until, untilValue } from '../helpers/until.js';
import { geminiProblem } from './gemini-home.js';
import { GEMINI, isGeminiIdle, startGeminiSession, type GeminiSession } from './fixture.js';
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
  const steps = agentSteps(GEMINI, () => session!);
  const { entry, run } = steps;

  it('create → id from the chat file (class C) → prompt → approval on the pane → stop by Ctrl-C twice → resume the same session → stop → delete', async () => {
    session = await startGeminiSession({ prefix: 'mam-gemini-life-', serverTag: 'gmlife', workspace: 'landing-page', script });
    const { server, workspace, name, geminiHome } = session;

    const fresh = await steps.create();
    // Gemini CLI is a Node script that re-runs itself in a child Node with a larger heap: tmux sees `node`.
    expect(fresh).toMatchObject({ agent: 'gemini', workspace, status: 'running', start_command: 'gemini', gemini_session_id_own: null, pane: { cmd: 'node', cwd: workspace } });
    await steps.idle();

    // Unlike Codex, Gemini writes its chat file at start-up (just after the prompt shows): the session id is on disk
    // before the first prompt.
    const [chat, ...more] = await untilValue(async () => {
      const found = await chats(geminiHome, workspace).catch(() => []);
      return found.length > 0 && found;
    }, 'the chat file Gemini starts with', 60_000);
    expect(more).toEqual([]);
    const id = await sessionIdOf(chat!);
    expect(path.basename(chat!)).toMatch(new RegExp(`^session-\\d{4}-\\d\\d-\\d\\dT\\d\\d-\\d\\d-${id.slice(0, 8)}\\.jsonl$`));
    await steps.recordsId(id);

    await steps.say('please say banana', 'BANANA-REPLY-42', 'the scripted reply');

    // A confirmation dialog, and no hooks installed: the pane says it. "1. Allow once" is selected: Enter allows it.
    await steps.approvedOnPane('please make a file', 'FILE-MADE');

    // Graceful stop: Ctrl-C twice ends gemini (both of its Node processes) within the exit-keys rung.
    await steps.stopsGracefully(fresh!.pane!.pid!, id);

    // Resume: `gemini --resume <id>` shows the old conversation and goes on writing to the same chat file. It also
    // starts a chat file for the same session as a fresh start would: a second file when the UTC minute in the name
    // has changed since, else more lines appended to the first (the purge test below makes the second file).
    await steps.resumes(id, ['gemini', '--resume', id], 'BANANA-REPLY-42', 'now say cherry', 'CHERRY-REPLY-7', chat!);
    const text = await readFile(chat!, 'utf8');
    expect(text).toContain('BANANA-REPLY-42');
    const after = await chats(geminiHome, workspace);
    expect(after).toContain(chat);
    expect(new Set(await Promise.all(after.map(sessionIdOf)))).toEqual(new Set([id]));
    // One session, however many files: reconcile keeps the id and finds nothing to repair.
    expect(emitted(await run('reconcile', '--once', '--emit-diff', '--tmux-server', server)).drifts).toEqual([]);
    expect(await entry(name)).toMatchObject({ status: 'running', gemini_session_id_own: id, resumed_at: expect.any(String) });

    await steps.stopsAndDeletes();
  });

  it('stop --purge-conversation --yes deletes every chat file of that session and nothing else', async () => {
    session = await startGeminiSession({ prefix: 'mam-gemini-purge-', serverTag: 'gmpurge', script, create: true });
    const { box, server, workspace, name, target, geminiHome } = session;
    await steps.say('please say banana', 'BANANA-REPLY-42');
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

    await steps.purges(() => chats(geminiHome, workspace), [...own, bystander].sort(), [bystander]);
    for (const file of shared) expect((await stat(file)).isFile(), file).toBe(true);
    await steps.purged();
  });
});
