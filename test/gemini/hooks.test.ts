import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseRegistry } from '../../src/registry/document.js';
import { parentPid } from '../../src/proc/tree.js';
import { capture, waitForScreen } from '../helpers/real-agent.js';
import { mam } from '../helpers/sandbox.js';
import { until, type UntilOptions } from '../helpers/until.js';
import { geminiProblem } from './gemini-home.js';
import { APPROVAL_DIALOG, isGeminiIdle, startGeminiSession, submit, type GeminiSession } from './fixture.js';
import type { ScriptStep } from './model-server.js';

/**
 * `mam hooks install --agent gemini` + the real Gemini CLI: its real hooks, under Gemini's own event names, run
 * `mam hook`, and the fact files follow what the person sees — the session at start-up (waiting, its id in the
 * registry), a reply (BeforeAgent → working, AfterAgent → waiting), a confirmation dialog (Notification
 * ToolPermission → needs approval) allowed once, and SessionEnd clearing them when mam stops it.
 */
const problem = geminiProblem();
if (problem) console.warn(`skipping the real-Gemini hook tests: ${problem}`);

const script = (workspace: string): ScriptStep[] => [
  { trigger: 'say banana', reply: { text: 'BANANA-REPLY-42', delayMs: 2_000 } },
  { trigger: 'approve me', reply: { call: { name: 'run_shell_command', args: { command: `touch ${path.join(workspace, 'approved')}`, description: 'Make a file' } } }, then: { text: 'APPROVED-DONE' } },
];

let session: GeminiSession | undefined;

afterEach(async () => {
  await session?.dispose();
  session = undefined;
});

describe.skipIf(problem !== undefined)('hooks on the real Gemini CLI', () => {
  it('report the session, a reply, a confirmation allowed once, and the end', async () => {
    session = await startGeminiSession({ prefix: 'mam-gemini-hooks-', serverTag: 'gmhooks', script, env: { MAM_WATCH: '1', MAM_WATCH_IDLE_EXIT: '5' }, hooks: true, create: true });
    const { box, server, name, target, env } = session;
    const statusDir = path.join(box.root, 'cache', 'mam', 'status');
    const files = async (): Promise<string[]> => (await readdir(statusDir).catch(() => [] as string[])).filter((file) => file.endsWith('.json') && !file.startsWith('hook'));
    const main = async (): Promise<string | undefined> => {
      const file = (await files()).find((candidate) => candidate.endsWith('.agent.main.json'));
      return file && (JSON.parse(await readFile(path.join(statusDir, file), 'utf8')) as { status: string }).status;
    };
    const watching: UntilOptions = { detail: async () => `facts: ${await main()}; files: ${(await files()).join(', ')}\n${await capture(box, server, target).catch(() => '')}` };

    // Gemini fires SessionStart at start-up: the session is waiting, and its id is in the registry before any prompt.
    await until(async () => (await main()) === 'waiting', 'SessionStart → waiting', 60_000, watching);
    const sessionFile = (await files()).find((file) => file.endsWith('.session.json'))!;
    const id = sessionFile.slice(0, -'.session.json'.length);
    const registry = async (): Promise<string | null | undefined> => parseRegistry(box.registry, await readFile(box.registry, 'utf8')).entries[0]?.gemini_session_id_own;
    await until(async () => (await registry()) === id, 'the id in the registry', 60_000, watching);
    // The hook's agent is the Node process Gemini re-runs itself in, a child of the one in the pane.
    const fact = JSON.parse(await readFile(path.join(statusDir, sessionFile), 'utf8')) as { pid: number; mam_session: string; agent: string; transcript_path: string };
    const panePid = Number((await box.tmux(server, 'display-message', '-p', '-t', target, '#{pane_pid}')).trim());
    expect(fact).toMatchObject({ agent: 'gemini', mam_session: name });
    expect(parentPid(fact.pid)).toBe(panePid);
    expect(path.basename(fact.transcript_path)).toMatch(new RegExp(`^session-.*-${id.slice(0, 8)}\\.jsonl$`));

    // A reply that takes 2 s: BeforeAgent → working while the model answers, AfterAgent → waiting.
    await submit(box, server, target, 'please say banana');
    await until(async () => (await main()) === 'working', 'BeforeAgent → working', 60_000, watching);
    await waitForScreen(box, server, target, (text) => text.includes('BANANA-REPLY-42') && isGeminiIdle(text), 120_000, 'the reply');
    await until(async () => (await main()) === 'waiting', 'AfterAgent → waiting', 60_000, watching);

    // A confirmation: BeforeTool, then Notification (ToolPermission) while the dialog is up.
    await submit(box, server, target, 'please approve me');
    await waitForScreen(box, server, target, (text) => text.includes(APPROVAL_DIALOG), 120_000, 'the confirmation dialog');
    await until(async () => (await main()) === 'needs_approval', 'Notification(ToolPermission) → needs_approval', 60_000, watching);
    const status = JSON.parse((await mam(['status', '--json', '--registry', box.registry], env)).stdout) as { sessions: { activity?: string; activity_source?: string }[] };
    expect(status.sessions[0]).toMatchObject({ activity: 'needs_approval', activity_source: 'hooks' });
    await box.tmux(server, 'send-keys', '-t', target, 'Enter');
    await waitForScreen(box, server, target, (text) => text.includes('APPROVED-DONE') && isGeminiIdle(text), 120_000, 'the allowed turn to end');
    await until(async () => (await main()) === 'waiting', 'AfterTool … AfterAgent → waiting', 60_000, watching);
    expect((await stat(path.join(session.workspace, 'approved'))).isFile()).toBe(true);

    // mam stop: Ctrl-C twice; Gemini fires SessionEnd on the way out, and the session's fact files go.
    const stopped = await mam(['stop', '--session', name, '--registry', box.registry], env);
    expect(stopped.stdout.trim()).toBe(`stopped ${name} (exit-keys)`);
    await until(async () => (await files()).length === 0, 'SessionEnd → the fact files removed', 60_000, watching);
    // Every payload came through the fast hook's spool (the Node hook never makes one), and the watcher took them all.
    await until(async () => (await readdir(path.join(statusDir, 'spool')).catch(() => ['(no spool)'])).length === 0, 'the spool emptied by the watcher', 60_000, watching);
  });

  // Esc in the confirmation dialog ("Request cancelled.") fires no hook in 0.61.0 — no AfterTool, no AfterAgent — so
  // the facts keep needs_approval until the next prompt; nothing in mam reads Gemini's screen or chat file for it yet
  // (docs/agents.md, 'Gemini CLI').
  it.todo('Esc in the confirmation dialog ends the wait');
});
