import path from 'node:path';
import type { AgentTraits } from '../helpers/agent-lifecycle.js';
import { binOnPath, startRealAgentSession, submitLine, waitForScreen, type RealAgentAdapter, type RealAgentOptions, type RealAgentSession } from '../helpers/real-agent.js';
import type { Sandbox } from '../helpers/sandbox.js';
import { codexBin, prepareCodexHome } from './codex-home.js';
import { startCodexModel, type ModelServer, type ScriptStep } from './model-server.js';

/** Codex's approval dialog for a command (0.171.0), as docs/codex-gemini-harness.md shows it. */
export const APPROVAL_DIALOG = 'Would you like to run the following command?';

/**
 * Codex idle at an empty prompt: the `? for shortcuts` hint it shows under an empty composer, and no dialog or busy
 * footer on screen.
 */
export function isCodexIdle(screen: string): boolean {
  return /\? for shortcuts/.test(screen) && !/esc to interrupt|Press enter to confirm|Hooks need review|Would you like to/i.test(screen);
}

/** Codex's composer: the last `›` line on screen (in a dialog, its cursor line). */
const composer = (screen: string): string => screen.split('\n').filter((line) => line.trimStart().startsWith('›')).at(-1) ?? '';

/** Types `text` into Codex's prompt and submits it (`submitLine`: Codex, too, takes a burst of keys for a paste). */
export const submit = (box: Sandbox, server: string, target: string, text: string): Promise<void> => submitLine(box, server, target, text, composer);

/** What the steps the Codex and Gemini tests share (test/helpers/agent-lifecycle.ts) need of Codex; the `y` of its dialog allows once. */
export const CODEX: AgentTraits = { agent: 'codex', idField: 'codex_session_id_own', isIdle: isCodexIdle, submit, screenMs: 60_000, approvalDialog: APPROVAL_DIALOG, approveKey: 'y' };

export type CodexSessionOptions = RealAgentOptions<readonly ScriptStep[]>;

export interface CodexSession extends RealAgentSession<ModelServer> {
  /** `~/.codex` in the sandbox. */
  readonly codexHome: string;
}

/**
 * Answers Codex's start-up question about hooks it has not seen ("Hooks need review", 0.171) with "Trust all and
 * continue", as a person does once after `mam hooks install`; then waits for the idle prompt. The question comes a
 * moment after the prompt is drawn, so with new hooks installed the prompt alone does not mean Codex is ready.
 */
export async function trustHooksAndWait(box: Sandbox, server: string, target: string): Promise<void> {
  await waitForScreen(box, server, target, (text) => text.includes('Hooks need review'), 60_000, 'the hooks review');
  await box.tmux(server, 'send-keys', '-t', target, '2');
  await waitForScreen(box, server, target, (text) => /›\s*2\. Trust all and continue/.test(text), 30_000, 'Trust all selected');
  await box.tmux(server, 'send-keys', '-t', target, 'Enter');
  await waitForScreen(box, server, target, isCodexIdle, 60_000, 'the idle prompt');
}

/** Codex's part of a real-agent session (test/helpers/real-agent.ts; docs/codex-gemini-harness.md). */
const adapter: RealAgentAdapter<readonly ScriptStep[], ModelServer> = {
  agent: 'codex',
  startModel: startCodexModel,
  async prepare(box, workspace, model) {
    await prepareCodexHome(box.home, { baseUrl: model.baseUrl, workspaces: [workspace] });
    const bin = codexBin();
    if (bin === undefined) throw new Error('no native codex binary (see codexProblem)');
    return { PATH: await binOnPath(box.root, 'codex', bin) };
  },
  hooksInstall: ['--agent', 'codex', '--scope', 'user'],
  ready: (box, server, target, hooks) => (hooks ? trustHooksAndWait(box, server, target) : waitForScreen(box, server, target, isCodexIdle, 60_000, 'the idle prompt').then(() => undefined)),
};

/**
 * The real Codex CLI against the scripted Responses API, in a throw-away sandbox and home (docs/codex-gemini-harness.md):
 * the set-up every test in this directory shares. Cleans up after itself if the set-up fails.
 */
export async function startCodexSession(options: CodexSessionOptions): Promise<CodexSession> {
  const session = await startRealAgentSession(adapter, options);
  return { ...session, codexHome: path.join(session.box.home, '.codex') };
}
