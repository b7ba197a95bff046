import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RegistryEntry } from '../../src/registry/schema.js';
import { isAlive } from '../helpers/real-agent.js';
import { emitted, type Sandbox } from '../helpers/sandbox.js';
import { FRUIT_SCRIPT, firstExchange, registryEntry, registryRun, secondExchange } from './conversation.js';
import { startClaudeSession, type ClaudeSession } from './fixture.js';
import { waitForScreen } from './tmux-screen.js';

/**
 * The session lifecycle on the real Claude Code CLI (scripted model): mam create → prompt → transcript →
 * reconcile records the id (C) → mam stop (graceful, every field docs/lifecycle.md lists for stop) → mam resume into the
 * same conversation → stop → delete.
 */
let session: ClaudeSession | undefined;
let box: Sandbox;
let workspace: string;
let server: string;

beforeEach(async () => {
  session = await startClaudeSession({ prefix: 'mam-claude-life-', serverTag: 'life', workspace: 'landing-page', script: () => FRUIT_SCRIPT });
  ({ box, workspace, server } = session);
});

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

const entry = (name: string): Promise<RegistryEntry | undefined> => registryEntry(session!, name);
const run = (...args: string[]) => registryRun(session!)(args);

describe('session lifecycle on the real Claude Code CLI', () => {
  it('create → prompt → id recorded → graceful stop → resume the same conversation → stop → delete', async () => {
    const name = 'landing-page-creator-claude';
    const target = `=${name}:`;

    const created = await run('create', '--agent', 'claude', '--workspace', workspace, '--tmux-server', server);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout.trim()).toBe(name);
    const fresh = await entry(name);
    expect(fresh).toMatchObject({ agent: 'claude', workspace, status: 'running', tmux_server: server, start_command: 'claude', claude_session_id_own: null, pane: { cmd: 'claude', cwd: workspace } });
    expect(await box.tmux(server, 'show-environment', '-t', name, 'MAM_SESSION')).toBe(`MAM_SESSION=${name}\n`);

    const conversation = await firstExchange(session!, target);
    const { sessionId } = conversation;

    // The transcript exists now; reconcile records its id (class C).
    const reconciled = emitted(await run('reconcile', '--once', '--emit-diff', '--tmux-server', server));
    expect(reconciled.drifts).toEqual([expect.objectContaining({ class: 'C', session: name, conversation_id: sessionId })]);
    expect(await entry(name)).toMatchObject({ claude_session_id_own: sessionId });

    // Graceful stop: /exit ends claude inside the first rung. The ladder reports `exit-keys` only when the agent was
    // gone within that rung's wait after its exit keys (src/lifecycle/stop.ts), so the rung proves it, not a stopwatch
    // around the whole command (node start-up, the screen snapshot, the registry write), which a busy machine stretches.
    const pid = fresh!.pane!.pid!;
    const stopped = await run('stop', '--session', name, '--reason', 'end of day');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stdout.trim()).toBe(`stopped ${name} (exit-keys)`);
    expect(isAlive(pid)).toBe(false);
    expect(await box.tmux(server, 'has-session', '-t', `=${name}`).then(() => true, () => false)).toBe(false);
    const afterStop = await entry(name);
    expect(afterStop).toMatchObject({
      status: 'stopped',
      stopped_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      stop_reason: 'end of day',
      termination_mode: 'graceful',
      stop_rung: 'exit-keys',
      claude_session_id_own: sessionId,
      resumable: true,
      last_visible_status: expect.stringContaining('BANANA-REPLY-42'),
    });
    expect(afterStop!.stopped_at_epoch).toBe(Date.parse(String(afterStop!.stopped_at)) / 1000);
    expect((await run('stop', '--session', name)).stdout).toMatch(/^already stopped \(.*reason: end of day\)/);

    // Resume: the same conversation, continued in the same transcript.
    const resumed = await run('resume', '--session', name);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout.trim()).toBe(`${name}: resumed conversation ${sessionId} (recorded-id)`);
    const transcript = await secondExchange(session!, target, conversation, 'resume');
    expect(transcript).toContain('BANANA-REPLY-42');
    expect(transcript).toContain('CHERRY-REPLY-7');
    expect(await entry(name)).toMatchObject({ status: 'running', claude_session_id_own: sessionId, resumed_at: expect.any(String) });

    expect((await run('stop', '--session', name)).code).toBe(0);
    const deleted = await run('delete', '--session', name);
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(await entry(name)).toBeUndefined();
    const history = (await readFile(box.registry.replace(/\.yaml$/, '.history.jsonl'), 'utf8')).trim().split('\n').map((line) => JSON.parse(line) as { action: string; entry: RegistryEntry });
    expect(history).toEqual([expect.objectContaining({ action: 'delete', entry: expect.objectContaining({ name, claude_session_id_own: sessionId, status: 'stopped' }) })]);
  });

  it('create --submit-job types the prompt into Claude and sees it submitted', async () => {
    const result = await run('create', '--agent', 'claude', '--workspace', workspace, '--tmux-server', server, '--name', 'job-creator-claude', '--submit-job', 'please say cherry', '--registry-dir', path.join(box.root, 'jobs'));
    expect(result.code, result.stderr).toBe(0);
    await waitForScreen(box, server, '=job-creator-claude:', (text) => text.includes('CHERRY-REPLY-7'), 30_000, 'the reply to the submitted prompt');
  });

  it('purges exactly the stopped conversation\'s files', async () => {
    const name = 'purge-creator-claude';
    expect((await run('create', '--agent', 'claude', '--workspace', workspace, '--tmux-server', server, '--name', name)).code).toBe(0);
    const { projectDir, sessionId } = await firstExchange(session!, `=${name}:`);
    const own = `${sessionId}.jsonl`;
    // Another conversation of the same project, which must survive.
    const bystander = path.join(projectDir, '00000000-aaaa-4bbb-8ccc-dddddddddddd.jsonl');
    await writeFile(bystander, await readFile(path.join(projectDir, own)));
    const before = (await readdir(projectDir)).sort();
    expect(before).toEqual(expect.arrayContaining([own, path.basename(bystander)]));

    const refused = await run('stop', '--session', name, '--purge-conversation');
    expect(refused.code).toBe(64);
    expect((await readdir(projectDir)).sort()).toEqual(before);

    const purged = await run('stop', '--session', name, '--purge-conversation', '--yes');
    expect(purged.code, purged.stderr).toBe(0);
    // Only this conversation's transcript went; the other conversation and Claude's project files (memory/) stay.
    expect((await readdir(projectDir)).sort()).toEqual(before.filter((file) => file !== own));
    expect(await entry(name)).toMatchObject({ status: 'terminated', termination_mode: 'purge', resumable: false, terminated_at: expect.any(String), terminated_at_epoch: expect.any(Number) });
  });
});
