import path from 'node:path';
import * as z from 'zod';
import { AGENT_NAME_PATTERN, CONVERSATION_ID_PATTERN, PANE_ID_PATTERN, ROLE_PATTERN, SESSION_NAME_PATTERN, TMUX_SERVER_PATTERN, WINDOW_ID_PATTERN } from './patterns.js';

export { AGENT_NAME_PATTERN, CONVERSATION_ID_PATTERN, PANE_ID_PATTERN, ROLE_PATTERN, SESSION_NAME_PATTERN, TMUX_SERVER_PATTERN, WINDOW_ID_PATTERN } from './patterns.js';
export { isoSeconds, STARTING_STALE_MS, timestampMs } from './time.js';

/**
 * The one schema of `agent-sessions.yaml`. Field names are those of the scripts `mam` replaces, listed in
 * docs/registry.md, 'Fields', and relied upon by scripts and skills; entries are loose objects so fields this
 * version does not know survive a rewrite untouched.
 */


export const SessionName = z
  .string()
  .regex(SESSION_NAME_PATTERN, { error: 'session names are 1–128 characters of A–Z a–z 0–9 _ -' });

export const TmuxServerName = z
  .string()
  .regex(TMUX_SERVER_PATTERN, { error: 'tmux server (socket) names are 1–64 characters of A–Z a–z 0–9 _ -' });

export const ConversationId = z
  .string()
  .regex(CONVERSATION_ID_PATTERN, { error: 'conversation ids are letters, digits, _ and - only' });

export const AgentName = z
  .string()
  .regex(AGENT_NAME_PATTERN, { error: 'agent is an agent kind or a command name: 1–64 of A–Z a–z 0–9 _ . -, starting with a letter or digit' });

/** YAML 1.2 reads timestamps as strings; a hand-edited file may still carry a YAML 1.1 date. */
const Timestamp = z.union([z.string().min(1), z.date()]);

export const PaneFacts = z.looseObject({
  pid: z.number().int().nullish(),
  cmd: z.string().nullish(),
  cwd: z.string().nullish(),
  id: z.string().nullish(),
});

export const AgentIdentity = z.looseObject({
  session_id: ConversationId.nullish(),
});

/**
 * `starting`: `mam create`/`resume` wrote the entry before starting the tmux session, so a reconcile pass that
 * sees the new session finds it owned (issue 11). `starting_pid`/`starting_at` say who and since when; an entry
 * left `starting` by a dead creator, or for longer than STARTING_STALE_MS, is repaired by the next pass.
 */
export const SessionStatus = z.enum(['starting', 'running', 'stopped', 'terminated']);
/** `forced`: `mam stop` needed a signal (kill-session's SIGHUP, or SIGKILL) to end the agent; see `stop_rung`. */
export const TerminationMode = z.enum(['graceful', 'forced', 'purge', 'auto-detected']);
/** The rung of `mam stop`'s ladder that ended the agent. */
export const StopRung = z.enum(['exit-keys', 'kill-session', 'sigkill']);
/** How a session went with its tmux server: the host rebooted, or the server died (or was killed) on this boot. */
export const ServerLoss = z.enum(['reboot', 'crash']);
export type ServerLoss = z.infer<typeof ServerLoss>;

/**
 * The fields a conversation id is recorded in, one per agent kind, named by the kind's module (`conversationIdField`
 * in src/agents/: claude_session_id_own, codex_session_id_own, gemini_session_id_own, agy_conversation_id_own;
 * docs/registry.md, 'Fields'). The registry comes before the agents in the code map, so it knows them by this shape,
 * not by name: every such field holds a conversation id or null, and a new agent's field needs nothing here.
 */
export type ConversationIdField = `${string}_session_id_own` | `${string}_conversation_id_own`;
export const CONVERSATION_ID_FIELD = /_(?:session|conversation)_id_own$/;

type ConversationIds = { [Field in ConversationIdField]?: string | null };

