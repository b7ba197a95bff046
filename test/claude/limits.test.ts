import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import { mam } from '../helpers/sandbox.js';
import { until, type UntilOptions } from '../helpers/until.js';
import { startClaudeSession, type ClaudeSession } from './fixture.js';
import { textOf, usageLimitError, type MessagesRequest, type ScriptFunction } from './model-server.js';
import { capture, isEmptyIdlePrompt, isIdlePrompt, typeLine, waitForScreen } from './tmux-screen.js';

/**
 * A usage limit on the real Claude Code CLI (docs/status.md, 'Usage limits'): the scripted server answers the turn
 * with the API's 429 until a reset time 30 s after its first refusal, then answers normally. The session must show
 * `limited` with that time, and — created with --auto-resume — get `continue` once at the reset and work again.
 */
let session: ClaudeSession | undefined;

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

const LIMIT_MS = 30_000;
/** The last user message's text (`continue` typed at the prompt arrives there beside Claude's reminders). */
const lastUserText = (request: MessagesRequest): string => textOf([...(request.body.messages ?? [])].reverse().find((message) => message.role === 'user')?.content);

describe('usage limits on the real Claude Code CLI', () => {
  it('a 429 usage limit parks the session as limited until the reset; with --auto-resume it gets `continue` once then and works again', async () => {
    let resetAt: number | undefined;
    const continues: number[] = [];
    const script = (): ScriptFunction => (request) => {
      if (request.kind !== 'main') return undefined;
      if (resetAt === undefined && request.turnText.includes('hit the limit')) resetAt = Date.now() + LIMIT_MS;
      if (resetAt !== undefined && Date.now() < resetAt) return { error: usageLimitError(resetAt) };
      if (/^continue$/m.test(lastUserText(request))) {
        continues.push(Date.now());
        return { text: 'RESUMED-AFTER-LIMIT' };
      }
      return undefined;
    };
    session = await startClaudeSession({ prefix: 'mam-claude-limit-', serverTag: 'limit', script, env: { MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '5', MAM_LOG_LEVEL: 'info' }, hooks: true });
    const { box, env, workspace, server, target } = session;
    const made = await mam(['create', '--agent', 'claude', '--workspace', workspace, '--tmux-server', server, '--registry', box.registry, '--auto-resume'], env);
    expect(made.code, made.stderr).toBe(0);
    expect(parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries[0]?.auto_resume).toBe(true);
    await waitForScreen(box, server, target, isEmptyIdlePrompt, 60_000, 'the idle prompt');

    const statusDir = path.join(box.root, 'cache', 'mam', 'status');
    const main = async (): Promise<{ status?: string; limit?: { until: string | null; resume_sent_at: string | null } | null }> => {
      const file = (await readdir(statusDir).catch(() => [] as string[])).find((name) => name.endsWith('.agent.main.json'));
      return file ? (JSON.parse(await readFile(path.join(statusDir, file), 'utf8').catch(() => '{}')) as { status?: string }) : {};
    };
    const watching: UntilOptions = { intervalMs: 50, detail: async () => `main: ${JSON.stringify(await main())}\n${await capture(box, server, target).catch(() => '')}` };
    await until(async () => (await main()).status === 'waiting', 'SessionStart → waiting', 60_000, watching);

    await typeLine(box, server, target, 'please hit the limit');
    // StopFailure(rate_limit) with the API's text: limited, until the reset the message gives (epoch seconds).
    await until(async () => (await main()).status === 'limited', 'limited', 60_000, watching);
    expect((await main()).limit?.until).toBe(new Date(Math.ceil(resetAt! / 1000) * 1000).toISOString());
    const screen = await waitForScreen(box, server, target, (text) => text.includes('usage limit reached') && isIdlePrompt(text), 30_000, 'the error on screen');
    expect(screen).toContain('API Error: Request rejected (429)');
    const json = JSON.parse((await mam(['status', '--json', '--registry', box.registry], env)).stdout) as { sessions: { activity: string; limited_until: string | null }[] };
    expect(json.sessions[0]).toMatchObject({ activity: 'limited', limited_until: (await main()).limit?.until });
    expect((await mam(['status', '--registry', box.registry], { ...env, NO_COLOR: '1' })).stdout).toMatch(/limited until \d\d:\d\d/);

    // At the reset the watcher types `continue` (confirmed in the pane); the turn runs and ends as any other.
    await waitForScreen(box, server, target, (text) => text.includes('RESUMED-AFTER-LIMIT') && isIdlePrompt(text), 120_000, 'the resumed turn');
    await until(async () => (await main()).status === 'waiting', 'waiting after the resumed turn', 60_000, watching);
    expect(continues).toHaveLength(1);
    expect(continues[0]!).toBeGreaterThanOrEqual(Math.ceil(resetAt! / 1000) * 1000 - 1_000);
    expect((await main()).limit ?? null).toBeNull();
    // Once: a later look (the full sweep re-resolves every session) sends nothing more.
    const log = await readFile(path.join(statusDir, 'watch.log'), 'utf8');
    // pino writes JSON: the quotes of the message are escaped.
    expect(log.match(/the usage limit reset: sent \\"continue\\"/g), log).toHaveLength(1);
  });
});
