import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { claudeProjectKey } from '../../src/agents/claude.js';
import type { RestoreReport } from '../../src/lifecycle/restore.js';
import { parseRegistry } from '../../src/registry/document.js';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { waitFor } from '../../src/util/wait.js';
import { emitted, mam, type Sandbox } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';
import { startClaudeSession, type ClaudeSession } from './fixture.js';
import { capture, isEmptyIdlePrompt, typeLine, waitForScreen } from './tmux-screen.js';

/**
 * `mam restore` on the real Claude Code CLI (scripted model): a Claude session with a conversation, its tmux server
 * killed by pid, and `mam restore --yes` run as from a bare shell after a reboot — another HOME, a PATH without
 * claude, only the API key (a secret mam never records) — brings Claude back into the same conversation, which goes on
 * in the same transcript.
 */
const SCRIPT = [
  { trigger: 'say banana', reply: { text: 'BANANA-REPLY-42' } },
  { trigger: 'say cherry', reply: { text: 'CHERRY-REPLY-7' } },
];

let session: ClaudeSession | undefined;
let box: Sandbox;
let workspace: string;
let server: string;
let env: NodeJS.ProcessEnv;

beforeEach(async () => {
  session = await startClaudeSession({ prefix: 'mam-claude-restore-', serverTag: 'restore', workspace: 'landing-page', script: () => SCRIPT });
  ({ box, workspace, server, env } = session);
});

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

async function entry(name: string): Promise<RegistryEntry | undefined> {
  return parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries.find((item) => item.name === name);
}

describe('mam restore on the real Claude Code CLI', () => {
  it('brings Claude back into its conversation after its tmux server was killed, from a bare environment', async () => {
    const name = 'landing-page-creator-claude';
    const target = `=${name}:`;
    const run = (args: readonly string[], withEnv: NodeJS.ProcessEnv = env) => mam([...args, '--registry', box.registry], withEnv);
    const created = await run(['create', '--agent', 'claude', '--workspace', workspace, '--tmux-server', server]);
    expect(created.code, created.stderr).toBe(0);
    await waitForScreen(box, server, target, isEmptyIdlePrompt, 30_000, 'the idle prompt');
    await typeLine(box, server, target, 'please say banana');
    await waitForScreen(box, server, target, (text) => text.includes('BANANA-REPLY-42') && isEmptyIdlePrompt(text), 30_000, 'the scripted reply');
    const projectDir = path.join(box.home, '.claude', 'projects', claudeProjectKey(workspace));
    const [transcriptName] = (await readdir(projectDir)).filter((file) => file.endsWith('.jsonl'));
    const sessionId = transcriptName!.replace(/\.jsonl$/, '');
    expect(emitted(await run(['reconcile', '--once', '--emit-diff', '--tmux-server', server])).drifts).toEqual([expect.objectContaining({ class: 'C', conversation_id: sessionId })]);
    const recorded = await entry(name);
    expect(recorded?.start_env).toMatchObject({ HOME: box.home, ANTHROPIC_BASE_URL: env['ANTHROPIC_BASE_URL'] });
    expect(recorded?.start_env).not.toHaveProperty('ANTHROPIC_API_KEY');

    const serverPid = Number((await box.tmux(server, 'display-message', '-p', '#{pid}')).trim());
    process.kill(serverPid, 'SIGKILL');
    await until(async () => box.tmux(server, 'list-sessions').then(() => false, () => true), 'the killed tmux server to be gone', 30_000);

    const bare = box.env({
      HOME: path.join(box.root, 'elsewhere'),
      PATH: [path.dirname(process.execPath), '/usr/bin', '/bin'].join(path.delimiter),
      ANTHROPIC_API_KEY: env['ANTHROPIC_API_KEY'],
    });
    const restored = await run(['restore', '--yes', '--json'], bare);
    expect(restored.code, restored.stderr).toBe(0);
    const report = JSON.parse(restored.stdout) as RestoreReport;
    expect(report.plan).toEqual([expect.objectContaining({ session: name, lost: 'crash', action: 'resume', argv: ['claude', '--resume', sessionId] })]);
    expect(report.results).toEqual([expect.objectContaining({ session: name, outcome: 'restored', tier: 'recorded-id', conversation_id: sessionId })]);

    await waitForScreen(box, server, target, isEmptyIdlePrompt, 30_000, 'the idle prompt after restore');
    expect(await capture(box, server, target)).toContain('BANANA-REPLY-42');
    await typeLine(box, server, target, 'now say cherry');
    await waitForScreen(box, server, target, (text) => text.includes('CHERRY-REPLY-7') && isEmptyIdlePrompt(text), 30_000, 'the reply after restore');
    const file = path.join(projectDir, `${sessionId}.jsonl`);
    await waitFor(async () => (await readFile(file, 'utf8')).includes('CHERRY-REPLY-7'), 10_000, 100);
    expect((await readdir(projectDir)).filter((item) => item.endsWith('.jsonl'))).toEqual([`${sessionId}.jsonl`]);
    expect(await entry(name)).toMatchObject({ status: 'running', claude_session_id_own: sessionId });
  });
});
