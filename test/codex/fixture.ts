import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { binOnPath, REAL_AGENT_ENV, stopPaneProcesses, submitLine, waitForScreen } from '../helpers/real-agent.js';
import { mam, Sandbox } from '../helpers/sandbox.js';
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

export interface CodexSessionOptions {
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
  /** `mam hooks install --agent codex --scope user` first, so Codex's real hooks run `mam hook`. */
  readonly hooks?: boolean;
  /** `mam create --agent codex` in the workspace, then (trusting the hooks when asked) wait for the idle prompt. */
  readonly create?: boolean;
}

export interface CodexSession {
  readonly box: Sandbox;
  readonly model: ModelServer;
  /** The sandbox's environment with the real `codex` first on PATH. */
  readonly env: NodeJS.ProcessEnv;
  /** The workspace, real path (Codex records the resolved cwd). */
  readonly workspace: string;
  readonly server: string;
  /** The session `mam create` names after the workspace, and its tmux target. */
  readonly name: string;
  readonly target: string;
  /** `~/.codex` in the sandbox. */
  readonly codexHome: string;
  /** Ends every process in the test's panes, then removes it all. */
  dispose(): Promise<void>;
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

/**
 * The real Codex CLI against the scripted Responses API, in a throw-away sandbox and home (docs/codex-gemini-harness.md):
 * the set-up every test in this directory shares. Cleans up after itself if the set-up fails.
 */
export async function startCodexSession(options: CodexSessionOptions): Promise<CodexSession> {
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
    model = await startCodexModel(options.script(workspace));
    await prepareCodexHome(box.home, { baseUrl: model.baseUrl, workspaces: [workspace] });
    const bin = codexBin();
    if (bin === undefined) throw new Error('no native codex binary (see codexProblem)');
    const env = box.env({ PATH: await binOnPath(box.root, 'codex', bin), ...REAL_AGENT_ENV, ...options.env });
    const name = `${path.basename(workspace)}-creator-codex`;
    const target = `=${name}:`;
    if (options.hooks) {
      const installed = await mam(['hooks', 'install', '--agent', 'codex', '--scope', 'user'], env);
      expect(installed.code, installed.stderr).toBe(0);
    }
    if (options.create) {
      const made = await mam(['create', '--agent', 'codex', '--workspace', workspace, '--tmux-server', server, '--registry', box.registry], env);
      expect(made.code, made.stderr).toBe(0);
      if (options.hooks) await trustHooksAndWait(box, server, target);
      else await waitForScreen(box, server, target, isCodexIdle, 60_000, 'the idle prompt');
    }
    return { box, model, env, workspace, server, name, target, codexHome: path.join(box.home, '.codex'), dispose };
  } catch (error) {
    await dispose().catch(() => undefined);
    throw error;
  }
}
