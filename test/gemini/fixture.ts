import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { binOnPath, REAL_AGENT_ENV, stopPaneProcesses, submitLine, waitForScreen } from '../helpers/real-agent.js';
import { mam, Sandbox } from '../helpers/sandbox.js';
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

export interface GeminiSessionOptions {
  /** Prefix of the sandbox's temp directory, so a leftover tells which test it came from. */
  readonly prefix: string;
  /** Tag of the private tmux server's name. */
  readonly serverTag: string;
  /** The workspace directory's name under the sandbox root; `mam create` names the session after it. */
  readonly workspace?: string;
  /** What the scripted model answers, given the workspace. */
  readonly script: (workspace: string) => readonly ScriptStep[];
  /** Added to the environment of everything the test runs. */
  readonly env?: NodeJS.ProcessEnv;
  /** `mam hooks install --agent gemini --scope user` first, so Gemini's real hooks run `mam hook`. */
  readonly hooks?: boolean;
  /** `mam create --agent gemini` in the workspace, then wait for the idle prompt. */
  readonly create?: boolean;
}

export interface GeminiSession {
  readonly box: Sandbox;
  readonly model: ModelServer;
  /** The sandbox's environment with the `gemini` variables and the real `gemini` first on PATH. */
  readonly env: NodeJS.ProcessEnv;
  /** The workspace, real path. */
  readonly workspace: string;
  readonly server: string;
  /** The session `mam create` names after the workspace, and its tmux target. */
  readonly name: string;
  readonly target: string;
  /** `~/.gemini` in the sandbox. */
  readonly geminiHome: string;
  /** Ends every process in the test's panes, then removes it all. */
  dispose(): Promise<void>;
}

/**
 * The real Gemini CLI against the scripted Gemini API, in a throw-away sandbox and home (docs/codex-gemini-harness.md):
 * the set-up every test in this directory shares. Cleans up after itself if the set-up fails.
 */
export async function startGeminiSession(options: GeminiSessionOptions): Promise<GeminiSession> {
  const box = await Sandbox.create(options.prefix);
  let model: ModelServer | undefined;
  const server = box.serverName(options.serverTag);
  const dispose = async (): Promise<void> => {
    try {
      await stopPaneProcesses((...args) => box.tmux(server, ...args));
      await model?.close();
    } finally {
      await box.dispose();
    }
  };
  try {
    const created = path.join(box.root, options.workspace ?? 'ws');
    await mkdir(created, { recursive: true });
    const workspace = await realpath(created);
    model = await startGeminiModel(options.script(workspace));
    await prepareGeminiHome(box.home, { workspaces: [workspace] });
    const bin = geminiBin();
    if (bin === undefined) throw new Error('no gemini package (see geminiProblem)');
    const env = box.env({ ...geminiEnv(model.url), PATH: await binOnPath(box.root, 'gemini', bin), ...REAL_AGENT_ENV, ...options.env });
    const name = `${path.basename(workspace)}-creator-gemini`;
    const target = `=${name}:`;
    if (options.hooks) {
      const installed = await mam(['hooks', 'install', '--agent', 'gemini', '--scope', 'user'], env);
      expect(installed.code, installed.stderr).toBe(0);
    }
    if (options.create) {
      const made = await mam(['create', '--agent', 'gemini', '--workspace', workspace, '--tmux-server', server, '--registry', box.registry], env);
      expect(made.code, made.stderr).toBe(0);
      await waitForScreen(box, server, target, isGeminiIdle, 120_000, 'the idle prompt');
    }
    return { box, model, env, workspace, server, name, target, geminiHome: path.join(box.home, '.gemini'), dispose };
  } catch (error) {
    await dispose().catch(() => undefined);
    throw error;
  }
}
