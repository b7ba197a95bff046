import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { claudeProjectKey } from '../../src/agents/claude.js';
import type { Sandbox } from '../helpers/sandbox.js';
import { untilValue } from '../helpers/until.js';
import { claudeBin, claudeEnv } from './claude-home.js';
import { startClaudeSession, type ClaudeSession } from './fixture.js';
import { textOf, type ApiMessage, type ModelServer, type ScriptStep } from './model-server.js';
import { capture, isEmptyIdlePrompt, isIdlePrompt, typeLine, waitForScreen } from './tmux-screen.js';

const SESSION = 'smoke-creator-claude';
const TARGET = `=${SESSION}:`;

const SCRIPT: ScriptStep[] = [
  { trigger: 'say banana', reply: { text: 'BANANA-REPLY-42' } },
  { trigger: 'say cherry', reply: { text: 'CHERRY-REPLY-7' } },
];

interface TranscriptLine {
  readonly type?: string;
  readonly sessionId?: string;
  readonly message?: { readonly role?: string; readonly content?: ApiMessage['content'] };
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function readTranscript(file: string): Promise<TranscriptLine[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as TranscriptLine);
}

const said = (lines: readonly TranscriptLine[], role: 'user' | 'assistant', text: string): boolean =>
  lines.some((line) => line.type === role && textOf(line.message?.content).includes(text));