export const RegistryEntry = z.looseObject({
  name: SessionName,
  agent: AgentName,
  workspace: z.string().refine((value) => path.isAbsolute(value), { error: 'workspace must be an absolute path' }),
  status: SessionStatus,
  tmux_server: TmuxServerName.nullish(),
  pane: PaneFacts.nullish(),
  start_command: z.string().nullish(),
  /** The same command as an argv, so resume never has to re-parse a shell line. */
  start_argv: z.array(z.string()).nullish(),
  mcp_attachments: z.array(z.unknown()).nullish(),
  // The conversation id fields (claude_session_id_own, …) are checked by name below.
  agent_identities: z.record(z.string(), AgentIdentity.nullish()).nullish(),
  delegate_job_id: z.string().nullish(),
  /** Where that job's file lives (its --registry-dir), so stop and delete can report to it. */
  delegate_job_registry: z.string().nullish(),
  /** Sent `auto_resume_text` (default `continue`) when a usage limit it stopped on resets (docs/status.md, 'Usage limits'). */
  auto_resume: z.boolean().nullish(),
  auto_resume_text: z.string().min(1).refine((text) => !/[\r\n]/.test(text), { error: 'auto_resume_text must be one line' }).nullish(),
  /** The Kanban card this session works (`mam lane`): at most one session per card and agent. */
  kanban_card: z.string().nullish(),
  last_visible_status: z.string().nullish(),
  created_at: Timestamp.nullish(),
  resumed_at: Timestamp.nullish(),
  stopped_at: Timestamp.nullish(),
  stopped_at_epoch: z.number().nullish(),
  stop_reason: z.string().nullish(),
  termination_mode: TerminationMode.nullish(),
  terminated_at: Timestamp.nullish(),
  terminated_at_epoch: z.number().nullish(),
  resumable: z.boolean().nullish(),
  stop_rung: StopRung.nullish(),
  /** The agent's exit status when it died on its own in a session mam started (its pane kept); null when unknown. */
  exit_status: z.number().int().nullish(),
  /** The mam process starting this session (while `status: starting`), and when it began. */
  starting_pid: z.number().int().nullish(),
  starting_at: Timestamp.nullish(),
  /**
   * Where the session last ran, recorded when mam creates, resumes or registers it: the host's boot id and the tmux
   * server process (pid, start). A later look tells a reboot (another boot id) from a crashed server (same boot,
   * server gone or replaced) from a session ended on a live server (docs/lifecycle.md, 'restore').
   */
  boot_id: z.string().nullish(),
  tmux_server_pid: z.number().int().nullish(),
  tmux_server_started_at: Timestamp.nullish(),
  /** Set by reconcile (A) when the session went with its tmux server; cleared when it is resumed. */
  tmux_server_lost: ServerLoss.nullish(),
  /** The environment variables the agent was started with that decide where its files are and what it talks to. */
  start_env: z.record(z.string(), z.string()).nullish(),
}).superRefine(
  (entry, context) => {
    if (typeof entry !== 'object' || entry === null) return;
    for (const [field, value] of Object.entries(entry)) {
      if (!CONVERSATION_ID_FIELD.test(field) || value === null || value === undefined) continue;
      const checked = ConversationId.safeParse(value);
      for (const issue of checked.error?.issues ?? []) context.addIssue({ ...issue, path: [field, ...issue.path] });
    }
  },
  // Also beside other broken fields, as when these were fields of the object: every problem is said at once.
  { when: () => true },
);

/**
 * One entry, read through `parseEntry`. Only the shape of the conversation id fields' names is known here
 * (ConversationIdField); which agent uses which comes from its module.
 */
export type RegistryEntry = z.infer<typeof RegistryEntry> & ConversationIds;

/** Checks one raw entry: a RegistryEntry, or the issues that make it invalid. */
export function parseEntry(raw: unknown): z.ZodSafeParseResult<RegistryEntry> {
  // The refinement above checked every conversation id field, which the zod type cannot name: the result is one.
  return RegistryEntry.safeParse(raw) as z.ZodSafeParseResult<RegistryEntry>;
}

export type SessionStatus = z.infer<typeof SessionStatus>;
export type PaneFacts = z.infer<typeof PaneFacts>;

/**
 * The registry's other section: agent panes under a top-level `tmux_panes:` list (docs/pane.md, 'The tmux_panes:
 * list'; written by src/pane/record.ts). Rows are loose objects like session entries, so fields a person or a
 * newer version adds survive every rewrite.
 */

export const PaneStatus = z.enum(['spawning', 'active', 'ready-to-close', 'closed']);
export type PaneStatus = z.infer<typeof PaneStatus>;

export const PaneRecord = z.looseObject({
  pane_id: z.string().regex(PANE_ID_PATTERN),
  /** The tmux socket name (`-L`); `default` for the default server. */
  tmux_server: z.string().min(1),
  role: z.string().regex(ROLE_PATTERN).nullish(),
  agent: AgentName.nullish(),
  status: PaneStatus,
  session: z.string().nullish(),
  window_id: z.string().regex(WINDOW_ID_PATTERN).nullish(),
  spawner_pane: z.string().regex(PANE_ID_PATTERN).nullish(),
  master_pane: z.string().regex(PANE_ID_PATTERN).nullish(),
  title: z.string().nullish(),
  color: z.string().nullish(),
  workspace: z.string().nullish(),
  task: z.string().nullish(),
  /** The agent's own conversation id (the close-down box "session id saved", docs/pane.md). */
  session_id: ConversationId.nullish(),
  report_back: z.boolean().nullish(),
  task_done: z.boolean().nullish(),
  /** The last delivery receipt: `<stage> <token>` and when. */
  last_delivery: z.string().nullish(),
  created_at: z.string().nullish(),
  closed_at: z.string().nullish(),
  /** How it closed: `exit-keys`, `kill-pane`, or `already-gone`. */
  close_mode: z.string().nullish(),
});
export type PaneRecord = z.infer<typeof PaneRecord>;
