import { agy } from './agy.js';
import { claude } from './claude.js';
import { codex } from './codex.js';
import { gemini } from './gemini.js';
import type { AgentKind, AgentLauncher, ArtifactRoots } from './types.js';

export type { AgentKind, AgentLauncher, ArtifactQuery, ArtifactRoots, Conversation, KeyPress } from './types.js';
export type { AgentHooks, HookEvent, HookEventAlias, HookScope, IdentityCommand, PanePatterns } from './types.js';

/**
 * The table: the agent kinds `mam` knows, one module each. Everything that lists agents (ids, roots, conversation id
 * fields, hook targets) is derived from it. Any other `agent:` value is a plain command with no artifacts.
 */
const BUILT_IN = [claude, codex, gemini, agy] as const;

/** The id of a kind in the table: `claude`, `codex`, `gemini`, `agy`. */
export type AgentId = (typeof BUILT_IN)[number]['id'];

export const AGENT_KINDS: readonly AgentKind[] = BUILT_IN;

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

/** Where every kind keeps its files, by id, each from its own `filesDir`. */
export function artifactRoots(env: NodeJS.ProcessEnv, home: string): ArtifactRoots {
  // Every kind in the table contributes its id, which is what ArtifactRoots promises.
  return Object.fromEntries([['home', home], ...AGENT_KINDS.map((kind) => [kind.id, kind.filesDir(env, home)])]) as ArtifactRoots;
}
