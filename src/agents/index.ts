import path from 'node:path';
import { agy } from './agy.js';
import { claude } from './claude.js';
import { codex } from './codex.js';
import { gemini } from './gemini.js';
import type { AgentKind, AgentLauncher, ArtifactRoots } from './types.js';

export type { AgentId, AgentKind, AgentLauncher, ArtifactQuery, ArtifactRoots, Conversation, KeyPress } from './types.js';
export type { AgentHooks, HookScope, IdentityCommand, PanePatterns } from './types.js';

/** The agent kinds `mam` knows. Any other `agent:` value is a plain command with no artifacts. */
export const AGENT_KINDS: readonly AgentKind[] = [claude, codex, gemini, agy];

export function agentKind(name: string): AgentKind | undefined {
  return AGENT_KINDS.find((kind) => kind.id === name);
}

/** The agent kind a tmux pane runs, from its `pane_current_command` (Claude's can be its version number). */
export function agentForPane(command: string): AgentKind | undefined {
  return AGENT_KINDS.find((kind) => kind.matchesPaneCommand(command));
}

/** How to start and stop `agent`: its own module, or for any other command, run it and stop it with Ctrl-C. */
export function launcherFor(agent: string): AgentLauncher {
  return (
    agentKind(agent) ?? {
      command: agent,
      resumeArgs: () => undefined,
      exitKeys: [{ key: 'C-c' }],
      conversationGone: undefined,
      readyPattern: undefined,
    }
  );
}

export function artifactRoots(env: NodeJS.ProcessEnv, home: string): ArtifactRoots {
  const gemini = path.join(home, '.gemini');
  return {
    home,
    claude: env['CLAUDE_CONFIG_DIR'] || path.join(home, '.claude'),
    codex: env['CODEX_HOME'] || path.join(home, '.codex'),
    gemini,
    agy: path.join(gemini, 'antigravity-cli'),
  };
}
