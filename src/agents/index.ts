import { agy } from './agy.js';
import { claude } from './claude.js';
import { codex } from './codex.js';
import { gemini } from './gemini.js';
import type { AgentKind, AgentLauncher, ArtifactRoots } from './types.js';

export type { AgentKind, AgentLauncher, ArtifactQuery, ArtifactRoots, Conversation, KeyPress } from './types.js';
export type { AgentHooks, HookEvent, HookEventAlias, HookScope, IdentityCommand, LiveState, LiveStateSource, PanePatterns } from './types.js';

/**
 * The table: the agent kinds `mam` knows, one module each. Everything that lists agents (ids, roots, conversation id
 * fields, hook targets) is derived from it. Any other `agent:` value is a plain command with no artifacts.
 */
const BUILT_IN = [claude, codex, gemini, agy] as const;

/** The id of a kind in the table: `claude`, `codex`, `gemini`, `agy`. */
export type AgentId = (typeof BUILT_IN)[number]['id'];

const kinds: AgentKind[] = [...BUILT_IN];

/** Every kind in the table, read when asked, so a kind registered later is seen too. */
export const AGENT_KINDS: readonly AgentKind[] = kinds;

/**
 * Adds a kind to the table until the returned function takes it out again: how a test shows that an agent needs
 * nothing but its module (test/agents/throwaway-agent.test.ts). mam itself registers nothing; a real agent goes
 * into BUILT_IN above, which also reaches `mam-hook`'s built-in event names (scripts/bundle-hook.mjs). Two kinds
 * with one id or one conversation id field would be ambiguous, so that is refused.
 */
export function registerAgentKind(kind: AgentKind): () => void {
  const clash = kinds.find((other) => other.id === kind.id || other.conversationIdField === kind.conversationIdField);
  if (clash) throw new Error(`agent kind ${kind.id} clashes with ${clash.id} (same id or conversation id field)`);
  kinds.push(kind);
  return () => {
    const index = kinds.indexOf(kind);
    if (index >= 0) kinds.splice(index, 1);
  };
}

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

/** What every agent's start needs besides its own variables: where to find programs, whose home, which locale. */
const COMMON_ENVIRONMENT = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'LC_CTYPE'];

/** A name that may hold a secret: never written into the registry, whatever an agent lists. */
const SECRET_NAME = /KEY|TOKEN|SECRET|PASSW|CREDENTIAL|COOKIE|AUTH/i;

/**
 * The variables of `env` recorded as an entry's `start_env` and given to each start of its agent: the common ones
 * and those the agent's module lists (`environment`), without any whose name looks like a secret — a key stays
 * where the user keeps it, and a restore run without it fails loudly in the agent instead of leaking it to a file.
 */
export function startEnvironment(agent: string, env: NodeJS.ProcessEnv): Record<string, string> {
  const wanted = [...COMMON_ENVIRONMENT, ...(agentKind(agent)?.environment ?? [])];
  const picked: Record<string, string> = {};
  for (const [name, value] of Object.entries(env).sort(([a], [b]) => a.localeCompare(b))) {
    if (value === undefined || SECRET_NAME.test(name)) continue;
    if (wanted.some((item) => (item.endsWith('_') ? name.startsWith(item) : name === item))) picked[name] = value;
  }
  return picked;
}
