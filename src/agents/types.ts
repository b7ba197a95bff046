import type { ConversationIdField } from '../registry/schema.js';
import type { ArtifactFs } from './fs.js';
import type { AgentId } from './index.js';

/**
 * Everything `mam` knows about one kind of agent lives in one module implementing this interface, so
 * adding an agent touches one file (plus its line in `./index.ts`). Artifact access is read-only.
 */

export interface Conversation {
  readonly id: string;
  /** The artifact that proves the conversation exists (transcript, rollout, chat, database). */
  readonly path: string;
  readonly modifiedMs: number;
  /** When the conversation began, from inside the artifact where it says so. */
  readonly startedMs: number | undefined;
  /** The process that is live in this conversation right now, where the agent records that. */
  readonly livePid?: number | undefined;
}

/**
 * Where each agent keeps its files, by agent id, resolved once from the environment (HOME and overrides) by each
 * kind's `filesDir`. A kind registered at run time (`registerAgentKind`) is found under its id too, as a maybe.
 */
export type ArtifactRoots = { readonly home: string } & { readonly [Id in AgentId]: string } & { readonly [id: string]: string | undefined };

export interface ArtifactQuery {
  readonly roots: ArtifactRoots;
  readonly fs: ArtifactFs;
}

/** A key press sent to an agent's pane: literal text (`send-keys -l`), or a tmux key name (`Enter`, `C-d`). */
export type KeyPress = { readonly text: string } | { readonly key: string };

/**
 * How to start, resume and stop an agent. Every agent kind has one; a command `mam` does not know gets a
 * generic one (start it, stop it with Ctrl-C, no resume).
 */
export interface AgentLauncher {
  /** The executable that starts the agent, looked up on PATH. */
  readonly command: string;
  /**
   * Arguments mam always starts it with, before the user's own (`mam create … -- <args>`); they are recorded in
   * `start_argv`, so a resume keeps them. For what mam needs of the agent's process (Codex: `--no-daemon`).
   */
  readonly launchArgs?: readonly string[];
  /** Extra arguments that resume conversation `id`, or undefined when the agent cannot resume by id. */
  resumeArgs(id: string): readonly string[] | undefined;
  /** What to type to make the agent exit by itself, in order (the first rung of the stop ladder). */
  readonly exitKeys: readonly KeyPress[];
  /** Text the agent prints when asked to resume a conversation that no longer exists. */
  readonly conversationGone: RegExp | undefined;
  /** Screen text that means "idle at its prompt, ready for input"; undefined: a screen that stops changing. */
  readonly readyPattern: RegExp | undefined;
  /** How the agent shows long typed input collapsed into a placeholder instead of echoing it, if it does. */
  readonly collapsedInput?: RegExp;
}

/**
 * How an agent's tmux pane looks while it works, waits on a person's approval, or idles at its prompt
 * (docs/agents.md, 'Pane patterns'), for agents and moments without hooks. Matched against the pane's bottom lines
 * with ANSI codes stripped; src/watch/pane.ts decides (approval beats busy beats idle).
 */
export interface PanePatterns {
  readonly busy: readonly RegExp[];
  readonly approval: readonly RegExp[];
  readonly idle: readonly RegExp[];
  /**
   * A border line of the agent's input box (Claude's `────` rules). When the screen shows the box, busy
   * patterns are looked for only above it, as ccmanager does: the box and its footer can hold stale hints.
   */
  readonly inputBoxRule?: RegExp;
  /**
   * The agent stopped on a usage or rate limit: its error, matched only in the last lines above its input box (an
   * old error further up the conversation is history, not the state).
   */
  readonly limit?: readonly RegExp[];
  /** This agent's approval dialogs fire no hook mam reads, so the pane is looked at even when hooks report. */
  readonly approvalOnlyOnScreen?: boolean;
  /**
   * Answering this agent's approval dialog can fire no hook (Gemini 0.61: Esc), so while its facts say
   * needs_approval the watcher reads the pane and ends the wait once the dialog is gone from it.
   */
  readonly approvalClosesUnseen?: boolean;
}

/**
 * What an agent's own live record says its process is doing: at its prompt (`idle`), in a turn or running a
 * background subagent (`busy`), idle but with a background shell running (`background`), or showing a dialog.
 */
export type LiveState = 'idle' | 'busy' | 'background' | 'dialog';

/** Where an agent keeps a live record of its process, and how to read it (Claude: `<config>/sessions/<pid>.json`). */
export interface LiveStateSource {
  file(pid: number, roots: ArtifactRoots): string;
  /** The record's state; undefined when it says none (an older version that writes no status). */
  parse(record: unknown): LiveState | undefined;
}

/** Where hooks go: the user's own settings, or a workspace's. */
export type HookScope = 'user' | 'project';

/**
 * The hook events `mam hook` turns into a status (src/facts/derive.ts), by Claude's names (docs/agents.md, 'Claude
 * hooks'). Codex uses the same names; an agent with names of its own maps them onto these with `eventAliases`.
 */
