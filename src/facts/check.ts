import type { AgentFact, AgentStatus, LimitFact, SessionFact, ToolFact } from './schema.js';

/**
 * Reading fact files without zod. `mam hook` runs on every agent event and its whole budget is Node's own
 * start-up (issue 6: at most 1.5× a bare `node -e 0`); importing zod alone costs more than that margin. So the
 * files are checked here by hand, field for field as the zod schemas in facts.ts define them (those stay the
 * format's definition, and test/facts/check.test.ts holds the two to the same answers). Like zod's
 * z.object, unknown keys are dropped and `pid_start` / `transcript_offset` / `pane` / `limit` default to null,
 * `background` to [].
 */

/** Ids that become file names: nothing but letters, digits, `_` and `-`. */
export const FACT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

export const TOOL_FACT_KEYS = ['status', 'tool_name', 'input', 'command'] as const;
export const AGENT_FACT_KEYS = ['status', 'tools', 'agent_type', 'needs_approval_since', 'background', 'limit', 'updated_at'] as const;
export const SESSION_FACT_KEYS = ['session_id', 'agent', 'cwd', 'transcript_path', 'mam_session', 'mam_registry', 'pid', 'pid_start', 'transcript_offset', 'model', 'pane', 'started_at', 'updated_at'] as const;

type Record_ = Readonly<Record<string, unknown>>;

const isRecord = (value: unknown): value is Record_ => typeof value === 'object' && value !== null && !Array.isArray(value);
const isString = (value: unknown): value is string => typeof value === 'string';
const isNullableString = (value: unknown): value is string | null => value === null || typeof value === 'string';
const isNullableInt = (value: unknown): value is number | null => value === null || Number.isSafeInteger(value);
const isNullablePane = (value: unknown): value is { socket: string; id: string } | null => value === null || (isRecord(value) && isString(value['socket']) && isString(value['id']));
const isAgentStatus = (value: unknown): value is AgentStatus => value === 'working' || value === 'needs_approval' || value === 'waiting' || value === 'limited';

function limitFactOf(value: unknown): LimitFact | null | undefined {
  if (value === undefined || value === null) return null;
  if (!isRecord(value)) return undefined;
  const { until, message, resume_sent_at } = value;
  if (!isNullableString(until) || !isNullableString(message) || !isNullableString(resume_sent_at)) return undefined;
  return { until, message, resume_sent_at };
}

function toolFactOf(value: unknown): ToolFact | undefined {
  if (!isRecord(value)) return undefined;
  const { status, tool_name, input, command } = value;
  if ((status !== 'working' && status !== 'needs_approval') || !isString(tool_name) || !isNullableString(input) || !isNullableString(command)) return undefined;
  return { status, tool_name, input, command };
}

export function agentFactOf(value: unknown): AgentFact | undefined {
  if (!isRecord(value)) return undefined;
  const { status, tools, agent_type, needs_approval_since, updated_at } = value;
  const background = value['background'] === undefined ? [] : value['background'];
  const limit = limitFactOf(value['limit']);
  if (!isAgentStatus(status) || !isRecord(tools) || !isNullableString(agent_type) || !isNullableString(needs_approval_since) || !isString(updated_at)) return undefined;
  if (!Array.isArray(background) || !background.every(isString) || limit === undefined) return undefined;
  const checked: Record<string, ToolFact> = {};
  for (const [key, tool] of Object.entries(tools)) {
    const fact = toolFactOf(tool);
    if (!fact) return undefined;
    checked[key] = fact;
  }
  return { status, tools: checked, agent_type, needs_approval_since, background: [...background], limit, updated_at };
}

export function sessionFactOf(value: unknown): SessionFact | undefined {
  if (!isRecord(value)) return undefined;
  const { session_id, agent, cwd, transcript_path, mam_session, pid, model, started_at, updated_at } = value;
  const pid_start = value['pid_start'] === undefined ? null : value['pid_start'];
  const transcript_offset = value['transcript_offset'] === undefined ? null : value['transcript_offset'];
  const pane = value['pane'] === undefined ? null : value['pane'];
  const mamRegistry = value['mam_registry'];
  if (
    !isString(session_id) ||
    !isString(agent) ||
    !isNullableString(cwd) ||
    !isNullableString(transcript_path) ||
    !isNullableString(mam_session) ||
    (mamRegistry !== undefined && !isNullableString(mamRegistry)) ||
    !isNullableInt(pid) ||
    !isNullableInt(pid_start) ||
    !isNullableInt(transcript_offset) ||
    !isNullableString(model) ||
    !isNullablePane(pane) ||
    !isString(started_at) ||
    !isString(updated_at)
  ) {
    return undefined;
  }
  return { session_id, agent, cwd, transcript_path, mam_session, ...(mamRegistry === undefined ? {} : { mam_registry: mamRegistry as string | null }), pid, pid_start, transcript_offset, model, pane: pane === null ? null : { socket: pane.socket, id: pane.id }, started_at, updated_at };
}
