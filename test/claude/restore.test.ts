import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RestoreReport } from '../../src/lifecycle/restore.js';
import { emitted } from '../helpers/sandbox.js';
import { until } from '../helpers/until.js';
import { FRUIT_SCRIPT, firstExchange, registryEntry, registryRun, secondExchange } from './conversation.js';
import { startClaudeSession, type ClaudeSession } from './fixture.js';

/**
 * `mam restore` on the real Claude Code CLI (scripted model): a Claude session with a conversation, its tmux server
 * killed by pid, and `mam restore --yes` run as from a bare shell after a reboot — another HOME, a PATH without
 * claude, only the API key (a secret mam never records) — brings Claude back into the same conversation, which goes on
 * in the same transcript.
 */
let session: ClaudeSession | undefined;

beforeEach(async () => {
  session = await startClaudeSession({ prefix: 'mam-claude-restore-', serverTag: 'restore', workspace: 'landing-page', script: () => FRUIT_SCRIPT });
});

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

describe('mam restore on the real Claude Code CLI', () => {
  it('brings Claude back into its conversation after its tmux server was killed, from a bare environment', async () => {
    const { box, workspace, server, env } = session!;
    const name = 'landing-page-creator-claude';
    const target = `=${name}:`;
    const run = registryRun(session!);
    const created = await run(['create', '--agent', 'claude', '--workspace', workspace, '--tmux-server', server]);
    expect(created.code, created.stderr).toBe(0);
    const conversation = await firstExchange(session!, target);
    const { sessionId } = conversation;
    expect(emitted(await run(['reconcile', '--once', '--emit-diff', '--tmux-server', server])).drifts).toEqual([expect.objectContaining({ class: 'C', conversation_id: sessionId })]);
    const recorded = await registryEntry(session!, name);
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

    await secondExchange(session!, target, conversation, 'restore');
    expect(await registryEntry(session!, name)).toMatchObject({ status: 'running', claude_session_id_own: sessionId });
  });
});
