import { startRealAgentSession, type RealAgentAdapter, type RealAgentOptions, type RealAgentSession } from '../helpers/real-agent.js';
import { claudeEnv, claudeOnPath, prepareClaudeHome, stopClaudes } from './claude-home.js';
import { startModelServer, type ModelServer, type ScriptFunction, type ScriptStep } from './model-server.js';
import { isEmptyIdlePrompt, waitForScreen } from './tmux-screen.js';

type Script = readonly ScriptStep[] | ScriptFunction;

export type ClaudeSessionOptions = RealAgentOptions<Script>;

export interface ClaudeSession extends RealAgentSession<ModelServer> {
  /** Only what `claude` itself needs (claude-home.ts `claudeEnv`), with PATH: for a tmux server's global environment. */
  readonly claudeEnv: Readonly<Record<string, string>>;
}

/** Claude's part of a real-agent session (test/helpers/real-agent.ts; docs/claude-harness.md). */
const adapter: RealAgentAdapter<Script, ModelServer> = {
  agent: 'claude',
  startModel: startModelServer,
  async prepare(box, workspace, model) {
    await prepareClaudeHome(box.home, { workspaces: [workspace] });
    return { ...claudeEnv({ home: box.home, serverUrl: model.url }), PATH: await claudeOnPath(box.root) };
  },
  hooksInstall: ['--scope', 'user'],
  ready: (box, server, target) => waitForScreen(box, server, target, isEmptyIdlePrompt, 30_000, 'the idle prompt').then(() => undefined),
  stop: stopClaudes,
};

/**
 * The real Claude Code CLI against the scripted model server, in a throw-away sandbox and home
 * (docs/claude-harness.md): the set-up every test in this directory shares. Cleans up after itself if the set-up fails.
 */
export async function startClaudeSession(options: ClaudeSessionOptions): Promise<ClaudeSession> {
  const session = await startRealAgentSession(adapter, options);
  return { ...session, claudeEnv: session.agentEnv };
}
