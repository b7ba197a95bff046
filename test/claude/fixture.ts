import { mkdir, realpath } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import { mam, Sandbox } from '../helpers/sandbox.js';
import { REAL_AGENT_ENV } from '../helpers/real-agent.js';
import { claudeEnv, claudeOnPath, prepareClaudeHome, stopClaudes } from './claude-home.js';
import { startModelServer, type ModelServer, type ScriptFunction, type ScriptStep } from './model-server.js';
import { isEmptyIdlePrompt, waitForScreen } from './tmux-screen.js';

export interface ClaudeSessionOptions {
  /** Prefix of the sandbox's temp directory, so a leftover tells which test it came from. */
  readonly prefix: string;
  /** Tag of the private tmux server's name. */
  readonly serverTag: string;
  /** The workspace directory's name under the sandbox root; `mam create` names the session after it. */
  readonly workspace?: string;
  /** What the scripted model answers, given the workspace (a reply may name a path in it). */
  readonly script: (workspace: string) => readonly ScriptStep[] | ScriptFunction;
  /** Added to the environment of everything the test runs. */
  readonly env?: NodeJS.ProcessEnv;
  /** `mam hooks install --scope user` first, so Claude's real hooks run `mam hook`. */
  readonly hooks?: boolean;
  /** `mam create --agent claude` in the workspace, then wait for Claude's empty idle prompt. */
  readonly create?: boolean;
}

export interface ClaudeSession {
  readonly box: Sandbox;
  readonly model: ModelServer;
  /** The sandbox's environment with the `claude` variables and the real `claude` first on PATH. */
  readonly env: NodeJS.ProcessEnv;
  /** Only what `claude` itself needs (claude-home.ts `claudeEnv`), with PATH: for a tmux server's global environment. */
  readonly claudeEnv: Readonly<Record<string, string>>;
  /** The workspace, real path (Claude records the resolved path; a symlinked tmp dir would not match). */
  readonly workspace: string;
  readonly server: string;
  /** tmux target of the session `mam create` starts in the workspace. */
  readonly target: string;
  /** Waits for every claude on the server to exit (they write their files on the way out), then removes it all. */
  dispose(): Promise<void>;
}

/**
 * The real Claude Code CLI against the scripted model server, in a throw-away sandbox and home
 * (docs/claude-harness.md): the set-up every test in this directory shares. Cleans up after itself if the set-up fails.
 */
export async function startClaudeSession(options: ClaudeSessionOptions): Promise<ClaudeSession> {
  const box = await Sandbox.create(options.prefix);
  let model: ModelServer | undefined;
  const server = box.serverName(options.serverTag);
  const dispose = async (): Promise<void> => {
    try {
      await stopClaudes((...args) => box.tmux(server, ...args));
      await model?.close();
    } finally {
      await box.dispose();
    }
  };
  try {
    const created = path.join(box.root, options.workspace ?? 'ws');
    await mkdir(created, { recursive: true });
    const workspace = await realpath(created);
    model = await startModelServer(options.script(workspace));
    await prepareClaudeHome(box.home, { workspaces: [workspace] });
    const claude = { ...claudeEnv({ home: box.home, serverUrl: model.url }), PATH: await claudeOnPath(box.root) };
    const env = box.env({ ...claude, ...REAL_AGENT_ENV, ...options.env });
    const target = `=${path.basename(workspace)}-creator-claude:`;
    if (options.hooks) {
      const installed = await mam(['hooks', 'install', '--scope', 'user'], env);
      expect(installed.code, installed.stderr).toBe(0);
    }
    if (options.create) {
      const made = await mam(['create', '--agent', 'claude', '--workspace', workspace, '--tmux-server', server, '--registry', box.registry], env);
      expect(made.code, made.stderr).toBe(0);
      await waitForScreen(box, server, target, isEmptyIdlePrompt, 30_000, 'the idle prompt');
    }
    return { box, model, env, claudeEnv: claude, workspace, server, target, dispose };
  } catch (error) {
    await dispose().catch(() => undefined);
    throw error;
  }
}