describe('real claude in tmux against the scripted model server', () => {
  let session: ClaudeSession | undefined;
  let box: Sandbox;
  let model: ModelServer;
  let workspace: string;
  let server: string;

  /** Each test scripts its own model: the sandbox, the home and the model server come up with that script. */
  async function setUp(script: (workspace: string) => readonly ScriptStep[]): Promise<void> {
    session = await startClaudeSession({ prefix: 'mam-claude-', serverTag: 'claude', script });
    ({ box, model, workspace, server } = session);
  }

  afterEach(async () => {
    // Ends the server and waits for every claude in it: none outlives the test, and each writes its files first.
    await session?.dispose();
    session = undefined;
  });

  /** Starts claude as the pane's command in a detached session; returns its pid once the idle prompt shows. */
  async function startClaude(serverUrl: string, ...args: string[]): Promise<number> {
    const env = claudeEnv({ home: box.home, serverUrl });
    const command = ['new-session', '-d', '-s', SESSION, '-x', '120', '-y', '40', '-c', workspace];
    for (const [key, value] of Object.entries(env)) command.push('-e', `${key}=${value}`);
    await box.tmux(server, ...command, claudeBin(), ...args);
    const pid = Number((await box.tmux(server, 'display-message', '-p', '-t', TARGET, '#{pane_pid}')).trim());
    await waitForScreen(box, server, TARGET, isEmptyIdlePrompt, 30_000, 'the idle prompt');
    return pid;
  }

  it('answers a prompt, writes the transcript, exits and resumes into the same transcript', async () => {
    await setUp(() => SCRIPT);

    const pid = await startClaude(model.url);
    expect((await box.tmux(server, 'display-message', '-p', '-t', TARGET, '#{pane_current_command}')).trim()).toBe('claude');

    await typeLine(box, server, TARGET, 'please say banana');
    const screen = await waitForScreen(box, server, TARGET, (text) => text.includes('● BANANA-REPLY-42') && isEmptyIdlePrompt(text), 30_000, 'the scripted reply');
    expect(screen).toContain('❯ please say banana');

    // The live-session file names the session; the transcript is <HOME>/.claude/projects/<key>/<sessionId>.jsonl.
    const live = JSON.parse(await readFile(path.join(box.home, '.claude', 'sessions', `${pid}.json`), 'utf8')) as { sessionId: string; cwd: string };
    expect(live.cwd).toBe(workspace);
    const projectDir = path.join(box.home, '.claude', 'projects', claudeProjectKey(workspace));
    const transcript = path.join(projectDir, `${live.sessionId}.jsonl`);
    const first = await untilValue(async () => {
      const lines = await readTranscript(transcript);
      return said(lines, 'user', 'please say banana') && said(lines, 'assistant', 'BANANA-REPLY-42') ? lines : undefined;
    }, 'the first turn in the transcript', 10_000);
    expect(first.filter((line) => line.sessionId !== undefined).every((line) => line.sessionId === live.sessionId)).toBe(true);

    // One title request and one main request per turn; the main one carries the user's words.
    expect(model.messages('title')).toHaveLength(1);
    expect(model.messages('main')).toHaveLength(1);

    await typeLine(box, server, TARGET, '/exit');
    await untilValue(async () => {
      const sessionGone = await box.tmux(server, 'has-session', '-t', `=${SESSION}`).then(() => false, () => true);
      return sessionGone && !isAlive(pid) ? true : undefined;
    }, 'claude to exit after /exit', 15_000);

    const resumed = await startClaude(model.url, '--resume', live.sessionId);
    expect(resumed).not.toBe(pid);
    // The resumed screen replays the earlier conversation.
    expect(await capture(box, server, TARGET)).toContain('BANANA-REPLY-42');

    await typeLine(box, server, TARGET, 'now say cherry');
    await waitForScreen(box, server, TARGET, (text) => text.includes('● CHERRY-REPLY-7') && isEmptyIdlePrompt(text), 30_000, 'the reply after --resume');

    const second = await untilValue(async () => {
      const lines = await readTranscript(transcript);
      return said(lines, 'assistant', 'CHERRY-REPLY-7') ? lines : undefined;
    }, 'the resumed turn in the same transcript', 10_000);
    expect(said(second, 'user', 'please say banana')).toBe(true);
    expect(said(second, 'user', 'now say cherry')).toBe(true);
    expect((await readdir(projectDir)).filter((name) => name.endsWith('.jsonl'))).toEqual([`${live.sessionId}.jsonl`]);

    // The model saw the whole conversation on the resumed turn.
    const last = model.messages('main').at(-1)?.body as { messages: ApiMessage[] };
    const history = last.messages.map((message) => textOf(message.content)).join('\n');
    expect(history).toContain('please say banana');
    expect(history).toContain('BANANA-REPLY-42');
    expect(history).toContain('now say cherry');

    // Besides the messages endpoint, 2.1.197 only probes `HEAD /` at start-up; nothing went unanswered.
    expect(new Set(model.requests.map((request) => `${request.method} ${request.path}`))).toEqual(new Set(['HEAD /', 'POST /v1/messages']));
    expect(model.requests.every((request) => request.status === 200)).toBe(true);
  });

  it('shows the real permission dialog for a scripted Bash tool call', async () => {
    const markerIn = (dir: string): string => path.join(dir, 'touched-by-claude');
    await setUp((dir) => [
      {
        trigger: 'make the marker',
        reply: { toolUse: { name: 'Bash', input: { command: `touch ${markerIn(dir)}`, description: 'Create the marker file' } } },
        then: { text: 'MARKER-DONE' },
      },
    ]);
    const marker = markerIn(workspace);
    await startClaude(model.url);

    await typeLine(box, server, TARGET, 'please make the marker');
    const dialog = await waitForScreen(box, server, TARGET, (text) => text.includes('Do you want to proceed?') && text.includes('Esc to cancel'), 30_000, 'the permission dialog');
    expect(dialog).toContain('Bash command');
    expect(dialog).toContain(`touch ${marker}`);
    expect(dialog).toMatch(/❯ 1\. Yes/);
    expect(dialog).toMatch(/3\. No/);
    expect(isIdlePrompt(dialog)).toBe(false);
    expect(existsSync(marker)).toBe(false);

    // Esc rejects the call: nothing runs, and the prompt comes back.
    await box.tmux(server, 'send-keys', '-t', TARGET, 'Escape');
    const after = await waitForScreen(box, server, TARGET, (text) => text.includes('Interrupted') && isEmptyIdlePrompt(text), 30_000, 'the prompt after Esc');
    expect(after).not.toContain('MARKER-DONE');
    expect(existsSync(marker)).toBe(false);
    expect(model.messages('main')).toHaveLength(1);
  });
});
