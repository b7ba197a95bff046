import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import { hookFacts } from '../helpers/agent-lifecycle.js';
import { waitForScreen } from '../helpers/real-agent.js';
import { until } from '../helpers/until.js';
import { codexProblem } from './codex-home.js';
import { APPROVAL_DIALOG, CODEX, isCodexIdle, startCodexSession, submit, type CodexSession } from './fixture.js';
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
    const { box, server, name, target } = session;
    const { statusDir, files, watching, untilMain, approvedByHooks, endsClean } = hookFacts(CODEX, session);

    // Codex 0.171 fires SessionStart with the first prompt, not at launch.
    await submit(box, server, target, 'please say banana');
    await waitForScreen(box, server, target, (text) => text.includes('BANANA-REPLY-42') && isCodexIdle(text), 60_000, 'the reply');
    await untilMain('waiting', 'SessionStart … Stop → waiting');

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
    await approvedByHooks('please approve me', 'approved', 'APPROVED-DONE', 'PermissionRequest → needs_approval', 'PostToolUse … Stop → waiting');

    // Esc in the dialog: no PostToolUse and no Stop, only Interrupt — which ends the turn all the same.
    await submit(box, server, target, 'please reject me');
    await waitForScreen(box, server, target, (text) => text.includes(APPROVAL_DIALOG), 60_000, 'the second dialog');
    await untilMain('needs_approval', 'needs_approval again');
    await box.tmux(server, 'send-keys', '-t', target, 'Escape');
    await waitForScreen(box, server, target, (text) => /Conversation interrupted/.test(text), 60_000, 'the interrupted notice');
    await untilMain('waiting', 'Interrupt → waiting');
    await expect(stat(path.join(session.workspace, 'rejected'))).rejects.toThrow();

    // mam stop presses Codex's exit keys; Codex fires SessionEnd on the way out, and the session's fact files go.
    await endsClean();
  });
});