export type HookEvent =
  | 'SessionStart'
  | 'UserPromptSubmit'
  | 'PreToolUse'
  | 'PermissionRequest'
  | 'PostToolUse'
  | 'PostToolUseFailure'
  | 'Stop'
  | 'StopFailure'
  | 'SubagentStart'
  | 'SubagentStop'
  | 'SessionEnd';

/**
 * One of the agent's own hook event names and the event it means. Plain data, not a function: `mam-hook` cannot
 * afford to load the agent modules on every event, so scripts/bundle-hook.mjs copies every agent's aliases into it
 * at build time (hookEventAliases in src/facts/hook.ts).
 */
export interface HookEventAlias {
  /** The agent's `hook_event_name`. */
  readonly event: string;
  /** Only when the payload's top-level fields have these values. */
  readonly when?: Readonly<Record<string, string>>;
  readonly means: HookEvent;
}

/**
 * Where an agent keeps its hook settings and the shape of one hook group there, for `mam hooks install` and
 * `mam create --hooks`. Only agents with hook events mam reads have one; the others are watched through the pane.
 * `mam hook` itself never loads this, so its start-up does not pay for loading the agent modules; it gets
 * `eventAliases` built in (hookEventAliases in src/facts/hook.ts).
 */
export interface AgentHooks {
  /** For messages: "running Codex sessions pick up …". */
  readonly label: string;
  /** For `mam hooks --help`: where its settings files are, and what else to know (the events are listed from `events`). */
  readonly help: string;
  /** The events registered, each with its own group holding one `mam hook --agent <agent>` entry. */
  readonly events: readonly string[];
  /** Its own names among `events`, mapped onto the events mam knows; absent when it uses Claude's names. */
  readonly eventAliases?: readonly HookEventAlias[];
  settingsFile(scope: HookScope, roots: ArtifactRoots, projectDir: string): string;
  /** The agent reads comments in its settings file, which mam cannot keep: a file that is not plain JSON says so. */
  readonly settingsMayHaveComments?: boolean;
  /** The one matcher group added for `event`; the agent decides the unit `timeoutSeconds` is written in. */
  group(command: string, timeoutSeconds: number, event: string): Record<string, unknown>;
  /** What else the agent needs before it runs hooks at all, as lines for the user (none when ready). */
  readiness?(roots: ArtifactRoots): Promise<string[]>;
}

/** A slash command typed into an agent, and what the agent prints once it has applied it. */
export interface IdentityCommand {
  readonly command: string;
  readonly confirms: RegExp;
}

export interface AgentKind<Id extends string = string> extends AgentLauncher {
  /** What the registry's `agent:` says, `mam create --agent` takes, and session names end in (`-creator-<id>`). */
  readonly id: Id;
  /** The registry field that holds the entry's current conversation id. */
  readonly conversationIdField: ConversationIdField;
  /** What its pane shows while busy, asking for approval, or idle; all empty: only "the screen stopped changing". */
  readonly panePatterns: PanePatterns;
  /** Whether tmux's `pane_current_command` looks like this agent running. */
  matchesPaneCommand(command: string): boolean;
  /** Where the agent keeps its files (`CLAUDE_CONFIG_DIR` or `~/.claude`, …): its `ArtifactRoots` entry. */
  filesDir(env: NodeJS.ProcessEnv, home: string): string;
  /**
   * Environment variables that decide where the agent keeps its files and which service it talks to: names, or
   * prefixes ending in `_`. Their values at `mam create` are recorded in `start_env` and given to every start of the
   * session, so a resume after a reboot (from cron, a bare shell) finds the same conversations. Names that look like
   * secrets are never recorded (src/agents/index.ts, startEnvironment).
   */
  readonly environment?: readonly string[];
  /** The directory whose absence means "this agent has never run here", for messages. */
  artifactRoot(roots: ArtifactRoots): string;
  /**
   * Conversations that were started in `workspace`, newest first. `sinceMs` lets an agent skip
   * artifacts older than the registry entry that asks.
   */
  conversations(workspace: string, query: ArtifactQuery, sinceMs?: number): Promise<Conversation[]>;
  /** The artifact of conversation `id`, looked for first under `workspace`, or null when it is gone. */
  locate(id: string, workspace: string, query: ArtifactQuery): Promise<string | null>;
  /**
   * Every file and directory that belongs to conversation `id` and to nothing else — what
   * `stop --purge-conversation` deletes. Never a shared file, never another conversation's.
   */
  purgePaths(id: string, workspace: string, query: ArtifactQuery): Promise<string[]>;
  /** Its hook settings, when it has hook events that `mam hook` reads. */
  readonly hooks?: AgentHooks;
  /** Its live record of what its process does, where it keeps one (the watcher reads it for background work). */
  readonly liveState?: LiveStateSource;
  /**
   * The slash commands that give a spawned pane its role's name and colour, in order: sent by the spawner, each
   * its own send (docs/pane.md, 'Where the pane commands come from'). Role and colour are validated before they get
   * here (`[A-Za-z0-9_-]`, the pane colours), so no escaping is needed. Without it a pane gets only its border title.
   */
  identity?(role: string, color: string): readonly IdentityCommand[];
}
