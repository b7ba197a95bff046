import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import { mam, type Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';
import { startClaudeSession, type ClaudeSession } from './fixture.js';
import { isEmptyIdlePrompt, typeLine, waitForScreen } from './tmux-screen.js';

/**
 * `mam hooks install` + the real Claude Code CLI: its real hooks run the fast hook (the default), and the fact files follow
 * what the person sees — a reply (waiting) and a real permission dialog (needs approval).
 */
let session: ClaudeSession | undefined;
let box: Sandbox;
let env: NodeJS.ProcessEnv;
let server: string;
let target: string;

beforeEach(async () => {
  session = await startClaudeSession({
    prefix: 'mam-claude-hooks-',
    serverTag: 'hooks',
    script: (workspace) => [
      { trigger: 'say banana', reply: { text: 'BANANA-REPLY-42' } },
      { trigger: 'touch a file', reply: { toolUse: { name: 'Bash', input: { command: `touch ${path.join(workspace, 'made-by-claude')}`, description: 'Create a file' } } } },
    ],
    // The fast hook installed (the default) records through the watcher: one must be allowed to start.
    env: { MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '5' },
    hooks: true,
    create: true,
  });
  ({ box, env, server, target } = session);
});

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

async function mainStatus(): Promise<string | undefined> {
  const dir = path.join(box.root, 'cache', 'mam', 'status');
  const file = (await readdir(dir).catch(() => [] as string[])).find((name) => name.endsWith('.agent.main.json'));
  if (!file) return undefined;
  return (JSON.parse(await readFile(path.join(dir, file), 'utf8')) as { status: string }).status;
}

describe('agent hooks on the real Claude Code CLI', () => {
  it('fact files follow a reply and a permission dialog; SessionStart records the id in the registry', async () => {
    // The fixture installed the hooks, created the session and waited for its idle prompt.
    await until(async () => (await mainStatus()) === 'waiting', 'SessionStart → waiting', 20_000);
    // SessionStart told the registry the conversation id before any message was sent (no reconcile needed).
    await until(async () => Boolean(parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries[0]?.claude_session_id_own), 'the id in the registry', 20_000);

    await typeLine(box, server, target, 'please say banana');
    await waitForScreen(box, server, target, (text) => text.includes('BANANA-REPLY-42') && isEmptyIdlePrompt(text), 30_000, 'the reply');
    await until(async () => (await mainStatus()) === 'waiting', 'Stop → waiting', 20_000);

    await typeLine(box, server, target, 'please touch a file');
    await waitForScreen(box, server, target, (text) => text.includes('Do you want to proceed?'), 30_000, 'the permission dialog');
    await until(async () => (await mainStatus()) === 'needs_approval', 'PermissionRequest → needs_approval', 20_000);
    const status = JSON.parse((await mam(['status', '--json', '--registry', box.registry], env)).stdout) as { sessions: { name: string; activity?: string }[] };
    expect(status.sessions[0]).toMatchObject({ name: 'ws-creator-claude', activity: 'needs_approval' });
    // It all came through the fast hook's spool (the Node hook never makes one), and the watcher took every payload.
    const spool = path.join(box.root, 'cache', 'mam', 'status', 'spool');
    await until(async () => (await readdir(spool).catch(() => ['(no spool)'])).length === 0, 'the spool emptied by the watcher', 20_000);
  });
});
