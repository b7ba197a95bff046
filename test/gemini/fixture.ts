import path from 'node:path';
import type { AgentTraits } from '../helpers/agent-lifecycle.js';
import { binOnPath, startRealAgentSession, submitLine, waitForScreen, type RealAgentAdapter, type RealAgentOptions, type RealAgentSession } from '../helpers/real-agent.js';
import type { Sandbox } from '../helpers/sandbox.js';
import { geminiBin, geminiEnv, prepareGeminiHome } from './gemini-home.js';
import { startGeminiModel, type ModelServer, type ScriptStep } from './model-server.js';

/** Gemini CLI's confirmation for a shell command (0.61.0), as docs/codex-gemini-harness.md shows it. */
export const APPROVAL_DIALOG = 'Allow execution of';

/** Gemini idle at its prompt: the input's placeholder, and no busy line or dialog on screen. */
export function isGeminiIdle(screen: string): boolean {
  return /Type your message/.test(screen) && !/esc to cancel|Allow execution of|Apply this change|Do you trust|How would you like to authenticate/i.test(screen);
}

/** Gemini's input: the last line that starts with `>` (the footer lines under it never do). */
const composer = (screen: string): string => screen.split('\n').filter((line) => line.trimStart().startsWith('>')).at(-1) ?? '';

/** Types `text` into Gemini's prompt and submits it (`submitLine`). */
export const submit = (box: Sandbox, server: string, target: string, text: string): Promise<void> => submitLine(box, server, target, text, composer);

/** What the steps the Codex and Gemini tests share (test/helpers/agent-lifecycle.ts) need of Gemini; its dialog has "1. Allow once" selected: Enter allows it. */
export const GEMINI: AgentTraits = { agent: 'gemini', idField: 'gemini_session_id_own', isIdle: isGeminiIdle, submit, screenMs: 120_000, approvalDialog: APPROVAL_DIALOG, approveKey: 'Enter' };

export type GeminiSessionOptions = RealAgentOptions<readonly ScriptStep[]>;

export interface GeminiSession extends RealAgentSession<ModelServer> {
  /** `~/.gemini` in the sandbox. */
  readonly geminiHome: string;
}

/** Gemini's part of a real-agent session (test/helpers/real-agent.ts; docs/codex-gemini-harness.md). */
const adapter: RealAgentAdapter<readonly ScriptStep[], ModelServer> = {
  agent: 'gemini',
  startModel: startGeminiModel,
  async prepare(box, workspace, model) {
    await prepareGeminiHome(box.home, { workspaces: [workspace] });
    const bin = geminiBin();
    if (bin === undefined) throw new Error('no gemini package (see geminiProblem)');
    return { ...geminiEnv(model.url), PATH: await binOnPath(box.root, 'gemini', bin) };
  },
  hooksInstall: ['--agent', 'gemini', '--scope', 'user'],
  ready: (box, server, target) => waitForScreen(box, server, target, isGeminiIdle, 120_000, 'the idle prompt').then(() => undefined),
};

/**
 * The real Gemini CLI against the scripted Gemini API, in a throw-away sandbox and home (docs/codex-gemini-harness.md):
 * the set-up every test in this directory shares. Cleans up after itself if the set-up fails.
 */
export async function startGeminiSession(options: GeminiSessionOptions): Promise<GeminiSession> {
  const session = await startRealAgentSession(adapter, options);
  return { ...session, geminiHome: path.join(session.box.home, '.gemini') };
}
