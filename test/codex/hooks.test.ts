import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import { capture, waitForScreen } from '../helpers/real-agent.js';
import { mam } from '../helpers/sandbox.js';
import { until, type UntilOptions } from '../helpers/until.js';
import { codexProblem } from './codex-home.js';
import { APPROVAL_DIALOG, isCodexIdle, startCodexSession, submit, type CodexSession } from './fixture.js';
import type { ScriptStep } from './model-server.js';

/**
 * `mam hooks install --agent codex` + the real Codex CLI: once the person has trusted them, Codex's real hooks run
 * `mam hook` inside the pane's own process, and the fact files follow what the person sees — a reply (waiting), a
 * command approval dialog (needs approval through PermissionRequest), yes, and Esc (Interrupt) — and SessionEnd
 * clears them when mam stops it.
 */
const problem = codexProblem();
if (problem) console.warn(`skipping the real-Codex hook tests: ${problem}`);

const escalated = (file: string): ScriptStep['reply'] => ({ call: { name: 'exec_command', arguments: { cmd: `touch ${file}`, sandbox_permissions: 'require_escalated', justification: 'May I make a file?' } } });
const script = (workspace: string): ScriptStep[] => [
  { trigger: 'say banana', reply: { text: 'BANANA-REPLY-42' } },
  { trigger: 'approve me', reply: escalated(path.join(workspace, 'approved')), then: { text: 'APPROVED-DONE' } },
  { trigger: 'reject me', reply: escalated(path.join(workspace, 'rejected')), then: { text: 'NOT-SEEN' } },
];

let session: CodexSession | undefined;

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

describe.skipIf(problem !== undefined)('hooks on the real Codex CLI', () => {
  it('trusted hooks report a reply, an approval (yes and Esc) and the end, from inside the pane', async () => {
    session = await startCodexSession({ prefix: 'mam-codex-hooks-', serverTag: 'cxhooks', script, env: { MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '5' }, hooks: true, create: true });
    const { box, server, name, target, env } = session;
    const statusDir = path.join(box.root, 'cache', 'mam', 'status');
    const files = async (): Promise<string[]> => (await readdir(statusDir).catch(() => [] as string[])).filter((file) => file.endsWith('.json') && !file.startsWith('hook'));
    const main = async (): Promise<string | undefined> => {
      const file = (await files()).find((candidate) => candidate.endsWith('.agent.main.json'));
      return file && (JSON.parse(await readFile(path.join(statusDir, file), 'utf8')) as { status: string }).status;
    };
    const watching: UntilOptions = { detail: async () => `facts: ${await main()}; files: ${(await files()).join(', ')}\n${await capture(box, server, target).catch(() => '')}` };

    // Codex 0.171 fires SessionStart with the first prompt, not at launch.
    await submit(box, server, target, 'please say banana');
    await waitForScreen(box, server, target, (text) => text.includes('BANANA-REPLY-42') && isCodexIdle(text), 60_000, 'the reply');
    await until(async () => (await main()) === 'waiting', 'SessionStart … Stop → waiting', 60_000, watching);

    // The hook ran in the pane's own codex process: its facts name that process, this session and its pane, and
    // SessionStart put the conversation id in the registry, no reconcile needed.
    const sessionFile = (await files()).find((file) => file.endsWith('.session.json'))!;
    const id = sessionFile.slice(0, -'.session.json'.length);
    const fact = JSON.parse(await readFile(path.join(statusDir, sessionFile), 'utf8')) as { pid: number; mam_session: string; agent: string; pane: { id: string } | null; transcript_path: string };
    const pane = (await box.tmux(server, 'display-message', '-p', '-t', target, '#{pane_pid} #{pane_id}')).trim().split(' ');
    expect(fact).toMatchObject({ agent: 'codex', mam_session: name, pid: Number(pane[0]), pane: { id: pane[1] } });
    expect(path.basename(fact.transcript_path)).toMatch(new RegExp(`^rollout-.*-${id}\\.jsonl$`));
    const registry = async (): Promise<string | null | undefined> => parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries[0]?.codex_session_id_own;
    await until(async () => (await registry()) === id, 'the id in the registry', 60_000, watching);

    // A command approval: PermissionRequest fires while the dialog is up.
    await submit(box, server, target, 'please approve me');
    await waitForScreen(box, server, target, (text) => text.includes(APPROVAL_DIALOG), 60_000, 'the approval dialog');
    await until(async () => (await main()) === 'needs_approval', 'PermissionRequest → needs_approval', 60_000, watching);
    const status = JSON.parse((await mam(['status', '--json', '--registry', box.registry], env)).stdout) as { sessions: { activity?: string; activity_source?: string }[] };
    expect(status.sessions[0]).toMatchObject({ activity: 'needs_approval', activity_source: 'hooks' });
    await box.tmux(server, 'send-keys', '-t', target, 'y');
    await waitForScreen(box, server, target, (text) => text.includes('APPROVED-DONE') && isCodexIdle(text), 60_000, 'the approved turn to end');
    await until(async () => (await main()) === 'waiting', 'PostToolUse … Stop → waiting', 60_000, watching);
    expect((await stat(path.join(session.workspace, 'approved'))).isFile()).toBe(true);

    // Esc in the dialog: no PostToolUse and no Stop, only Interrupt — which ends the turn all the same.
    await submit(box, server, target, 'please reject me');
    await waitForScreen(box, server, target, (text) => text.includes(APPROVAL_DIALOG), 60_000, 'the second dialog');
    await until(async () => (await main()) === 'needs_approval', 'needs_approval again', 60_000, watching);
    await box.tmux(server, 'send-keys', '-t', target, 'Escape');
    await waitForScreen(box, server, target, (text) => /Conversation interrupted/.test(text), 60_000, 'the interrupted notice');
    await until(async () => (await main()) === 'waiting', 'Interrupt → waiting', 60_000, watching);
    await expect(stat(path.join(session.workspace, 'rejected'))).rejects.toThrow();

    // mam stop presses Codex's exit keys; Codex fires SessionEnd on the way out, and the session's fact files go.
    const stopped = await mam(['stop', '--session', name, '--registry', box.registry], env);
    expect(stopped.stdout.trim()).toBe(`stopped ${name} (exit-keys)`);
    await until(async () => (await files()).length === 0, 'SessionEnd → the fact files removed', 60_000, watching);
    // Every payload came through the fast hook's spool (the Node hook never makes one), and the watcher took them all.
    await until(async () => (await readdir(path.join(statusDir, 'spool')).catch(() => ['(no spool)'])).length === 0, 'the spool emptied by the watcher', 60_000, watching);
  });
});
