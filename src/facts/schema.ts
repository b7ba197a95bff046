import * as z from 'zod';

/**
 * Per-agent fact files (docs/status.md, 'Fact files'): one file per agent of a session —
 * `{session_id}.agent.{main|agent_id}.json` — plus `{session_id}.session.json` with what the session is.
 * Hooks and the watcher write them; `mam status`, the monitor and the watcher read them.
 */
export const AgentStatus = z.enum(['working', 'needs_approval', 'waiting', 'limited']);
export type AgentStatus = z.infer<typeof AgentStatus>;

export const ToolFact = z.object({
  status: z.enum(['working', 'needs_approval']),
  tool_name: z.string(),
  /** The tool input as canonical JSON: PermissionRequest carries no tool_use_id, so it is matched by this. */
  input: z.string().nullable(),
  command: z.string().nullable(),
});
export type ToolFact = z.infer<typeof ToolFact>;

/**
 * The agent stopped on a usage or rate limit (Claude's StopFailure `rate_limit`; docs/status.md, 'Usage limits'):
 * when it resets, where known, what the agent said, and when `continue` was sent for it (so it is sent once).
 */
export const LimitFact = z.object({
  until: z.string().nullable(),
  message: z.string().nullable(),
  resume_sent_at: z.string().nullable(),
});
export type LimitFact = z.infer<typeof LimitFact>;

export const AgentFact = z.object({
  status: AgentStatus,
  tools: z.record(z.string(), ToolFact),
  agent_type: z.string().nullable(),
  /** Since when something has been waiting for a person's approval (for "needs approval for N minutes"). */
  needs_approval_since: z.string().nullable(),
  /**
   * Work the agent's turn left running (a `run_in_background` shell, a background subagent), one line each: while
   * there is any, the agent counts as `working` though its turn ended (docs/status.md, 'Background work').
   */
  background: z.array(z.string()).default([]),
  /** Set while `status` is `limited`. */
  limit: LimitFact.nullable().default(null),
  updated_at: z.string(),
});
export type AgentFact = z.infer<typeof AgentFact>;

export const SessionFact = z.object({
  session_id: z.string(),
  agent: z.string(),
  cwd: z.string().nullable(),
  transcript_path: z.string().nullable(),
  /** The registry entry (`MAM_SESSION`) this agent runs in, when mam started it. */
  mam_session: z.string().nullable(),
  /** The registry that entry is in (`MAM_REGISTRY`), for what the watcher does on the entry's behalf (auto-resume). */
  mam_registry: z.string().nullable().optional(),
  /** The agent process: the hook's parent, or the first non-shell above it (hooks often run through `sh -c`). */
  pid: z.number().int().nullable(),
  /** The agent's start time (/proc stat field 22), so a reused pid is never taken for the agent. */
  pid_start: z.number().int().nullable().default(null),
  /**
   * The transcript's size when the last hook ran: transcript lines from here on happened after it, so the
   * watcher may act on them (an interrupt before the newest hook is old news).
   */
  transcript_offset: z.number().int().nullable().default(null),
  model: z.string().nullable(),
  /**
   * The tmux pane the agent runs in, from `$TMUX` and `$TMUX_PANE` in the hook's environment: where the watcher
   * looks when a turn ended without any hook or transcript line saying so (docs/status.md, 'What no hook reports').
   */
  pane: z.object({ socket: z.string(), id: z.string() }).nullable().default(null),
  started_at: z.string(),
  updated_at: z.string(),
});
export type SessionFact = z.infer<typeof SessionFact>;

/** Ids that become file names; defined beside the zod-free reader that `mam hook` uses. */
export { FACT_ID_PATTERN } from './check.js';
